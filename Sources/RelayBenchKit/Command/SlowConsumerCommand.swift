import ArgumentParser

/// `slow-consumer`: a share of the players stops reading.
struct SlowConsumerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slow-consumer",
        abstract: "x% of players stop reading: the others' latency with and without them, server RSS, 4000 closes.",
        discussion: """
            Two windows of --duration each over the same rooms: everyone reads, then the slow \
            players stop reading (their sockets stay open; the bench stops reading them at the \
            channel level, with a small SO_RCVBUF and a 536-byte TCP segment size so that the \
            server's queue fills rather than its kernel's send buffer). Slow players never send \
            and are never a room's creator. After the second window the load goes on (unmeasured) \
            until the server has dropped every slow player or 5 s pass; then they read again, \
            which shows whether their connection had ended and with which close code (relay: \
            4000 once its outbound queue overflows, --outbound-queue-bytes (1 MiB: ~250 of the default \
            4,000-byte messages) or --outbound-queue-frames, then a hang-up after a 1 s grace).
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var load: RoomLoadOptions

    @Option(help: "Percent of all players that stop reading.")
    var slowPercent: Double = 25

    @Option(help: "SO_RCVBUF of the slow players in bytes (the kernel doubles it).")
    var slowReceiveBuffer = 4_096

    func validate() throws {
        guard self.slowPercent > 0, self.slowPercent < 100 else {
            throw ValidationError("--slow-percent must be in (0, 100)")
        }
        guard self.slowReceiveBuffer >= 256 else { throw ValidationError("--slow-receive-buffer must be at least 256") }
    }

    func run() async throws {
        try self.common.emit(try await self.scenario().run(in: try self.common.context()))
    }

    func scenario() throws -> SlowConsumerScenario {
        let load = try self.load.scenario(
            name: "slow-consumer", defaultRooms: 50, defaultPlayers: 4, defaultDuration: "15s", defaultPadding: 4_000)
        return SlowConsumerScenario(
            rooms: load.rooms, players: load.players, slowPercent: self.slowPercent, hertz: load.hertz,
            seconds: load.seconds, paddingBytes: load.paddingBytes, message: load.message,
            slowReceiveBufferBytes: self.slowReceiveBuffer, setupConcurrency: load.setupConcurrency,
            drainSeconds: load.drainSeconds, warmupSeconds: load.warmupSeconds)
    }
}

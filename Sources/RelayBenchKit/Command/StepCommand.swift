import ArgumentParser

/// `step`: more rooms each step until the SLO breaks.
struct StepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract:
            "Climbs the room count at a fixed Hz until a step fails (loss, wrong relays, closes, errors, p99 over the SLO); reports the knee.",
        discussion: """
            Steps go --start-rooms, then + --step (or doubling with --step 0), up to --max-rooms. \
            Rooms of earlier steps stay open. A step also fails when the server closed connections, \
            relayed a message twice, to its sender, to another room or to more players than its \
            room-mates, or sent an error. Each step \
            prints both processes' CPU; a bench near 100% of its cores means that step measured \
            the bench, not the server.
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Rooms in the first step, \(OptionBounds.text(OptionBounds.rooms)).")
    var startRooms = 100

    @Option(help: "Rooms added per step (0: double each step).")
    var step = 0

    @Option(help: "Stop after this many rooms, \(OptionBounds.text(OptionBounds.rooms)).")
    var maxRooms = 3_200

    @Option(help: "Players per room, \(OptionBounds.text(OptionBounds.players)).")
    var players = 2

    @Option(help: "player_state messages per second per player, \(OptionBounds.text(OptionBounds.hertz)).")
    var hz: Double = 30

    @Option(help: "Measurement length of each step, e.g. 5s.")
    var stepDuration = "5s"

    @Option(help: "p99 latency objective in milliseconds.")
    var sloMs: Double = 50

    @Option(help: "Extra bytes of padding in each player_state, \(OptionBounds.text(OptionBounds.padding)).")
    var payloadBytes = 0

    @Option(
        help:
            "How long each step waits after its window for relays still in flight, e.g. 5s (at least the SLO); those still missing then count as lost."
    )
    var drain = "1s"

    @Option(help: "How long the players send before each step's window opens, unmeasured, e.g. 2s (0s: not at all).")
    var warmup = "0s"

    func validate() throws {
        try OptionBounds.check(
            rooms: self.maxRooms, roomsOption: "--max-rooms", players: self.players, hertz: self.hz,
            padding: self.payloadBytes)
        try OptionBounds.check(rooms: self.startRooms, roomsOption: "--start-rooms")
        guard self.step >= 0 else { throw ValidationError("--step must be ≥ 0") }
        guard self.startRooms <= self.maxRooms else {
            throw ValidationError("--start-rooms must not exceed --max-rooms")
        }
        guard self.sloMs > 0 else { throw ValidationError("--slo-ms must be positive") }
        _ = try DurationOption.validated(self.stepDuration, name: "step-duration")
        _ = try DurationOption.validated(self.drain, name: "drain")
        _ = try DurationOption.validated(self.warmup, name: "warmup", within: 0...600)
    }

    func scenario() throws -> StepScenario {
        StepScenario(
            startRooms: self.startRooms, stepRooms: self.step, maxRooms: self.maxRooms, players: self.players,
            hertz: self.hz, stepSeconds: try DurationOption.validated(self.stepDuration, name: "step-duration"),
            sloMicros: UInt64(self.sloMs * 1000), paddingBytes: self.payloadBytes,
            drainSeconds: try DurationOption.validated(self.drain, name: "drain"),
            warmupSeconds: try DurationOption.validated(self.warmup, name: "warmup", within: 0...600))
    }

    func run() async throws {
        try self.common.emit(try await self.scenario().run(in: try self.common.context()))
    }
}

import ArgumentParser

/// `join-storm`: connection + create/join arrivals at a fixed rate.
struct JoinStormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join-storm",
        abstract: "N connect + create/join per second for a bounded time: joins/s, failures, join latency.",
        discussion: """
            Arrivals follow the schedule whether or not earlier ones finished (open loop); each \
            creates a room or takes a free place in one, so no room is ever sent more than \
            --players players. Connections stay open until the end (rate × duration of them).
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Arrivals (connect + create or join) per second, up to 20000 (and rate × duration up to 50000).")
    var rate: Double = 200

    @Option(help: "How long arrivals keep coming, 0.1s…600s, e.g. 10s.")
    var duration = "10s"

    @Option(
        help: "max_players of each room, \(OptionBounds.text(OptionBounds.players)); rooms are filled to exactly this.")
    var players = 2

    func validate() throws {
        try self.common.requireNoSendGrid(scenario: "join-storm")
        try OptionBounds.check(players: self.players)
        guard self.rate > 0, self.rate <= 20_000 else { throw ValidationError("--rate must be in (0, 20000]") }
        let seconds = try DurationOption.validated(self.duration, name: "duration")
        guard self.rate * seconds <= 50_000 else {
            throw ValidationError("rate × duration must stay ≤ 50000 connections")
        }
    }

    func run() async throws {
        let scenario = JoinStormScenario(
            rate: self.rate, seconds: try DurationOption.validated(self.duration, name: "duration"),
            players: self.players)
        try self.common.emit(try await scenario.run(in: try self.common.context()))
    }
}

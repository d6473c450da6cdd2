import ArgumentParser

/// `idle`: many silent connections; the server's memory per connection.
struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract:
            "Opens N connections that join rooms and stay silent; server RSS per connection (needs --server-pid).",
        discussion: """
            The bench raises its own open-file limit (setrlimit; the hard limit too when allowed) \
            and spreads connections over 127.0.0.x source addresses when one address's ephemeral \
            ports would not do. The server needs an open-file limit above N as well: start it \
            from a shell with `ulimit -n 65536`. Its --max-rooms (default 10000) bounds N / --players.
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Connections to open (rounded down to whole rooms).")
    var connections = 1_000

    @Option(help: "Players per room, \(OptionBounds.text(OptionBounds.players)).")
    var players = 2

    @Option(help: "How long to hold the idle connections after the last join, e.g. 5s.")
    var hold = "5s"

    @Option(help: "Rooms set up at a time.")
    var setupConcurrency = 100

    func validate() throws {
        try self.common.requireNoSendGrid(scenario: "idle")
        try OptionBounds.check(players: self.players)
        guard (2...100_000).contains(self.connections) else { throw ValidationError("--connections must be 2…100000") }
        _ = try DurationOption.validated(self.hold, name: "hold", within: 0...600)
    }

    func run() async throws {
        let scenario = IdleScenario(
            connections: self.connections, players: self.players,
            holdSeconds: try DurationOption.validated(self.hold, name: "hold", within: 0...600),
            setupConcurrency: self.setupConcurrency)
        try self.common.emit(try await scenario.run(in: try self.common.context()))
    }
}

import ArgumentParser

extension StateMessage: ExpressibleByArgument {}

/// Rooms × players × rate, for `relay`, `fanout` and `slow-consumer` (which differ in their defaults).
struct RoomLoadOptions: ParsableArguments {
    @Option(
        help:
            "Rooms to open, \(OptionBounds.text(OptionBounds.rooms)) (default: relay 100, fanout and slow-consumer 50)."
    )
    var rooms: Int?

    @Option(
        help:
            "Players per room, \(OptionBounds.text(OptionBounds.players)), sent as max_players in create_room (default: relay 2, slow-consumer 4, fanout 8)."
    )
    var players: Int?

    @Option(help: "State messages (--message) per second per player, \(OptionBounds.text(OptionBounds.hertz)).")
    var hz: Double = 30

    @Option(help: "Measurement length, 0.1s…600s, e.g. 30s or 2m (default: 10s; slow-consumer: 15s per phase).")
    var duration: String?

    @Option(
        help:
            "Extra bytes of padding in each state message, \(OptionBounds.text(OptionBounds.padding)) (default: 0; slow-consumer: 4000)."
    )
    var payloadBytes: Int?

    @Option(
        help:
            "The state relay every player sends: player-state, or enemy-state (for an enemy the room does not know, as the game's host sends 20 times a second per enemy it tracks)."
    )
    var message = StateMessage.playerState

    @Option(help: "Rooms set up at a time.")
    var setupConcurrency = 50

    @Option(
        help:
            "How long to wait after the window for relays still in flight, e.g. 1s or 30s; those still missing then count as lost."
    )
    var drain = "1s"

    @Option(
        help: "How long the players send before the measurement window opens, unmeasured, e.g. 5s (0s: not at all).")
    var warmup = "0s"

    func validate() throws {
        try OptionBounds.check(rooms: self.rooms, players: self.players, hertz: self.hz, padding: self.payloadBytes)
        if let duration { _ = try DurationOption.validated(duration, name: "duration") }
        _ = try DurationOption.validated(self.drain, name: "drain")
        _ = try DurationOption.validated(self.warmup, name: "warmup", within: 0...600)
        guard self.setupConcurrency >= 1 else { throw ValidationError("--setup-concurrency must be at least 1") }
    }

    func scenario(
        name: String, defaultRooms: Int, defaultPlayers: Int, defaultDuration: String = "10s", defaultPadding: Int = 0
    ) throws -> RelayScenario {
        RelayScenario(
            name: name, rooms: self.rooms ?? defaultRooms, players: self.players ?? defaultPlayers, hertz: self.hz,
            seconds: try DurationOption.validated(self.duration ?? defaultDuration, name: "duration"),
            paddingBytes: self.payloadBytes ?? defaultPadding, message: self.message,
            setupConcurrency: self.setupConcurrency,
            drainSeconds: try DurationOption.validated(self.drain, name: "drain"),
            warmupSeconds: try DurationOption.validated(self.warmup, name: "warmup", within: 0...600))
    }
}

/// `relay` (the default): broadcast latency of two-player rooms.
struct RelayScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Rooms × players × Hz: every player sends player_state; latency to each room-mate (default scenario)."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var load: RoomLoadOptions

    func run() async throws {
        let scenario = try self.load.scenario(name: "relay", defaultRooms: 100, defaultPlayers: 2)
        try self.common.emit(try await scenario.run(in: try self.common.context()))
    }
}

/// `fanout`: bigger rooms, so each message goes to more recipients.
struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Like relay with bigger rooms (default 8 players): one message, many recipients.",
        discussion: """
            The creator asks for max_players = --players. The server caps it (relay: \
            --max-players-per-room, default 8); a refusal is reported with the server's message.
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var load: RoomLoadOptions

    func run() async throws {
        let scenario = try self.load.scenario(name: "fanout", defaultRooms: 50, defaultPlayers: 8)
        try self.common.emit(try await scenario.run(in: try self.common.context()))
    }
}

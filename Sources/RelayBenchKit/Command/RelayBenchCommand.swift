public import ArgumentParser

/// `relay-bench`: load scenarios against any server speaking the JumpJumpJump room protocol,
/// over real WebSocket connections on loopback. Without a scenario name it runs `relay`, so
/// `relay-bench ws://127.0.0.1:8000 --rooms 500` works as it always did.
public struct RelayBenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "relay-bench",
        abstract: "Load scenarios for JumpJumpJump room servers (loopback only).",
        // One line per paragraph (`\` joins the source lines): the parser wraps each to the
        // terminal, and a line break inside one came out as a ragged short line.
        discussion: """
            Every scenario opens rooms through the real protocol (create_room with max_players, \
            then join_room with the code) and prints a table at the end (--json for machines, \
            with latencies in microseconds where the table has milliseconds).

            Senders keep a fixed rate whatever the server does. Latency is from when a send was \
            due to each room-mate's receipt of the matching state relay, player_state_update or \
            enemy_state_update (HDR histogram, one sample per delivery); "send lag" says how late \
            the bench itself wrote its sends, which is part of it. join-storm's latency is from \
            each connection's scheduled arrival to its room_created or room_joined.

            Pin the server and the benchmark to different cores, and start once the server listens, e.g.
              taskset -c 1 relay --port 8124 --data-dir "$(mktemp -d)" & server=$!
              until curl -s -o /dev/null 127.0.0.1:8124/; do sleep 0.1; done
              taskset -c 0 relay-bench ws://127.0.0.1:8124 --server-pid $server
            """,
        subcommands: [
            RelayScenarioCommand.self, FanoutCommand.self, JoinStormCommand.self, IdleCommand.self,
            SlowConsumerCommand.self, StepCommand.self,
        ],
        defaultSubcommand: RelayScenarioCommand.self
    )

    public init() {}
}

/// Bounds shared by the scenarios' validation and their help, which both write them from here.
enum OptionBounds {
    static let rooms = 1...20_000
    static let players = 2...64
    static let hertz = 0.1...240.0
    static let padding = 0...60_000

    /// `1…20000`, as the help and the errors write a range.
    static func text(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound)…\(range.upperBound)" }

    /// `0.1…240`: whole numbers without `.0`.
    static func text(_ range: ClosedRange<Double>) -> String {
        func written(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
        return "\(written(range.lowerBound))…\(written(range.upperBound))"
    }

    /// Checks each value given; `roomsOption` names the option the room count came from.
    static func check(
        rooms: Int? = nil, roomsOption: String = "--rooms", players: Int? = nil, hertz: Double? = nil,
        padding: Int? = nil
    ) throws {
        if let rooms, !Self.rooms.contains(rooms) {
            throw ValidationError("\(roomsOption) must be \(Self.text(Self.rooms))")
        }
        if let players, !Self.players.contains(players) {
            throw ValidationError("--players must be \(Self.text(Self.players))")
        }
        if let hertz, !Self.hertz.contains(hertz) { throw ValidationError("--hz must be in \(Self.text(Self.hertz))") }
        if let padding, !Self.padding.contains(padding) {
            throw ValidationError("--payload-bytes must be \(Self.text(Self.padding))")
        }
    }
}

import Foundation
import SeededRandom
import Testing

/// Many rooms at once, every player sending a burst of mixed messages at the same time: the
/// `player_state` fast path (in place, or forwarded to a room on the other event loop), `chat` and
/// `game_action` through the reader, and refused messages. Every player must get, from each
/// room-mate, exactly that player's messages meant for it, in the order sent, and its own chats
/// and errors in order; nothing from another room, nothing twice, nothing lost.
@Suite("Rooms under concurrent traffic")
struct ConcurrentRoomsTests {
    static let rooms = 12
    static let messagesPerPlayer = 150

    @Test func everyPlayerGetsItsRoomMatesMessagesInOrder() async throws {
        try await withRelayServer { port, _ in
            var random = SplitMix64(seed: 20_261_130)
            var players: [Player] = []
            for room in 0..<Self.rooms {
                players += try await Self.openRoom(port: port, index: room)
            }
            let plans = players.map { _ in (0..<Self.messagesPerPlayer).map { _ in Sent(random.next() % 4) } }

            // Everyone sends at once...
            for (player, plan) in zip(players, plans) {
                for (sequence, sent) in plan.enumerated() { player.socket.send(sent.message(sequence)) }
            }
            // ...and everyone reads what is meant for them.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for player in players {
                    let expected = Self.expected(for: player, among: players, plans: plans)
                    group.addTask {
                        var received: [String] = []
                        while received.count < expected.count {
                            received.append(Self.describe(try await player.socket.next(), receiver: player.id))
                        }
                        // Different senders' messages interleave in any way; each sender's keep their order.
                        #expect(Self.bySender(received) == Self.bySender(expected), "\(player.id)")
                    }
                }
                try await group.waitForAll()
            }
            // Nothing more is on its way to anyone.
            for player in players {
                player.socket.send(["type": "ping"])
                try await player.socket.expect("pong")
            }
        }
    }

    struct Player {
        let socket: TestSocket
        let id: String
        let room: Int
    }

    /// What a player sends: a `player_state`, a `chat`, a `game_action`, or a `player_state` the
    /// server refuses.
    enum Sent {
        case state, chat, action, refused

        init(_ draw: UInt64) { self = [.state, .chat, .action, .refused][Int(draw)] }

        func message(_ sequence: Int) -> [String: Any] {
            switch self {
            case .state: ["type": "player_state", "state": ["x": sequence]]
            case .chat: ["type": "chat", "message": "m\(sequence)"]
            case .action: ["type": "game_action", "action": "jump", "data": ["n": sequence]]
            case .refused: ["type": "player_state", "state": ["x": "left"]]
            }
        }

        /// How the receiver sees it, if it is meant for them: the room's chat (sender included),
        /// the others' states and actions, the sender's own errors.
        func seen(_ sequence: Int, from sender: String, by receiver: String) -> String? {
            switch (self, sender == receiver) {
            case (.chat, _): "\(sender) chat m\(sequence)"
            case (.state, false): "\(sender) state \(sequence)"
            case (.action, false): "\(sender) action \(sequence)"
            case (.refused, true): "\(receiver) error invalid_field"
            default: nil
            }
        }
    }

    /// A message as ``Sent/seen(_:from:by:)`` puts it.
    static func describe(_ message: [String: Any], receiver: String) -> String {
        let sender = message["player_id"] as? String ?? "?"
        switch message["type"] as? String {
        case "chat": return "\(sender) chat \(message["message"] as? String ?? "?")"
        case "player_state_update": return "\(sender) state \((message["state"] as? [String: Any])?["x"] as? Int ?? -1)"
        case "game_action": return "\(sender) action \((message["data"] as? [String: Any])?["n"] as? Int ?? -1)"
        case "error": return "\(receiver) error \(message["code"] as? String ?? "?")"
        default: return "unexpected \(message)"
        }
    }

    /// Lines grouped by their first word (the sender), each group in the order given.
    static func bySender(_ lines: [String]) -> [Substring: [String]] {
        Dictionary(grouping: lines) { $0.prefix { $0 != " " } }
    }

    /// What `receiver` must get: each room-mate's messages meant for it, in send order.
    static func expected(for receiver: Player, among players: [Player], plans: [[Sent]]) -> [String] {
        zip(players, plans).filter { $0.0.room == receiver.room }.flatMap { sender, plan in
            plan.enumerated().compactMap { $1.seen($0, from: sender.id, by: receiver.id) }
        }
    }

    /// A room of three: its host and two guests, their welcome messages read.
    static func openRoom(port: Int, index: Int) async throws -> [Player] {
        let host = TestSocket.connect(port: port)
        host.send(["type": "create_room", "room_name": "r\(index)", "player_name": "H", "max_players": 3])
        let hostID = try #require(try await host.expect("player_joined")["player_id"] as? String)
        let code = try #require(try await host.expect("room_created")["room_id"] as? String)
        var players = [Player(socket: host, id: hostID, room: index)]
        for _ in 0..<2 {
            let guest = TestSocket.connect(port: port, path: "/ws/room/\(code)")
            guest.send(["type": "join_room", "player_name": "G"])
            try await guest.expect("player_joined")
            let id = try #require(try await guest.expect("room_joined")["player_id"] as? String)
            for player in players { try await player.socket.expect("player_joined") }
            players.append(Player(socket: guest, id: id, room: index))
        }
        return players
    }
}

import NIOCore

/// How a bench connection enters a room.
enum Greeting: Sendable, Equatable {
    /// Open a room for `maxPlayers` (sent as `max_players`).
    case create(playerName: String, maxPlayers: Int)
    /// Join the room with this code.
    case join(code: String, playerName: String)

    /// The WebSocket path to connect to.
    var path: String {
        switch self {
        case .create: "/ws/room/new"
        case .join(let code, _): "/ws/room/\(code)"
        }
    }

    /// The first message: `create_room` or `join_room`.
    var text: String {
        switch self {
        case .create(let name, let maxPlayers):
            #"{"type":"create_room","room_name":"bench","player_name":"\#(name)","max_players":\#(maxPlayers)}"#
        case .join(let code, let name):
            #"{"type":"join_room","room_id":"\#(code)","player_name":"\#(name)"}"#
        }
    }
}

/// The state relay every bench player sends: `player_state` (the server relays it on its fast
/// path) or `enemy_state` for an enemy the room does not know (as the game's host sends for
/// each enemy it tracks, 20 times a second: most of a real game's messages).
enum StateMessage: String, CaseIterable, Codable, Sendable {
    case playerState = "player-state"
    case enemyState = "enemy-state"
}

/// Writes state messages (``StateMessage``) into a buffer without building strings: a position
/// with a fraction (so the server's float rounding runs), the time `t` it was due in microseconds,
/// the sequence number `s` within the sender's stream `k` (one per connection and start of sending,
/// so a receiver can tell a repeated message from a new one), and optional padding.
struct StateMessageEncoder: Sendable {
    private let padding: [UInt8]
    let message: StateMessage

    static let leaveRoom = #"{"type":"leave_room"}"#

    init(paddingBytes: Int, message: StateMessage = .playerState) {
        self.message = message
        self.padding =
            paddingBytes > 0
            ? Array(#","pad":""#.utf8) + Array(repeating: UInt8(ascii: "p"), count: paddingBytes) + [UInt8(ascii: "\"")]
            : []
    }

    /// Bytes of one message, for sizing buffers.
    var approximateSize: Int { 192 + self.padding.count }

    func write(sequence: Int, stream: Int64, dueAtMicros: Int64, into buffer: inout ByteBuffer) {
        switch self.message {
        case .playerState: buffer.writeStaticString(#"{"type":"player_state","state":{"x":"#)
        case .enemyState: buffer.writeStaticString(#"{"type":"enemy_state","enemy_id":"bench_enemy","state":{"x":"#)
        }
        buffer.writeDecimal(Int64(sequence % 800))
        buffer.writeStaticString(
            #".123,"y":550.5,"velocity_x":1.25,"velocity_y":0,"facing_right":true,"is_jumping":false,"t":"#)
        buffer.writeDecimal(dueAtMicros)
        buffer.writeStaticString(#","s":"#)
        buffer.writeDecimal(Int64(sequence))
        buffer.writeStaticString(#","k":"#)
        buffer.writeDecimal(stream)
        buffer.writeBytes(self.padding)
        buffer.writeStaticString("}}")
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal ASCII, without going through a `String`.
    mutating func writeDecimal(_ value: Int64) {
        if value < 0 { self.writeInteger(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { output in
            var index = digits
            repeat {
                index -= 1
                output[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            return digits
        }
    }
}

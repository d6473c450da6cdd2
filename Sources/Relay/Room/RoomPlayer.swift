/// A member of a room: identity, lobby flags and the server's copy of their game state.
public struct RoomPlayer: Sendable {
    public let id: String
    public let name: String
    /// The player's number (`player_number`), from 1: the lowest no other member had when they
    /// came, theirs until they go. The game's client keeps the one it was told at its join, so a
    /// number never changes under a member, and two members never share one.
    public let number: Int
    public var isReady = false
    public var isConnected = true
    /// Proves a later `reconnect` is this player; a new one is issued on each reconnect.
    public var reconnectToken: String
    /// The token the player last reconnected with, still good until they use a newer one: a
    /// `reconnected` lost with the connection that carried it must not lock the player out.
    public var lastUsedToken: String?
    /// Authoritative counters, changed only by `collect_item`.
    public var score: Int64 = 0
    public var coins: Int64 = 0
    /// Position and looks as last reported by `player_state` (known keys only).
    public var state: PlayerState
    /// Handlers' own values for this member (``RoomState/subscript(customOf:)``).
    public internal(set) var custom = CustomValues()

    /// The keys `player_state` may change, with the JSON kind each must have.
    public static let movableKeys: [String: MovableKind] = [
        "x": .number, "y": .number, "velocity_x": .number, "velocity_y": .number, "health": .number,
        "lives": .number, "checkpoint": .number, "weapon": .string, "skin": .string, "is_alive": .bool,
        "facing_right": .bool, "is_jumping": .bool, "is_shooting": .bool,
    ]

    /// The longest `skin` or `weapon` a `player_state` may set, in Unicode code points (as names
    /// are counted): every `room_info` lists each player's skin, and `GET /api/rooms` lists every
    /// open room's `room_info`.
    public static let maxStringLength = 64

    /// Keys a `player_state` may never carry to other players: they name who someone is.
    public static let identityKeys: Set<String> = ["player_id", "player_name", "player_number", "is_ready"]

    /// The JSON kind of a movable key.
    public enum MovableKind: Sendable {
        case number, string, bool

        func accepts(_ value: JSONValue) -> Bool {
            switch self {
            case .number: value.isNumber
            case .string: value.stringValue != nil
            case .bool: value.boolValue != nil
            }
        }
    }

    /// A new player; `number` (from 1) is theirs while they are a member, and picks their start.
    public init(id: String, name: String, number: Int, reconnectToken: String) {
        self.id = id
        self.name = name
        self.number = number
        self.reconnectToken = reconnectToken
        self.state = PlayerState(number: number)
    }

    /// The skin shown in `room_info`.
    public var skin: String { self.state["skin"]?.stringValue ?? "alienGreen" }
}

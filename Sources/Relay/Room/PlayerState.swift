/// The server's copy of a player's position and looks: one slot per key `player_state` may
/// change (``RoomPlayer/movableKeys``), in ``keys`` order.
///
/// Fixed slots instead of a dictionary: the relay stores up to 13 values for every
/// `player_state`, and a slot write costs no hashing and no allocation. (An `InlineArray`
/// made every write copy the whole state, and every `RoomPlayer` 384 bytes long.)
public struct PlayerState: Sendable, Equatable {
    /// The movable keys, sorted; a key's position is its slot.
    public static let keys: [String] = RoomPlayer.movableKeys.keys.sorted()
    /// The kind each slot's value must have.
    public static let kinds: [RoomPlayer.MovableKind] = keys.map { RoomPlayer.movableKeys[$0]! }
    private static let slots: [String: Int] = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })

    private var values: ContiguousArray<JSONValue>

    /// A player's state before their first `player_state`; `number` is their player number.
    init(number: Int) {
        let start: [String: JSONValue] = [
            "x": .number(number == 1 ? 400 : 500), "y": .number(550), "velocity_x": .number(0),
            "velocity_y": .number(0), "health": .integer(100), "lives": .integer(3),
            "skin": .string(number == 1 ? "alienGreen" : "alienPink"), "weapon": .string("raygun"),
            "is_alive": .bool(true), "facing_right": .bool(true), "is_jumping": .bool(false),
            "is_shooting": .bool(false), "checkpoint": .integer(0),
        ]
        self.values = ContiguousArray(Self.keys.map { start[$0]! })
    }

    /// The slot of `skin`, the one movable key every `room_info` lists.
    public static let skinSlot = slots["skin"]!

    /// The slot of a movable `key`; nil for any other key.
    public static func slot(of key: String) -> Int? { Self.slots[key] }

    /// The value in `slot` (a position in ``keys``).
    public subscript(slot slot: Int) -> JSONValue {
        get { self.values[slot] }
        set { self.values[slot] = newValue }
    }

    /// The value of a movable `key`; nil for any other key. Only movable keys are kept: setting
    /// another, or nil, changes nothing. (It trapped: a handler forwarding a key its client chose,
    /// `"hat"`, stopped the server and every room on it.) Nothing here checks a value's kind or
    /// length: ``RoomState/applyPlayerState(_:_:)`` does, as for `player_state`.
    public subscript(key: String) -> JSONValue? {
        get { Self.slot(of: key).map { self.values[$0] } }
        set {
            guard let slot = Self.slot(of: key), let newValue else { return }
            self.values[slot] = newValue
        }
    }

    /// Every key with its value, as `game_state` reports it.
    public var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields.reserveCapacity(Self.keys.count)
        for slot in Self.keys.indices { fields[Self.keys[slot]] = self.values[slot] }
        return fields
    }
}

/// The key of a value a handler of its own keeps in a room, or for one member (``CustomValues``).
/// Each key is a type, so two handlers' values never mix:
///
/// ```swift
/// enum KickVote: CustomValueKey { static let defaultValue: String? = nil }  // whom a member votes out
/// room.state[customOf: playerID][KickVote.self] = target
/// ```
public protocol CustomValueKey {
    associatedtype Value: Sendable
    /// What the key reads while nothing is stored under it.
    static var defaultValue: Value { get }
}

/// Values that handlers of message types of their own keep, each under its key type: the room's
/// (``RoomState/custom``) last as long as the room, a member's (``RoomState/subscript(customOf:)``)
/// as long as they are a member, through drops and reconnects. So nothing is left behind when a
/// player leaves or the room closes, and a room that later gets the same code starts empty.
///
/// They count against no limit of the server: keep them small, and bounded by what a room holds.
public struct CustomValues: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    /// The value under `key`, or its default.
    public subscript<Key: CustomValueKey>(key: Key.Type) -> Key.Value {
        get { self.values[ObjectIdentifier(key)].flatMap { $0 as? Key.Value } ?? Key.defaultValue }
        set { self.values[ObjectIdentifier(key)] = newValue }
    }

    /// Forgets the value under `key`: it reads its default again.
    public mutating func removeValue<Key: CustomValueKey>(for key: Key.Type) {
        self.values[ObjectIdentifier(key)] = nil
    }

    /// Whether nothing is stored. A key set to `nil` (an optional value) counts as stored;
    /// ``removeValue(for:)`` forgets it.
    public var isEmpty: Bool { self.values.isEmpty }
}

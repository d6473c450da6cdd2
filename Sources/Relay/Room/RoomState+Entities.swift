import OrderedCollections

// The rules every enemy, coin and power-up the room keeps must pass (its id, its size), and new ids.
extension RoomState {
    /// Refuses an entity larger than ``RelayLimits/maxEntityBytes`` as JSON: the room keeps it
    /// and sends it again in every sync and game state. Returns its size.
    func checkSize(of fields: [String: JSONValue], kind: String) throws(RelayError) -> Int {
        let limit = self.limits.maxEntityBytes
        let size = JSONValue.object(fields).writtenSizeBound(upTo: limit)
        guard size <= limit else { throw .limitExceeded("bytes in one \(kind)", limit: limit) }
        return size
    }

    /// Refuses an entity or item id longer than ``maxEntityIDLength`` code points: every id a
    /// client names, kept by the room or only relayed and echoed.
    public static func checkID(_ id: String, field: String) throws(RelayError) {
        // No more bytes than the limit means no more code points either: the usual case, and
        // counted at once (the relays of `enemy_state` check every one).
        guard id.utf8.count <= Self.maxEntityIDLength || id.unicodeScalars.count <= Self.maxEntityIDLength else {
            throw .tooLong(field, limit: Self.maxEntityIDLength)
        }
    }

    /// The longest id of an enemy, coin or power-up, in Unicode code points.
    public static let maxEntityIDLength = 128

    /// The id `given` for a spawned entity or, when it has none, the next from the room's counter
    /// that names none of the kind the room keeps (`tracked`, or `remembered` as collected or
    /// departed): a host naming its own `coin_0` would otherwise have a later unnamed coin replace
    /// it, or bring it back once collected, to be collected and paid again.
    mutating func newEntityID<Value>(
        _ given: JSONValue?, prefix: String, field: String,
        notIn tracked: KeyPath<RoomState, OrderedDictionary<String, Value>>,
        or remembered: KeyPath<RoomState, RememberedIDs>
    ) throws(RelayError) -> String {
        switch given {
        case .string(let id) where !id.isEmpty:
            try Self.checkID(id, field: field)
            return id
        case nil, .null, .string:
            // Each id passed over is one a client named: O(1) a spawn on average.
            while true {
                let id = "\(prefix)_\(self.spawnCounter)"
                self.spawnCounter += 1
                if self[keyPath: tracked][id] == nil, !self[keyPath: remembered].contains(id) { return id }
            }
        default:
            throw .invalidField(field, expected: "a string")
        }
    }
}

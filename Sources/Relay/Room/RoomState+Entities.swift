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

    /// The id `given` for a spawned entity, or a new one from the room's counter when it has none.
    mutating func newEntityID(_ given: JSONValue?, prefix: String, field: String) throws(RelayError) -> String {
        switch given {
        case .string(let id) where !id.isEmpty:
            try Self.checkID(id, field: field)
            return id
        case nil, .null, .string:
            defer { self.spawnCounter += 1 }
            return "\(prefix)_\(self.spawnCounter)"
        default:
            throw .invalidField(field, expected: "a string")
        }
    }
}

import OrderedCollections

/// A coin or power-up the room keeps, with its size as JSON (what it holds of the room's and the
/// server's entity bytes).
struct TrackedItem: Sendable {
    var fields: [String: JSONValue]
    var bytes: Int
}

// What the room's enemies, coins and power-ups hold, as JSON: at most
// ``RelayLimits/maxEntityBytesPerRoom``, and with every other room's at most the server's
// (``EntityMemory``). A change is charged before it is made, so a refused one changes nothing.
extension RoomState {
    /// Charges `delta` more bytes (refused past the room's or the server's cap), or gives back
    /// what a negative `delta` frees.
    mutating func chargeEntityBytes(_ delta: Int) throws(RelayError) {
        guard delta > 0 else { return self.releaseEntityBytes(-delta) }
        let roomLimit = self.limits.maxEntityBytesPerRoom
        guard self.entityBytes + delta <= roomLimit else {
            throw .limitExceeded("bytes of enemies, coins and power-ups in this room", limit: roomLimit)
        }
        if let memory = self.entityMemory, !memory.reserve(delta) {
            throw .limitExceeded("bytes of enemies, coins and power-ups on this server", limit: memory.limit)
        }
        self.entityBytes += delta
    }

    /// Charges `delta` bytes without a cap: for what is never refused (a death's fields), at
    /// most an entity's few more bytes.
    mutating func forceEntityBytes(_ delta: Int) {
        guard delta > 0 else { return self.releaseEntityBytes(-delta) }
        self.entityMemory?.force(delta)
        self.entityBytes += delta
    }

    mutating func releaseEntityBytes(_ bytes: Int) {
        guard bytes > 0 else { return }
        self.entityMemory?.release(bytes)
        self.entityBytes -= bytes
    }

    /// Forgets every enemy, coin and power-up, giving their bytes back: for a room that closes.
    mutating func forgetEntities() {
        self.enemies.removeAll()
        self.coins.removeAll()
        self.powerups.removeAll()
        self.releaseEntityBytes(self.entityBytes)
    }

    /// Keeps a coin or power-up whose bytes the caller charged, less those of the one it
    /// replaces; a new one in a full list pushes out the oldest, whose bytes are given back.
    mutating func put(
        _ item: TrackedItem, for id: String,
        in list: WritableKeyPath<RoomState, OrderedDictionary<String, TrackedItem>>
    ) {
        if self[keyPath: list][id] == nil, self[keyPath: list].count >= self.limits.maxEntitiesPerRoom {
            self.releaseEntityBytes(self[keyPath: list].removeFirst().value.bytes)
        }
        self[keyPath: list][id] = item
    }

    /// Forgets a coin or power-up, giving its bytes back.
    mutating func forget(_ id: String, in list: WritableKeyPath<RoomState, OrderedDictionary<String, TrackedItem>>) {
        if let item = self[keyPath: list].removeValue(forKey: id) { self.releaseEntityBytes(item.bytes) }
    }
}

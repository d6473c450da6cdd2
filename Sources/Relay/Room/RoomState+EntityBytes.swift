import OrderedCollections

/// A coin or power-up the room keeps, with its size as JSON (what it holds of the room's and the
/// server's entity bytes).
struct TrackedItem: Sendable {
    var fields: [String: JSONValue]
    var bytes: Int
}

// What the room's enemies, coins and power-ups hold, as JSON: at most
// ``RelayLimits/maxEntityBytesPerRoom``, and past ``RelayLimits/entityBytesEveryRoomMayHold``,
// with every other room's, at most the server's (``MemoryBudget``). A change is charged before
// it is made, so a refused one changes nothing.
extension RoomState {
    /// Charges `delta` more bytes (refused past the room's cap, or past the server's for the
    /// bytes above what every room may hold), or gives back what a negative `delta` frees.
    ///
    /// The bytes every room may hold are taken from the server's total whether it has room or
    /// not: a client filling the server's total with rooms of its own would otherwise have every
    /// other room's spawns, and `enemy_state`s that grow an enemy by a digit, refused.
    mutating func chargeEntityBytes(_ delta: Int) throws(RelayError) {
        guard delta > 0 else { return self.releaseEntityBytes(-delta) }
        let roomLimit = self.limits.maxEntityBytesPerRoom
        guard self.entityBytes + delta <= roomLimit else {
            throw .limitExceeded("bytes of enemies, coins and power-ups in this room", limit: roomLimit)
        }
        if let memory = self.entityMemory {
            let floor = self.limits.entityBytesEveryRoomMayHold
            guard memory.reserve(growingFrom: self.entityBytes, to: self.entityBytes + delta, floor: floor) else {
                throw .limitExceeded("bytes of enemies, coins and power-ups on this server", limit: memory.limit)
            }
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

    /// Forgets every enemy, coin and power-up, and every id remembered, giving their bytes back:
    /// for a room that closes.
    mutating func forgetEntities() {
        self.enemies.removeAll()
        self.coins.removeAll()
        self.powerups.removeAll()
        self.releaseEntityBytes(self.entityBytes)
        self.forgetRememberedIDs()
    }

    /// The bytes keeping a coin or power-up of `bytes` under `id` adds: less those of the one it
    /// replaces or, a new one in a full list, of the oldest, which it pushes out (``put(_:for:in:)``).
    func bytesAdded(
        _ bytes: Int, for id: String, in list: KeyPath<RoomState, OrderedDictionary<String, TrackedItem>>
    ) -> Int {
        let items = self[keyPath: list]
        if let replaced = items[id] { return bytes - replaced.bytes }
        guard items.count >= self.limits.maxEntitiesPerRoom, let oldest = items.values.first else { return bytes }
        return bytes - oldest.bytes
    }

    /// Keeps a coin or power-up, the change in bytes already charged (``bytesAdded(_:for:in:)``):
    /// it replaces the one under its id or, a new one in a full list, pushes out the oldest.
    mutating func put(
        _ item: TrackedItem, for id: String,
        in list: WritableKeyPath<RoomState, OrderedDictionary<String, TrackedItem>>
    ) {
        if self[keyPath: list][id] == nil, self[keyPath: list].count >= self.limits.maxEntitiesPerRoom {
            self[keyPath: list].removeFirst()
        }
        self[keyPath: list][id] = item
    }

    /// Forgets a coin or power-up, giving its bytes back.
    mutating func forget(_ id: String, in list: WritableKeyPath<RoomState, OrderedDictionary<String, TrackedItem>>) {
        if let item = self[keyPath: list].removeValue(forKey: id) { self.releaseEntityBytes(item.bytes) }
    }
}

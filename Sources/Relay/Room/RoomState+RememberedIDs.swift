// The ids a room remembers so that nothing comes back (``RememberedIDs``: collected coins and
// power-ups, departed enemies) count toward the server's total (``MemoryBudget``) as its
// entities do, at what they hold in memory (``RememberedIDs/bytesHeld``). Each set is bounded,
// but a lone client collecting made-up ids made its room hold ~2 MB of them, past the machine's
// memory in 10,000 rooms. The first ``RelayLimits/rememberedIDBytesEveryRoomMayHold`` of every
// room count whatever the total; past that, a room that finds the total full forgets its oldest
// ids rather than refuse a collection.
extension RoomState {
    /// Remembers `id` in `set`; false if it already was.
    mutating func remember(_ id: String, in set: WritableKeyPath<RoomState, RememberedIDs>) -> Bool {
        guard self[keyPath: set].insert(id) else { return false }
        self.chargeRememberedIDs()
        return true
    }

    mutating func remember(contentsOf ids: some Sequence<String>, in set: WritableKeyPath<RoomState, RememberedIDs>) {
        self[keyPath: set].insert(contentsOf: ids)
        self.chargeRememberedIDs()
    }

    /// Forgets `id` in `set`, if it is there.
    mutating func forgetRemembered(_ id: String, in set: WritableKeyPath<RoomState, RememberedIDs>) {
        self[keyPath: set].remove(id)
        self.chargeRememberedIDs()
    }

    /// Forgets every remembered id, giving their bytes back: for a room that closes.
    mutating func forgetRememberedIDs() {
        for set in Self.rememberedSets { self[keyPath: set].removeAll() }
        self.chargeRememberedIDs()
    }

    private static let rememberedSets: [any WritableKeyPath<RoomState, RememberedIDs> & Sendable] = [
        \.collectedCoins, \.collectedPowerups, \.departedEnemies,
    ]

    /// What the remembered ids hold now.
    private var rememberedIDBytesNow: Int {
        Self.rememberedSets.reduce(0) { $0 + self[keyPath: $1].bytesHeld }
    }

    /// Charges the change in what the remembered ids hold, or gives back what they no longer
    /// do. Past the room's share, while the server's total has no room, forgets the oldest
    /// quarter of the largest set until they fit; never a set's newest id, so a collection is
    /// remembered at least until the next one (held beyond the total when nothing else is left).
    private mutating func chargeRememberedIDs() {
        var held = self.rememberedIDBytesNow
        guard let memory = self.entityMemory else {
            self.rememberedIDBytes = held
            return
        }
        let floor = self.limits.rememberedIDBytesEveryRoomMayHold
        while held > self.rememberedIDBytes {
            if memory.reserve(growingFrom: self.rememberedIDBytes, to: held, floor: floor) {
                self.rememberedIDBytes = held
                return
            }
            let forgettable = Self.rememberedSets.filter { self[keyPath: $0].count > 1 }
            guard let largest = forgettable.max(by: { self[keyPath: $0].bytesHeld < self[keyPath: $1].bytesHeld })
            else {
                memory.force(held - self.rememberedIDBytes)
                self.rememberedIDBytes = held
                return
            }
            self[keyPath: largest].forgetOldestQuarter()
            held = self.rememberedIDBytesNow
        }
        memory.release(self.rememberedIDBytes - held)
        self.rememberedIDBytes = held
    }
}

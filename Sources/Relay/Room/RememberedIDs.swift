import OrderedCollections

/// Ids a room keeps so that nothing comes back (collected coins and power-ups, departed enemies),
/// oldest first, bounded in count and in UTF-8 bytes. Clients choose the ids, up to 128 code
/// points (512 bytes) each, and every `game_state` lists the collected ones: a count alone let a
/// guest make one room keep 12 MB of them.
struct RememberedIDs: Sendable {
    /// Oldest first.
    private(set) var ids: OrderedSet<String> = []
    /// UTF-8 bytes of `ids`.
    private(set) var bytes = 0
    let countLimit: Int
    let byteLimit: Int

    init(countLimit: Int, byteLimit: Int) {
        self.countLimit = countLimit
        self.byteLimit = byteLimit
    }

    var count: Int { self.ids.count }

    func contains(_ id: String) -> Bool { self.ids.contains(id) }

    /// Remembers `id`; false if it already was.
    mutating func insert(_ id: String) -> Bool {
        guard self.ids.append(id).inserted else { return false }
        self.bytes += id.utf8.count
        self.forgetOldestIfOver()
        return true
    }

    mutating func insert(contentsOf ids: some Sequence<String>) {
        for id in ids { _ = self.insert(id) }
    }

    mutating func remove(_ id: String) {
        guard self.ids.remove(id) != nil else { return }
        self.bytes -= id.utf8.count
    }

    /// Past a quarter over either limit, forgets the oldest until both hold: so that each
    /// insertion costs O(1) on average.
    private mutating func forgetOldestIfOver() {
        guard self.ids.count > self.countLimit + self.countLimit / 4 || self.bytes > self.byteLimit + self.byteLimit / 4
        else { return }
        var forgotten = 0
        for id in self.ids {
            guard self.ids.count - forgotten > self.countLimit || self.bytes > self.byteLimit else { break }
            self.bytes -= id.utf8.count
            forgotten += 1
        }
        self.ids.removeFirst(forgotten)
    }
}

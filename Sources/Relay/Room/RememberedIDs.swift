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

    /// Bytes each id holds in memory beyond its text (its string, its place in the set and in
    /// the set's hash table): measured ~68 bytes an id of 16 characters.
    static let bytesHeldPerID = 64

    /// The memory the ids hold, about: what a room is charged for them (``RoomState``).
    var bytesHeld: Int { self.bytes + self.count * Self.bytesHeldPerID }

    func contains(_ id: String) -> Bool { self.ids.contains(id) }

    /// The id remembered equal to `id`, as it was remembered (``RoomState/keptSpelling(ofEnemy:)``).
    func keptSpelling(of id: String) -> String? { self.ids.firstIndex(of: id).map { self.ids[$0] } }

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
        // The bytes of the id kept, not of `id`: Swift's strings are equal when canonically
        // equivalent, so "é" as one code point removes "e" and an accent (one byte more).
        guard let removed = self.ids.remove(id) else { return }
        self.bytes -= removed.utf8.count
        self.compactIfSparse()
    }

    mutating func removeAll() {
        self.ids.removeAll()
        self.bytes = 0
    }

    /// Forgets the oldest quarter of the ids (at least one), never the newest (the one a
    /// collection may just have made): when the server has no room for more.
    mutating func forgetOldestQuarter() {
        let kept = self.ids.count - min(max(1, self.ids.count / 4), self.ids.count - 1)
        self.forgetOldest { remaining, _ in remaining > kept }
    }

    /// Past a quarter over either limit, forgets the oldest until both hold: so that each
    /// insertion costs O(1) on average.
    private mutating func forgetOldestIfOver() {
        let (countLimit, byteLimit) = (self.countLimit, self.byteLimit)
        guard self.ids.count > countLimit + countLimit / 4 || self.bytes > byteLimit + byteLimit / 4 else { return }
        self.forgetOldest { remaining, bytes in remaining > countLimit || bytes > byteLimit }
    }

    /// Forgets the oldest ids while `more` says so of the ids left and their bytes.
    private mutating func forgetOldest(while more: (_ remaining: Int, _ bytes: Int) -> Bool) {
        var forgotten = 0
        for id in self.ids {
            guard more(self.ids.count - forgotten, self.bytes) else { break }
            self.bytes -= id.utf8.count
            forgotten += 1
        }
        self.ids.removeFirst(forgotten)
        self.compactIfSparse()
    }

    /// Gives back the storage of the ids gone once the ids left use under a quarter of it: a set
    /// keeps its capacity as ids go, and a room is charged for the ids it holds (a host emptying
    /// its sets by spawning under their ids kept ~230 KB a set uncharged). A copy each time the
    /// set has shrunk fourfold: O(1) a removal on average.
    private mutating func compactIfSparse() {
        let capacity = self.ids.elements.capacity
        guard capacity > 64, self.ids.count < capacity / 4 else { return }
        self.ids = OrderedSet(uncheckedUniqueElements: self.ids.elements.withUnsafeBufferPointer { Array($0) })
    }
}

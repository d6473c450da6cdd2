/// Ids of a plugin's requests that timed out unanswered, kept so that a late answer to one
/// still shows the plugin working (``PluginProcess``'s hang rule).
///
/// Bounded: once `capacity` are held, the oldest half is forgotten (ids only grow, so the
/// smallest are the oldest). A plugin so far behind that it answers those is treated as silent.
struct OverdueRequestIDs {
    let capacity: Int
    private var ids: Set<UInt64> = []

    init(capacity: Int) {
        precondition(capacity >= 2, "half of the capacity is kept when it is reached")
        self.capacity = capacity
    }

    var count: Int { self.ids.count }

    mutating func insert(_ id: UInt64) {
        if self.ids.count >= self.capacity {
            self.ids = Set(self.ids.sorted().suffix(self.capacity / 2))
        }
        self.ids.insert(id)
    }

    /// Forgets `id`; whether it was held.
    @discardableResult
    mutating func remove(_ id: UInt64) -> Bool {
        self.ids.remove(id) != nil
    }

    mutating func removeAll() {
        self.ids.removeAll()
    }
}

/// Where a row stands in a leaderboard: higher scores first, the earlier id first among equal
/// scores — the order of `ORDER BY score DESC, id ASC`.
struct LeaderboardPosition: Comparable, Sendable {
    var score: Int64
    var id: Int64

    /// Whether `lhs` comes before `rhs` on the board.
    static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.score != rhs.score ? lhs.score > rhs.score : lhs.id < rhs.id
    }
}

/// Something that has a place on a leaderboard.
protocol LeaderboardEntry {
    var position: LeaderboardPosition { get }
}

extension LeaderboardPosition: LeaderboardEntry {
    var position: LeaderboardPosition { self }
}

extension StoredScore: LeaderboardEntry {
    var position: LeaderboardPosition { LeaderboardPosition(score: self.submission.score, id: self.id) }
}

/// The best `capacity` entries offered so far, best first.
///
/// Exact for a table that only grows: a row that falls off the end can never climb back,
/// because later rows can only push it further down.
struct BoundedLeaderboard<Entry: LeaderboardEntry> {
    let capacity: Int
    private(set) var entries: [Entry] = []

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Keeps `entry` if it is among the best `capacity`: O(1) to reject, O(capacity) to insert.
    mutating func offer(_ entry: Entry) {
        let position = entry.position
        if self.entries.count == self.capacity {
            // Also covers capacity 0: nothing is ever kept.
            guard let last = self.entries.last, position < last.position else { return }
            self.entries.removeLast()
        }
        // First entry that comes after the new one (positions are unique: ids are).
        var low = 0
        var high = self.entries.count
        while low < high {
            let middle = (low + high) / 2
            if self.entries[middle].position < position { low = middle + 1 } else { high = middle }
        }
        self.entries.insert(entry, at: low)
    }
}

extension BoundedLeaderboard: Sendable where Entry: Sendable {}

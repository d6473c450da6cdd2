import Synchronization

/// The best rows of every game mode and of all modes together, kept in memory so that SQLite
/// needs no score index for leaderboards (each such index costs random page writes per insert).
///
/// Loaded at start-up, then fed by the writer after each commit and before the submitters
/// resume (like ``RankIndex``): a row is listed once its submit has returned, never before it
/// is committed. A `Mutex` suffices: every operation touches at most a few hundred rows.
/// Memory: up to `length` rows per distinct game mode, which the API does not bound (any
/// 1–32 characters), as it does not for the rank index's per-mode counters.
final class LeaderboardIndex: Sendable {
    /// Rows kept per leaderboard; a longer leaderboard has to come from SQLite.
    let length: Int

    private struct Boards: Sendable {
        var all: BoundedLeaderboard<StoredScore>
        var byMode: [GameModeKey: BoundedLeaderboard<StoredScore>] = [:]
    }

    private let boards: Mutex<Boards>

    init(length: Int) {
        self.length = max(0, length)
        self.boards = Mutex(Boards(all: BoundedLeaderboard(capacity: self.length)))
    }

    /// Replaces the contents with the best of `rows`, e.g. those ``rowIDsToLoad(from:length:)`` picked.
    func load(_ rows: [StoredScore]) {
        var fresh = Boards(all: BoundedLeaderboard(capacity: self.length))
        Self.offer(rows, to: &fresh, length: self.length)
        self.boards.withLock { $0 = fresh }
    }

    /// Records committed rows.
    func add(_ rows: [StoredScore]) {
        self.boards.withLock { Self.offer(rows, to: &$0, length: self.length) }
    }

    /// The best `limit` rows (within `gameMode` if given), best first, as
    /// `ORDER BY score DESC, id ASC LIMIT limit` returns them; `nil` when `limit` is not
    /// within 0…``length``, which only SQLite can answer.
    func leaderboard(limit: Int, gameMode: String?) -> [StoredScore]? {
        guard (0...self.length).contains(limit) else { return nil }
        return self.boards.withLock { boards in
            let board = gameMode.map { boards.byMode[GameModeKey($0)] } ?? boards.all
            return Array((board?.entries ?? []).prefix(limit))
        }
    }

    private static func offer(_ rows: [StoredScore], to boards: inout Boards, length: Int) {
        for row in rows {
            boards.all.offer(row)
            boards.byMode[GameModeKey(row.submission.gameMode), default: BoundedLeaderboard(capacity: length)]
                .offer(row)
        }
    }
}

extension LeaderboardIndex {
    /// The ids of every row that belongs on a board of `length` rows. The best of all modes are
    /// among the best of their own modes, so the per-mode boards' rows are all it takes; only
    /// these few rows are then read in full at start-up.
    static func rowIDsToLoad(from positionsByMode: [GameModeKey: [LeaderboardPosition]], length: Int) -> Set<Int64> {
        var ids = Set<Int64>()
        for positions in positionsByMode.values {
            var board = BoundedLeaderboard<LeaderboardPosition>(capacity: length)
            for position in positions { board.offer(position) }
            ids.formUnion(board.entries.lazy.map(\.id))
        }
        return ids
    }
}

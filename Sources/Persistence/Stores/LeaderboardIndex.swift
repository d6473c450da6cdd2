import Synchronization

/// The best rows of all modes together and of every game mode held in memory
/// (``GameModesInMemory``), kept in memory so that SQLite needs no score index for leaderboards
/// (each such index costs random page writes per insert).
///
/// Loaded at start-up, then fed by the writer after each commit and before the submitters
/// resume (like ``RankIndex``): a row is listed once its submit has returned, never before it
/// is committed. A `Mutex` suffices: every operation touches at most a few hundred rows.
final class LeaderboardIndex: Sendable {
    /// Rows kept per leaderboard; a longer leaderboard has to come from SQLite.
    let length: Int

    private struct Boards: Sendable {
        var all: BoundedLeaderboard<StoredScore>
        var byMode: [GameModeKey: BoundedLeaderboard<StoredScore>] = [:]
    }

    private let boards: Mutex<Boards>
    private let modes: GameModesInMemory

    init(length: Int, modes: GameModesInMemory = GameModesInMemory(capacity: .max)) {
        self.length = max(0, length)
        self.modes = modes
        self.boards = Mutex(Boards(all: BoundedLeaderboard(capacity: self.length)))
    }

    /// Replaces the contents with the best of `rows`, e.g. those ``rowIDsToLoad(from:length:modes:)`` picked.
    func load(_ rows: [StoredScore]) {
        var fresh = Boards(all: BoundedLeaderboard(capacity: self.length))
        self.offer(rows, to: &fresh)
        self.boards.withLock { $0 = fresh }
    }

    /// Records committed rows.
    func add(_ rows: [StoredScore]) {
        self.boards.withLock { self.offer(rows, to: &$0) }
    }

    /// Modes with a board of their own (tests).
    var modeCount: Int { self.boards.withLock { $0.byMode.count } }

    /// The best `limit` rows (within `gameMode` if given), best first, as
    /// `ORDER BY score DESC, id ASC LIMIT limit` returns them; `nil` when `limit` is not
    /// within 0…``length`` or for a mode whose rows only SQLite knows.
    func leaderboard(limit: Int, gameMode: String?) -> [StoredScore]? {
        guard (0...self.length).contains(limit) else { return nil }
        return self.boards.withLock { boards in
            guard let gameMode else { return Array(boards.all.entries.prefix(limit)) }
            let mode = GameModeKey(gameMode)
            if let board = boards.byMode[mode] { return Array(board.entries.prefix(limit)) }
            return self.modes.answersInMemory(for: mode) ? [] : nil
        }
    }

    /// Offers `rows` to the all-modes board and to their modes' boards, for the modes that
    /// ``GameModesInMemory`` holds or has room for.
    private func offer(_ rows: [StoredScore], to boards: inout Boards) {
        for row in rows {
            boards.all.offer(row)
            let mode = GameModeKey(row.submission.gameMode)
            // One lookup for a mode already listed (nearly every row).
            if boards.byMode[mode]?.offer(row) == nil, self.modes.admit(mode) {
                boards.byMode[mode, default: BoundedLeaderboard(capacity: self.length)].offer(row)
            }
        }
    }
}

extension LeaderboardIndex {
    /// The ids of every row that belongs on a board of `length` rows: the best of all modes and
    /// of each held mode. Only these few rows are then read in full at start-up.
    static func rowIDsToLoad(
        from positionsByMode: [GameModeKey: [LeaderboardPosition]], length: Int, modes: GameModesInMemory
    ) -> Set<Int64> {
        var ids = Set<Int64>()
        var all = BoundedLeaderboard<LeaderboardPosition>(capacity: length)
        for (mode, positions) in positionsByMode {
            var board = BoundedLeaderboard<LeaderboardPosition>(capacity: length)
            for position in positions { board.offer(position) }
            for position in board.entries { all.offer(position) }
            if modes.isHeld(mode) { ids.formUnion(board.entries.lazy.map(\.id)) }
        }
        ids.formUnion(all.entries.lazy.map(\.id))
        return ids
    }
}

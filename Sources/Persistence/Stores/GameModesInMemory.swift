import Synchronization

/// Which game modes have a leaderboard and a rank counter of their own in memory
/// (``LeaderboardIndex``, ``RankIndex``); the other modes' leaderboards are read from SQLite, and
/// their ranks come from one counter they share (``ModeScore``).
///
/// The API takes any 1–32 character `game_mode`, and each mode held in memory costs a
/// leaderboard and a rank counter, so a client that sent one score per made-up mode could grow
/// the server's memory by ~0.5 KB a score without bound. Games have a handful of modes: the
/// first `capacity` are held, the modes with the most scores at start-up. Once a mode has been
/// turned away ("overflow"), any mode not held may have rows only SQLite knows, and its leaderboard
/// is read there (through `idx_scores_mode_score`, which the writer creates at the first overflow).
/// Until then a mode not held has no rows at all, so memory still answers for it.
///
/// Modes are only ever added while running, so both indexes, asking in turn for the same rows,
/// agree on every mode.
final class GameModesInMemory: Sendable {
    /// Most modes held; more are read from SQLite.
    let capacity: Int

    private struct State {
        var held: Set<GameModeKey> = []
        var hasOverflowed = false
    }

    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Holds the `capacity` modes with the most rows (ties: the earlier mode in byte order).
    func load(rowCounts: [GameModeKey: Int]) {
        let busiestFirst = rowCounts.sorted {
            $0.value != $1.value ? $0.value > $1.value : $0.key.mode.utf8.lexicographicallyPrecedes($1.key.mode.utf8)
        }
        let held = Set(busiestFirst.prefix(self.capacity).map(\.key))
        self.state.withLock { $0 = State(held: held, hasOverflowed: held.count < rowCounts.count) }
    }

    /// Whether `mode`'s rows go into memory, holding it now if there is room (writer only,
    /// for committed rows).
    func admit(_ mode: GameModeKey) -> Bool {
        self.state.withLock { state in
            if state.held.contains(mode) { return true }
            guard state.held.count < self.capacity else {
                state.hasOverflowed = true
                return false
            }
            state.held.insert(mode)
            return true
        }
    }

    /// Whether memory knows every row of `mode`: it is held, or no mode was ever turned away.
    func answersInMemory(for mode: GameModeKey) -> Bool {
        self.state.withLock { !$0.hasOverflowed || $0.held.contains(mode) }
    }

    /// Whether some mode has been turned away, so SQLite needs its mode index.
    var hasOverflowed: Bool {
        self.state.withLock { $0.hasOverflowed }
    }

    /// Whether `mode` is held, without holding it (start-up's choice of rows to load).
    func isHeld(_ mode: GameModeKey) -> Bool {
        self.state.withLock { $0.held.contains(mode) }
    }
}

import Synchronization

/// Score counters for every game mode and for all modes together, shared between
/// the writer (which adds committed scores) and any number of readers.
///
/// A `Mutex` suffices: both operations take microseconds and never block.
final class RankIndex: Sendable {
    private struct Counters {
        var all = ScoreCounter()
        /// Modes compared byte for byte, as `game_mode = ?` in SQL would.
        var byMode: [GameModeKey: ScoreCounter] = [:]
    }

    private let counters = Mutex(Counters())

    init() {}

    /// Replaces the contents with every score, grouped by game mode (e.g. the whole database at start-up).
    func load(_ scoresByMode: [GameModeKey: [Int64]]) {
        let sortedByMode = scoresByMode.mapValues { $0.sorted() }
        let fresh = Counters(
            // Sorted runs one after another: the standard library's sort merges runs, so this
            // costs O(n log modes) rather than a second O(n log n) sort of every score.
            all: ScoreCounter(bulk: Array(sortedByMode.values.joined())),
            byMode: sortedByMode.mapValues { ScoreCounter(bulk: $0) }
        )
        self.counters.withLock { $0 = fresh }
    }

    /// Replaces the contents with `rows` (mode, score), ungrouped (tests).
    func load(_ rows: some Sequence<(mode: String, score: Int64)>) {
        var byMode: [GameModeKey: [Int64]] = [:]
        for row in rows { byMode[GameModeKey(row.mode), default: []].append(row.score) }
        self.load(byMode)
    }

    /// Records committed scores.
    func add(_ scores: some Sequence<ScoreSubmission>) {
        self.counters.withLock { counters in
            for score in scores {
                counters.all.insert(score.score)
                counters.byMode[GameModeKey(score.gameMode), default: ScoreCounter()].insert(score.score)
            }
        }
    }

    /// 1 + the number of scores strictly greater than `score` (within `gameMode` if given).
    func rank(of score: Int64, gameMode: String?) -> Int {
        self.counters.withLock { counters in
            let counter = gameMode.map { counters.byMode[GameModeKey($0)] ?? ScoreCounter() } ?? counters.all
            return counter.countGreater(than: score) + 1
        }
    }
}

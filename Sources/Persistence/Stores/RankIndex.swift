import Synchronization

/// Score counters for every game mode and for all modes together, shared between
/// the writer (which adds committed scores) and any number of readers.
///
/// A `Mutex` suffices: both operations take microseconds and never block.
final class RankIndex: Sendable {
    private struct Counters {
        var all = ScoreCounter()
        var byMode: [String: ScoreCounter] = [:]
    }

    private let counters = Mutex(Counters())

    init() {}

    /// Replaces the contents with `rows` (mode, score), e.g. everything in the database at start-up.
    func load(_ rows: some Collection<(mode: String, score: Int64)>) {
        var byMode: [String: [Int64]] = [:]
        for row in rows { byMode[row.mode, default: []].append(row.score) }
        let fresh = Counters(
            all: ScoreCounter(bulk: rows.map(\.score)),
            byMode: byMode.mapValues { ScoreCounter(bulk: $0) }
        )
        self.counters.withLock { $0 = fresh }
    }

    /// Records committed scores.
    func add(_ scores: some Sequence<ScoreSubmission>) {
        self.counters.withLock { counters in
            for score in scores {
                counters.all.insert(score.score)
                counters.byMode[score.gameMode, default: ScoreCounter()].insert(score.score)
            }
        }
    }

    /// 1 + the number of scores strictly greater than `score` (within `gameMode` if given).
    func rank(of score: Int64, gameMode: String?) -> Int {
        self.counters.withLock { counters in
            let counter = gameMode.map { counters.byMode[$0] ?? ScoreCounter() } ?? counters.all
            return counter.countGreater(than: score) + 1
        }
    }
}

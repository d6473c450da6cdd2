import Synchronization

/// Score counters for all modes together, for each game mode held in memory
/// (``GameModesInMemory``), and for the other modes together (``ModeScore``), shared between the
/// writer (which adds committed scores) and any number of readers. Every rank is answered here.
///
/// A `Mutex` suffices: both operations take microseconds and never block.
final class RankIndex: Sendable {
    private struct Counters {
        var all = ScoreCounter()
        /// Modes compared byte for byte, as `game_mode = ?` in SQL would.
        var byMode: [GameModeKey: ScoreCounter] = [:]
        /// The scores of the modes not held.
        var otherModes = SortedCounter<ModeScore>()
    }

    private let counters = Mutex(Counters())
    private let modes: GameModesInMemory

    init(modes: GameModesInMemory = GameModesInMemory(capacity: .max)) {
        self.modes = modes
    }

    /// Replaces the contents with every score, grouped by game mode (e.g. the whole database at
    /// start-up); only modes that ``GameModesInMemory`` holds or has room for get a counter of their own.
    func load(_ scoresByMode: [GameModeKey: [Int64]]) {
        let sortedByMode = scoresByMode.mapValues { $0.sorted() }
        let held = sortedByMode.filter { self.modes.admit($0.key) }
        let others = sortedByMode.filter { held[$0.key] == nil }
        let fresh = Counters(
            // Sorted runs one after another: the standard library's sort merges runs, so this
            // costs O(n log modes) rather than a second O(n log n) sort of every score.
            all: ScoreCounter(bulk: Array(sortedByMode.values.joined())),
            byMode: held.mapValues { ScoreCounter(bulk: $0) },
            otherModes: SortedCounter(
                bulk: others.flatMap { mode, scores in scores.map { ModeScore(mode, score: $0) } })
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
                let mode = GameModeKey(score.gameMode)
                // One lookup for a mode already counted (nearly every row).
                if counters.byMode[mode]?.insert(score.score) != nil { continue }
                if self.modes.admit(mode) {
                    counters.byMode[mode, default: ScoreCounter()].insert(score.score)
                } else {
                    counters.otherModes.insert(ModeScore(mode, score: score.score))
                }
            }
        }
    }

    /// Modes with a counter of their own (tests).
    var modeCount: Int { self.counters.withLock { $0.byMode.count } }

    /// Whether `gameMode` has scores: every row's score is counted here, so a mode without is one
    /// with no rows. (A mode sharing another's 64-bit key, ``ModeScore``, may be said to have some.)
    func hasScores(inMode gameMode: String) -> Bool {
        self.counters.withLock { counters in
            let mode = GameModeKey(gameMode)
            return counters.byMode[mode] != nil || counters.otherModes.count(in: mode) > 0
        }
    }

    /// 1 + the number of scores strictly greater than `score` (within `gameMode` if given).
    func rank(of score: Int64, gameMode: String?) -> Int {
        self.counters.withLock { counters in
            guard let gameMode else { return counters.all.countGreater(than: score) + 1 }
            let mode = GameModeKey(gameMode)
            if let counter = counters.byMode[mode] { return counter.countGreater(than: score) + 1 }
            return counters.otherModes.countGreater(than: score, in: mode) + 1
        }
    }
}

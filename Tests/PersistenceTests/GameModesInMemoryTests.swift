import Foundation
import SeededRandom
import Testing

@testable import Persistence

/// "classic" and "endless" get most rows, so they are the modes held at start-up; both spellings
/// of "école" are distinct modes to SQLite, so they must be to the store too.
private let modes = ["classic", "endless", "classic", "endless", "\u{E9}cole", "e\u{301}cole", "speedrun"]

private func randomScores(count: Int, seed: UInt64) -> [ScoreSubmission] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        submission(
            "p\(Int.random(in: 0..<50, using: &generator))", Int64.random(in: -20..<60, using: &generator),
            mode: modes.randomElement(using: &generator)!
        )
    }
}

private func submitConcurrently(_ scores: [ScoreSubmission], to store: SQLiteGameStore) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for score in scores { group.addTask { _ = try await store.submit(score) } }
        try await group.waitForAll()
    }
}

/// A database in `directory` with one score, whose mode index can never be made (a table holds
/// its name, failing `CREATE INDEX` every time, as a full disk would), and a configuration that
/// holds one mode in memory: its path and that configuration.
private func prepareStoreWithoutModeIndex(in directory: URL) async throws -> (String, PersistenceConfiguration) {
    let path = databasePath(in: directory)
    let configuration = PersistenceConfiguration(databasePath: path, gameModesInMemory: 1)
    try await withStore(configuration) { store in
        _ = try await store.submit(submission("a", 1, mode: "classic"))
    }
    try RawDatabase(path: path).execute("CREATE TABLE idx_scores_mode_score (x)")
    return (path, configuration)
}

/// Every mode's leaderboards and ranks, held in memory or not, as the SQL answers them.
private func expectStoreMatchesSQL(_ store: SQLiteGameStore, path: String, _ comment: Comment) async throws {
    let raw = try RawDatabase(path: path)
    for mode in [nil, "unknown"] + Set(modes) as [String?] {
        for limit in [0, 1, 5, 100] {
            let expected = try raw.leaderboard(limit: limit, gameMode: mode)
            let actual = try await store.leaderboard(limit: limit, gameMode: mode)
            #expect(actual == expected, "\(comment): leaderboard of \(mode.debugDescription), limit \(limit)")
        }
        let filter = mode.map { "game_mode = '\($0)' AND" } ?? ""
        for score: Int64 in [-21, -20, 0, 30, 59, 60] {
            let expected = 1 + Int(try raw.integer("SELECT COUNT(*) FROM scores WHERE \(filter) score > \(score)"))
            let actual = try await store.rank(of: score, gameMode: mode)
            #expect(actual == expected, "\(comment): rank of \(score) in \(mode.debugDescription)")
        }
    }
}

/// Whether the mode index is made within `wait`: the writer builds it after the batch that
/// overflowed has its answers, so a submitter can hear back first.
private func madeModeIndex(_ path: String, within wait: Duration = .seconds(30)) async throws -> Bool {
    let deadline = ContinuousClock.now + wait
    while try !hasModeIndex(path) {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

private func hasModeIndex(_ path: String) throws -> Bool {
    try RawDatabase(path: path).integer(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'idx_scores_mode_score'") == 1
}

@Suite("Game modes held in memory")
struct GameModesInMemoryTests {
    @Test func modesAreHeldUpToTheCapacityThenTurnedAway() {
        let held = GameModesInMemory(capacity: 2)
        #expect(held.answersInMemory(for: GameModeKey("anything")))  // no mode has rows yet
        #expect(held.admit(GameModeKey("classic")))
        #expect(held.admit(GameModeKey("endless")))
        #expect(held.admit(GameModeKey("classic")))
        #expect(!held.hasOverflowed)
        #expect(!held.admit(GameModeKey("made-up")))
        #expect(held.hasOverflowed)
        #expect(held.answersInMemory(for: GameModeKey("classic")))
        #expect(!held.answersInMemory(for: GameModeKey("made-up")))
        #expect(!held.answersInMemory(for: GameModeKey("never-seen")))  // it may have rows only SQLite knows
    }

    @Test func startUpHoldsTheModesWithTheMostRows() {
        let held = GameModesInMemory(capacity: 2)
        held.load(rowCounts: [
            GameModeKey("rare"): 1, GameModeKey("b"): 50, GameModeKey("a"): 50, GameModeKey("top"): 900,
        ])
        #expect(held.isHeld(GameModeKey("top")))
        #expect(held.isHeld(GameModeKey("a")))  // the tie goes to the earlier in byte order
        #expect(!held.isHeld(GameModeKey("b")))
        #expect(held.hasOverflowed)

        held.load(rowCounts: [GameModeKey("top"): 900])
        #expect(!held.hasOverflowed)
        #expect(held.admit(GameModeKey("new")))
    }

    /// Before the cap, one score per made-up mode kept a leaderboard and a counter each, forever.
    @Test func madeUpModesDoNotGrowTheIndexes() {
        let held = GameModesInMemory(capacity: 3)
        let ranks = RankIndex(modes: held)
        let boards = LeaderboardIndex(length: 100, modes: held)
        let rows = (1...500).map {
            StoredScore(id: Int64($0), submission: submission("p", Int64($0), mode: "mode\($0)"), createdAt: "")
        }
        ranks.add(rows.map(\.submission))
        boards.add(rows)
        #expect(ranks.modeCount == 3)
        #expect(boards.modeCount == 3)
        // All modes together still count every row…
        #expect(ranks.rank(of: 0, gameMode: nil) == 501)
        #expect(boards.leaderboard(limit: 1, gameMode: nil)?.first?.id == 500)
        // …held modes answer from memory; the others' leaderboards are left to SQLite, and their
        // ranks come from the counter they share.
        #expect(ranks.rank(of: 0, gameMode: "mode1") == 2)
        #expect(boards.leaderboard(limit: 5, gameMode: "mode2")?.map(\.id) == [2])
        #expect(ranks.rank(of: 0, gameMode: "mode4") == 2)
        #expect(ranks.rank(of: 4, gameMode: "mode4") == 1)
        #expect(boards.leaderboard(limit: 5, gameMode: "mode4") == nil)
    }

    @Test func modesBeyondTheCapacityAreAnsweredRight() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let configuration = PersistenceConfiguration(
                databasePath: path, inMemoryLeaderboardLength: 5, gameModesInMemory: 2)
            try await withStore(configuration) { store in
                try await submitConcurrently(
                    [submission("a", 1, mode: "classic"), submission("b", 2, mode: "endless")], to: store)
                #expect(try !hasModeIndex(path))  // no mode turned away yet: inserts do not pay for it
                try await submitConcurrently(randomScores(count: 600, seed: 3), to: store)
                #expect(try await madeModeIndex(path))
                try await expectStoreMatchesSQL(store, path: path, "after inserts")
            }
            try await withStore(configuration) { store in
                try await expectStoreMatchesSQL(store, path: path, "after reopening")
                try await submitConcurrently(randomScores(count: 200, seed: 4), to: store)
                try await expectStoreMatchesSQL(store, path: path, "after more inserts")
            }
        }
    }

    /// The leaderboard of a mode memory does not hold is read by SQL on every request, and a
    /// client can give such a mode as many rows as it has writes: with only `game_mode` indexed, a
    /// leaderboard read each of the mode's rows from the table and sorted them (25–30 ms a request
    /// at 100,000 rows). With `score` in the index it reads its `limit` entries. (Their ranks
    /// are counted in memory.)
    @Test func leaderboardsFromSQLiteAreReadInScoreOrder() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let configuration = PersistenceConfiguration(databasePath: path, gameModesInMemory: 1)
            try await withStore(configuration) { store in
                try await submitConcurrently(randomScores(count: 50, seed: 6), to: store)
            }
            let raw = try RawDatabase(path: path)
            func plan(_ sql: String) throws -> String {
                try raw.rows("EXPLAIN QUERY PLAN \(sql)").map { $0.last.flatMap { $0 } ?? "" }.joined(separator: "; ")
            }
            let leaderboard = try plan(
                "SELECT id FROM scores WHERE game_mode = 'speedrun' ORDER BY score DESC, id ASC LIMIT 10")
            #expect(
                leaderboard.contains("idx_scores_mode_score") && !leaderboard.contains("TEMP B-TREE"), "\(leaderboard)")
        }
    }

    /// A table holding the index's name makes `CREATE INDEX` fail every time, as a full disk
    /// would: the store still opens, takes scores and answers right, by table scans.
    @Test func withoutItsIndexTheStoreStillAnswersRight() async throws {
        try await withTemporaryDirectory { directory in
            let (path, configuration) = try await prepareStoreWithoutModeIndex(in: directory)
            try await withStore(configuration) { store in
                try await submitConcurrently(randomScores(count: 300, seed: 6), to: store)
                try await expectStoreMatchesSQL(store, path: path, "index never made")
            }
            try await withStore(configuration) { store in
                try await expectStoreMatchesSQL(store, path: path, "reopened, index never made")
            }
        }
    }

    /// While the index is missing, a leaderboard of a mode not held is a scan of the table, which
    /// holds up every read queued on that reader: one of a mode no row has (any client can name
    /// one, a new one each request) is answered from memory, which counts every row's score.
    @Test func aModeWithoutRowsIsAnsweredWithoutSQLite() async throws {
        try await withTemporaryDirectory { directory in
            let (path, configuration) = try await prepareStoreWithoutModeIndex(in: directory)
            try await withStore(configuration) { store in
                try await submitConcurrently(randomScores(count: 100, seed: 8), to: store)
                let reads = store.readsStarted
                for mode in ["never-seen", "classic\u{301}", ""] {
                    #expect(try await store.leaderboard(limit: 10, gameMode: mode) == [])
                }
                #expect(store.readsStarted == reads, "no SQL for a mode without rows")
                _ = try await store.submit(submission("b", 2, mode: "never-seen"))
                #expect(
                    try await store.leaderboard(limit: 10, gameMode: "never-seen").map(\.submission.playerName) == ["b"]
                )
                #expect(store.readsStarted == reads + 1)
                try await expectStoreMatchesSQL(store, path: path, "index never made")
            }
        }
    }

    /// A build that failed (here on a table holding the index's name, as a full disk or a lock
    /// would fail it) is tried again after a commit once the retry delay has passed: it used to
    /// wait for the next start, and every leaderboard of a mode beyond memory scanned the table.
    @Test func aFailedIndexBuildIsTriedAgain() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            var configuration = PersistenceConfiguration(databasePath: path, gameModesInMemory: 1)
            // 3 s: long enough that the check before the delay runs on a loaded machine too.
            let delay = Duration.seconds(3)
            configuration.modeIndexRetryDelay = delay
            try await withStore(configuration) { store in
                _ = try await store.submit(submission("a", 1, mode: "classic"))
            }
            let raw = try RawDatabase(path: path)
            try raw.execute("CREATE TABLE idx_scores_mode_score (x)")
            let opening = ContinuousClock.now  // the first build fails after this, so no retry before `opening + delay`
            try await withStore(configuration) { store in
                try await submitConcurrently(randomScores(count: 100, seed: 7), to: store)
                try raw.execute("DROP TABLE idx_scores_mode_score")
                _ = try await store.submit(submission("b", 2, mode: "speedrun"))
                // The index first, then the clock: a build after the clock was read could be a due one.
                let absent = try !hasModeIndex(path)
                if ContinuousClock.now - opening < delay {  // else a loaded machine took the whole delay
                    #expect(absent, "not tried again before the delay")
                }
                // Each failed build doubles the delay, and on a loaded machine the submits above may
                // have met more than one: a commit after each delay, until one makes the index.
                var made = false
                let deadline = ContinuousClock.now + .seconds(30)
                while !made, ContinuousClock.now < deadline {
                    try await Task.sleep(for: delay)
                    _ = try await store.submit(submission("c", 3, mode: "speedrun"))
                    made = try await madeModeIndex(path, within: .milliseconds(500))
                }
                #expect(made, "made by a commit after the retry delay")
                try await expectStoreMatchesSQL(store, path: path, "index made on a retry")
            }
        }
    }

    /// The index made at the overflow would only cost inserts once memory holds every mode again.
    @Test func reopeningWithRoomForEveryModeHoldsThemAllAndDropsTheIndex() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path, gameModesInMemory: 1)) { store in
                try await submitConcurrently(randomScores(count: 300, seed: 5), to: store)
            }
            #expect(try hasModeIndex(path))
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                try await expectStoreMatchesSQL(store, path: path, "all modes held")
            }
            #expect(try !hasModeIndex(path))
            try await withStore(PersistenceConfiguration(databasePath: path, gameModesInMemory: 1)) { store in
                #expect(try hasModeIndex(path), "made again at a start-up with too many modes")
                try await expectStoreMatchesSQL(store, path: path, "one mode held")
            }
        }
    }
}

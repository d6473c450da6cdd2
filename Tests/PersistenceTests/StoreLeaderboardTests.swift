import Foundation
import SeededRandom
import Testing

@testable import Persistence

/// Both spellings of "école" are distinct modes to SQLite, so they must be to the store too.
private let modes = ["classic", "endless", "\u{E9}cole", "e\u{301}cole"]

/// Submits `count` random scores concurrently (so ids interleave across modes); few distinct
/// scores, so most places are decided by the id.
private func submitRandomScores(_ store: SQLiteGameStore, count: Int, seed: UInt64) async throws {
    var generator = SplitMix64(seed: seed)
    let scores = (0..<count).map { _ in
        submission(
            "p\(Int.random(in: 0..<50, using: &generator))", Int64.random(in: -20..<60, using: &generator),
            mode: modes.randomElement(using: &generator)!
        )
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for score in scores { group.addTask { _ = try await store.submit(score) } }
        try await group.waitForAll()
    }
}

/// Every mode (and none, and an unknown one) at every limit up to past the in-memory length,
/// plus an unbounded negative limit: the store answers exactly as the SQL does.
private func expectStoreMatchesSQL(
    _ store: SQLiteGameStore, path: String, length: Int, _ comment: Comment
) async throws {
    let raw = try RawDatabase(path: path)
    let total = Int(try raw.integer("SELECT COUNT(*) FROM scores"))
    let limits = Array(0...(length + 2)) + [2 * length + 1, total + 1, -1]
    for mode in [nil, "unknown"] + modes as [String?] {
        for limit in limits {
            let expected = try raw.leaderboard(limit: limit, gameMode: mode)
            let actual = try await store.leaderboard(limit: limit, gameMode: mode)
            guard actual == expected else {
                Issue.record(
                    "\(comment): limit \(limit), mode \(mode.debugDescription): \(actual.map(\.id)) ≠ \(expected.map(\.id))"
                )
                return
            }
        }
    }
}

@Suite("Leaderboards from memory")
struct StoreLeaderboardTests {
    @Test(arguments: [100, 7])
    func leaderboardEqualsTheSQLAnswer(length: Int) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let configuration = PersistenceConfiguration(databasePath: path, inMemoryLeaderboardLength: length)
            try await withStore(configuration) { store in
                try await submitRandomScores(store, count: 900, seed: UInt64(length))
                try await expectStoreMatchesSQL(store, path: path, length: length, "after inserts")
            }
            try await withStore(configuration) { store in
                try await expectStoreMatchesSQL(store, path: path, length: length, "after reopening")
                try await submitRandomScores(store, count: 300, seed: UInt64(length) + 1)
                try await expectStoreMatchesSQL(store, path: path, length: length, "after more inserts")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func submittedScoreIsListedOnceSubmitReturns() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                try await submitRandomScores(store, count: 300, seed: 7)  // full boards: new rows push others out
                for round in 0..<5 {
                    // 64 concurrent rows above everything so far: each is in the top 100 of its
                    // mode and of all modes until the next round starts.
                    let missing = try await withThrowingTaskGroup(of: String?.self) { group in
                        for index in 0..<64 {
                            let score = submission(
                                "top\(index)", 1_000 + Int64(round * 64 + index), mode: modes[index % modes.count]
                            )
                            group.addTask {
                                let stored = try await store.submit(score)
                                let all = try await store.leaderboard(limit: 100, gameMode: nil)
                                let inMode = try await store.leaderboard(limit: 100, gameMode: score.gameMode)
                                return all.contains(stored) && inMode.contains(stored) ? nil : "row \(stored.id)"
                            }
                        }
                        return try await group.reduce(into: [String]()) { if let row = $1 { $0.append(row) } }
                    }
                    #expect(missing.isEmpty, "round \(round): not listed after submit returned: \(missing)")
                }
            }
        }
    }
}

import Foundation
import Testing

@testable import Persistence

/// Runs `count` submits concurrently and returns each outcome, in completion order.
private func submitConcurrently(
    _ store: SQLiteGameStore, count: Int, _ make: @escaping @Sendable (Int) -> ScoreSubmission
) async -> [Result<StoredScore, any Error>] {
    await withTaskGroup(of: Result<StoredScore, any Error>.self) { group in
        for index in 0..<count {
            group.addTask {
                do { return .success(try await store.submit(make(index))) } catch { return .failure(error) }
            }
        }
        var results: [Result<StoredScore, any Error>] = []
        for await result in group { results.append(result) }
        return results
    }
}

@Suite("Group commit")
struct GroupCommitTests {
    @Test(.timeLimit(.minutes(3)))
    func concurrentSubmitsShareTransactions() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let configuration = PersistenceConfiguration(
                databasePath: path, maxBatchSize: 64, flushInterval: .milliseconds(5)
            )
            try await withStore(configuration) { store in
                #expect(store.committedTransactions == 0)
                let total = 500
                let make: @Sendable (Int) -> ScoreSubmission = {
                    submission(
                        "player\($0)", Int64($0 * 7919 % 1_009) - 300, mode: $0 % 3 == 0 ? "hardcore" : "classic")
                }
                let stored = try await withThrowingTaskGroup(of: StoredScore.self) { group in
                    for index in 0..<total {
                        group.addTask { try await store.submit(make(index)) }
                    }
                    var stored: [StoredScore] = []
                    for try await row in group { stored.append(row) }
                    return stored
                }
                #expect(stored.count == total)
                #expect(Set(stored.map(\.id)).count == total, "ids must be unique")
                // Each caller got back its own submission.
                let expectedByName = Dictionary(uniqueKeysWithValues: (0..<total).map { ("player\($0)", make($0)) })
                #expect(stored.allSatisfy { expectedByName[$0.submission.playerName] == $0.submission })

                let transactions = store.committedTransactions
                #expect(transactions < total, "group commit should use fewer transactions than rows")
                #expect(transactions >= (total + 63) / 64, "a transaction holds at most maxBatchSize writes")

                // Every row is readable, exactly as returned.
                let board = try await store.leaderboard(limit: 10_000, gameMode: nil)
                #expect(board.count == total)
                let byID = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0) })
                #expect(board.allSatisfy { byID[$0.id] == $0 })
                #expect(try RawDatabase(path: path).integer("SELECT COUNT(*) FROM scores") == Int64(total))

                // The rank index saw every committed row.
                #expect(try await store.rank(of: .min, gameMode: nil) == total + 1)
                let hardcore = stored.filter { $0.submission.gameMode == "hardcore" }.count
                #expect(try await store.rank(of: .min, gameMode: "hardcore") == hardcore + 1)
                for probe: Int64 in [-301, -300, 0, 350, 708, 709] {
                    let expected = 1 + stored.filter { $0.submission.score > probe }.count
                    #expect(try await store.rank(of: probe, gameMode: nil) == expected)
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func batchSizeOneCommitsEachWriteAlone() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: 1, flushInterval: .milliseconds(5)
            )
            try await withStore(configuration) { store in
                #expect(store.committedTransactions == 0)
                let results = await submitConcurrently(store, count: 40) { submission("p\($0)", Int64($0)) }
                #expect(results.allSatisfy { (try? $0.get()) != nil })
                try await store.save(
                    SavedGame(playerName: "s", level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w"))
                try await store.delete(playerName: "s")
                try await store.delete(playerName: "missing")
                #expect(store.committedTransactions == 43)
            }
        }
    }

    /// A batch's timer is its own: the one set for a batch that filled up and went out before it
    /// ran must not cut the next batch short.
    @Test(
        "A write waits out its own batch's interval, not the timer of a batch that filled and went out",
        .timeLimit(.minutes(3)))
    func aFilledBatchsTimerLeavesTheNextBatchAlone() async throws {
        try await withTemporaryDirectory { directory in
            // Long enough that the sleep below, oversleeping on a loaded machine, still ends before
            // the first batch's timer runs (else the late write would not meet that timer at all).
            let interval = Duration.seconds(4)
            let configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: 2, flushInterval: interval
            )
            try await withStore(configuration) { store in
                // Two writes fill a batch, which commits at once; the timer the first one set runs on.
                let firstQueued = ContinuousClock.now
                let results = await submitConcurrently(store, count: 2) { submission("early\($0)", Int64($0)) }
                #expect(results.allSatisfy { (try? $0.get()) != nil })
                #expect(store.committedTransactions == 1)
                try await Task.sleep(for: .seconds(1))
                // Queued before that timer runs: it waits for a timer of its own.
                let start = ContinuousClock.now
                _ = try await store.submit(submission("late", 3))
                let waited = ContinuousClock.now - start
                if start - firstQueued < interval - .milliseconds(500) {  // surely before the first timer ran
                    #expect(waited >= interval - .milliseconds(100), "\(waited)")
                }
                #expect(store.committedTransactions == 2)
            }
        }
    }

    @Test func loneWriteIsOneTransaction() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                _ = try await store.submit(submission("solo", 1))
                #expect(store.committedTransactions == 1)
                _ = try await store.submit(submission("solo", 2))
                #expect(store.committedTransactions == 2)
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func defaultConfigurationCommitsEveryConcurrentWrite() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let results = await submitConcurrently(store, count: 200) { submission("p\($0)", Int64($0)) }
                let stored = results.compactMap { try? $0.get() }
                #expect(stored.count == 200)
                #expect(Set(stored.map(\.id)).count == 200)
                let board = try await store.leaderboard(limit: 500, gameMode: nil)
                #expect(board.count == 200)
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func fullWriteQueueRefusesWithOverloaded() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let capacity = 10
            let total = 50
            // No timer runs meanwhile: the queue holds exactly its capacity until the close commits it.
            let configuration = PersistenceConfiguration(
                databasePath: path, maxBatchSize: 10_000, flushInterval: .seconds(60), writeQueueCapacity: capacity
            )
            let store = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            let outcome = try await overloadThenClose(store, total: total, capacity: capacity)
            let accepted = outcome.accepted
            let overloaded = outcome.overloaded
            let otherErrors = outcome.otherErrors

            #expect(otherErrors.isEmpty)
            #expect(overloaded > 0)
            #expect(overloaded == total - capacity)
            #expect(accepted.count == capacity)
            #expect(accepted.count + overloaded == total)

            // The accepted writes were committed.
            let raw = try RawDatabase(path: path)
            #expect(try raw.integer("SELECT COUNT(*) FROM scores") == Int64(accepted.count))
            try await withStore(PersistenceConfiguration(databasePath: path)) { reopened in
                let board = try await reopened.leaderboard(limit: 100, gameMode: nil)
                #expect(board.sorted { $0.id < $1.id } == accepted.sorted { $0.id < $1.id })
            }
        }
    }
}

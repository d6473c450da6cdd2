import Foundation
import Testing

@testable import Persistence

/// Expects `operation` to be refused with `shuttingDown`; a hang counts as a failure.
private func expectShuttingDown<T: Sendable>(
    sourceLocation: SourceLocation = #_sourceLocation, _ operation: @escaping @Sendable () async throws -> T
) async {
    await #expect(throws: PersistenceError.shuttingDown, sourceLocation: sourceLocation) {
        try await withDeadline(operation)
    }
}

@Suite("Closing and reopening")
struct LifecycleTests {
    /// A stop that waits for the answers before it closes the store (the HTTP server's) does not
    /// wait out the batch window: what waits for it commits at once, and so does each later write.
    @Test(.timeLimit(.minutes(3)))
    func stopBatchingCommitsWithoutWaitingForTheWindow() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            // Nothing would flush for ten minutes, nor fill a batch.
            let configuration = PersistenceConfiguration(
                databasePath: path, maxBatchSize: 1_000, flushInterval: .seconds(600))
            let store = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            let waiting = Task { try await store.submit(submission("waiting", 1)) }
            // Counted as it is asked for, before its hop into the writer (microseconds).
            try await withDeadline {
                while store.unansweredWrites == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
            try await Task.sleep(for: .milliseconds(100))
            await store.stopBatching()
            let first = try await withDeadline { try await waiting.value }
            let later = try await withDeadline { try await store.submit(submission("later", 3)) }
            #expect(first.submission.playerName == "waiting" && later.submission.playerName == "later")
            await store.close()
            let raw = try RawDatabase(path: path)
            #expect(try raw.integer("SELECT COUNT(*) FROM scores") == 2)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func closeCommitsPendingWritesThenRefusesEverything() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let capacity = 5
            let total = 8
            // Nothing would flush for a minute: only close() can commit the queued writes.
            let configuration = PersistenceConfiguration(
                databasePath: path, maxBatchSize: 1_000, flushInterval: .seconds(60), writeQueueCapacity: capacity
            )
            let store = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            // The refusals prove the queue is full, i.e. `capacity` writes are pending when it closes.
            let outcome = try await overloadThenClose(store, total: total, capacity: capacity)
            try #require(outcome.closedEarly, "the queue never filled up")
            #expect(outcome.acceptedBeforeClose == 0, "nothing may commit before the flush interval")
            #expect(outcome.otherErrors.isEmpty)
            #expect(outcome.overloaded == total - capacity)
            let committed = outcome.accepted
            #expect(committed.count == capacity)

            // After close, every operation is refused.
            await expectShuttingDown { try await store.submit(submission("late", 1)) }
            await expectShuttingDown {
                try await store.save(
                    SavedGame(playerName: "late", level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w"))
            }
            await expectShuttingDown { try await store.delete(playerName: "late") }
            await expectShuttingDown { try await store.leaderboard(limit: 10, gameMode: nil) }
            await expectShuttingDown { try await store.rank(of: 0, gameMode: nil) }
            await expectShuttingDown { try await store.bosses() }
            // Closing again is harmless.
            try await withDeadline {
                await store.close()
                await store.close()
            }

            // The pending writes are on disk.
            try await withStore(PersistenceConfiguration(databasePath: path)) { reopened in
                let board = try await reopened.leaderboard(limit: 100, gameMode: nil)
                #expect(board.sorted { $0.id < $1.id } == committed.sorted { $0.id < $1.id })
            }
        }
    }

    /// Left to the process's exit, the connections were never closed: commits since the last
    /// checkpoint stayed in `game.db-wal` alone, which a backup of `game.db` would miss.
    @Test func closingLeavesEveryCommitInTheDatabaseFileAlone() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let store = try await SQLiteGameStore.open(
                PersistenceConfiguration(databasePath: path), logger: quietLogger)
            for score in 1...3 { _ = try await store.submit(submission("p\(score)", Int64(score))) }
            _ = try await store.leaderboard(limit: 200, gameMode: nil)  // a reader has a snapshot open
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            await store.close()
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))

            let copy = databasePath(in: directory, "copy.db")
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            try await withStore(PersistenceConfiguration(databasePath: copy)) { reopened in
                let board = try await reopened.leaderboard(limit: 100, gameMode: nil)
                #expect(board.map(\.submission.playerName) == ["p3", "p2", "p1"])
            }
        }
    }

    @Test func closingAnIdleStoreTwiceIsSafe() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteGameStore.open(
                PersistenceConfiguration(databasePath: databasePath(in: directory)), logger: quietLogger
            )
            _ = try await store.submit(submission("a", 1))
            await store.close()
            await store.close()
            await expectShuttingDown { try await store.submit(submission("b", 2)) }
            await expectShuttingDown { try await store.load(playerName: "a") }
        }
    }

    @Test func dataSurvivesReopening() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            let game = SavedGame(
                playerName: "ada", level: 5, score: 777, lives: 2, health: 64, coins: 99, weapon: "laser")
            let (stored, bosses) = try await withStore(configuration) { store in
                var stored: [StoredScore] = []
                for (index, score) in [40, 10, 40, 25].enumerated() {
                    stored.append(
                        try await store.submit(
                            submission("p\(index)", Int64(score), mode: index.isMultiple(of: 2) ? "a" : "b")))
                }
                try await store.save(game)
                try await store.save(
                    SavedGame(playerName: "gone", level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w"))
                try await store.delete(playerName: "gone")
                return (stored, try await store.bosses())
            }
            try await withStore(configuration) { store in
                #expect(
                    try await store.leaderboard(limit: 10, gameMode: nil) == [
                        stored[0], stored[2], stored[3], stored[1],
                    ])
                #expect(try await store.leaderboard(limit: 10, gameMode: "b") == [stored[3], stored[1]])
                #expect(try await store.personalBest(playerName: "p2") == stored[2])
                #expect(try await store.load(playerName: "ada") == game)
                #expect(try await store.load(playerName: "gone") == nil)
                #expect(try await store.bosses() == bosses)
                // New ids continue after the old ones.
                let next = try await store.submit(submission("new", 1))
                #expect(next.id > stored.map(\.id).max()!)
            }
        }
    }

    @Test func rankIndexIsRebuiltFromDiskAtOpen() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            var rows: [(mode: String, score: Int64)] = []
            for index in 0..<120 {
                let mode = index % 3 == 0 ? "hardcore" : "classic"
                let score = Int64((index * 37) % 50) - 10
                rows.append((mode, score))
            }
            let probes: [Int64] = [.min, -11, -10, 0, 17, 38, 39, 40, .max]
            let modes: [String?] = [nil, "classic", "hardcore", "unknown"]
            let before = try await withStore(configuration) { store in
                for row in rows { _ = try await store.submit(submission("p", row.score, mode: row.mode)) }
                var ranks: [Int] = []
                for mode in modes {
                    for probe in probes { ranks.append(try await store.rank(of: probe, gameMode: mode)) }
                }
                return ranks
            }
            var expected: [Int] = []
            for mode in modes {
                for probe in probes {
                    let greater = rows.filter { row in (mode == nil || row.mode == mode) && row.score > probe }
                    expected.append(1 + greater.count)
                }
            }
            #expect(before == expected)
            let after = try await withStore(configuration) { store in
                var ranks: [Int] = []
                for mode in modes {
                    for probe in probes { ranks.append(try await store.rank(of: probe, gameMode: mode)) }
                }
                return ranks
            }
            #expect(after == expected)
            #expect(after[0] == rows.count + 1)
        }
    }
}

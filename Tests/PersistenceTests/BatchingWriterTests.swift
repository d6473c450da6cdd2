import CSystemSQLite
import Foundation
import NIOPosix
import Testing

@testable import Persistence

/// The writer on its own, without the store's own open/closed bookkeeping in front of it.
@Suite("BatchingWriter")
struct BatchingWriterTests {
    private static func withWriter<T>(
        path: String, configuration: PersistenceConfiguration? = nil,
        _ body: (BatchingWriter, RankIndex) async throws -> T
    ) async throws -> T {
        let threads = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let modes = GameModesInMemory(capacity: .max)
            let rankIndex = RankIndex(modes: modes)
            let writer = BatchingWriter(
                connection: try SQLiteConnection(path: path, readOnly: false), eventLoop: threads.next(), modes: modes,
                rankIndex: rankIndex, leaderboards: LeaderboardIndex(length: 100, modes: modes),
                configuration: configuration ?? PersistenceConfiguration(databasePath: path), logger: quietLogger
            )
            let result = try await body(writer, rankIndex)
            try await threads.shutdownGracefully()
            return result
        } catch {
            try? await threads.shutdownGracefully()
            throw error
        }
    }

    @Test func prepareDatabaseReportsTheVersionItFound() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let first = try await Self.withWriter(path: path) { writer, _ in try await writer.prepareDatabase() }
            #expect(first == 0)
            let second = try await Self.withWriter(path: path) { writer, _ in try await writer.prepareDatabase() }
            #expect(second == migrations.count)
        }
    }

    /// The old backend's SQLite defaults synced every commit: what it acknowledged survived a
    /// power loss. With `NORMAL` in WAL mode a power loss may undo acknowledged commits.
    @Test("The writer syncs each commit to the disk by default (FULL), or as configured")
    func synchronousLevelApplied() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            #expect(PersistenceConfiguration(databasePath: path).synchronous == .full)
            let cases: [(PersistenceConfiguration.SynchronousMode?, String)] = [
                (nil, "full"), (.normal, "normal"), (.full, "full"),
            ]
            for (mode, expected) in cases {
                var configuration = PersistenceConfiguration(databasePath: path)
                if let mode { configuration.synchronous = mode }
                let level = try await Self.withWriter(path: path, configuration: configuration) { writer, _ in
                    _ = try await writer.prepareDatabase()
                    return try await writer.synchronousLevel()
                }
                #expect(level == expected, "\(String(describing: mode))")
            }
        }
    }

    @Test func closedWriterCommitsThenRefuses() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await Self.withWriter(path: path) { writer, rankIndex in
                _ = try await writer.prepareDatabase()
                let outcome = try await writer.perform(.insertScore(submission("a", 42, mode: "m")))
                guard case .score(let stored) = outcome else {
                    Issue.record("an insert must yield its row, got \(outcome)")
                    return
                }
                #expect(stored.submission == submission("a", 42, mode: "m"))
                #expect(rankIndex.rank(of: 41, gameMode: "m") == 2)
                #expect(writer.committedTransactions == 1)

                await writer.close()
                await #expect(throws: PersistenceError.shuttingDown) {
                    try await writer.perform(.insertScore(submission("late", 1)))
                }
                await #expect(throws: PersistenceError.shuttingDown) {
                    try await writer.perform(.deleteSavedGame(playerName: "a"))
                }
                await writer.close()
                #expect(writer.committedTransactions == 1)
                #expect(rankIndex.rank(of: .min, gameMode: nil) == 2)
                #expect(try RawDatabase(path: path).integer("SELECT COUNT(*) FROM scores") == 1)
            }
        }
    }

    @Test(
        "A failed batch is retried write by write until a lock, a full disk or a failing file, which fails the rest at once",
        arguments: [SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR | 3 << 8, SQLITE_READONLY])  // 3: IOERR_WRITE
    func retriesStopAtALockOrAFullDisk(_ stopping: Int32) {
        // Write 0 breaks a rule (its own failure), 1 commits, 2 meets what every write would.
        let verdicts: [Int32?] = [SQLITE_CONSTRAINT, nil, stopping, nil, nil]
        var tried: [Int] = []
        var failed: [Int: Int32] = [:]
        let stopped = BatchingWriter.retryOneByOne(
            Array(verdicts.indices),
            commit: { write throws(SQLiteError) in
                tried.append(write)
                if let code = verdicts[write] { throw SQLiteError(code: code, message: "test") }
            },
            fail: { write, error, wasTried in
                failed[write] = error.code
                #expect(wasTried == (write <= 2), "\(write)")
            })
        #expect(tried == [0, 1, 2], "3 and 4 would each have met it again")
        #expect(failed == [0: SQLITE_CONSTRAINT, 2: stopping, 3: stopping, 4: stopping])
        #expect(stopped?.code == stopping)

        tried.removeAll()
        failed.removeAll()
        let none = BatchingWriter.retryOneByOne(
            [0, 1, 2],
            commit: { write throws(SQLiteError) in
                tried.append(write)
                if write == 1 { throw SQLiteError(code: SQLITE_CONSTRAINT, message: "test") }
            },
            fail: { write, error, _ in failed[write] = error.code })
        #expect(tried == [0, 1, 2], "a write's own failure leaves the others theirs")
        #expect(failed == [1: SQLITE_CONSTRAINT])
        #expect(none == nil)
    }

    /// A sync that failed for a full disk left its commit in the WAL: that commit's writes may
    /// last. The writes after it in a batch retried one by one were in no commit.
    @Test("Only a write whose own commit's sync failed on a full disk is told it may have been saved")
    func failedSyncAnswers() {
        let failedSync = SQLiteError(code: SQLITE_IOERR | 4 << 8, message: "test", systemErrno: ENOSPC)  // IOERR_FSYNC
        #expect(BatchingWriter.persistenceError(for: failedSync, wasTried: true) == .diskFullAfterWriting)
        #expect(BatchingWriter.persistenceError(for: failedSync, wasTried: false) == .diskFull)
        let full = SQLiteError(code: SQLITE_FULL, message: "test")
        #expect(BatchingWriter.persistenceError(for: full, wasTried: true) == .diskFull)
        #expect(BatchingWriter.persistenceError(for: full, wasTried: false) == .diskFull)
    }
}

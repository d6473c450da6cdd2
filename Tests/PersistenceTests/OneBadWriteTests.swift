import CSystemSQLite
import Foundation
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// A failure that is one write's own (a rule it breaks, a page it reads) is retried without it;
/// one every write would meet fails the batch; and neither leaves the writer misjudging the disk.
@Suite("One bad write in a batch")
struct OneBadWriteTests {
    static let noCheaters = """
        CREATE TRIGGER no_cheaters BEFORE INSERT ON scores WHEN NEW.player_name = 'Cheater'
            BEGIN SELECT RAISE(ABORT, 'no cheaters'); END;
        """

    /// A store whose batches are `batchSize` writes (formed as the last arrives), on a file that
    /// refuses scores of 'Cheater'.
    private func withCheaterRefusingStore(
        batchSize: Int, _ body: (SQLiteGameStore, URL) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: batchSize, flushInterval: .seconds(30))
            try await withStore(configuration) { _ in }
            try RawDatabase(path: configuration.databasePath).execute(Self.noCheaters)
            try await withStore(configuration) { store in try await body(store, directory) }
        }
    }

    /// Submits `names`' scores at once; each one's error, or nil, in the order of `names`.
    private func submitTogether(_ names: [String], to store: SQLiteGameStore) async -> [PersistenceError?] {
        await withTaskGroup(of: (Int, PersistenceError?).self) { group in
            for (index, name) in names.enumerated() {
                group.addTask {
                    do { _ = try await store.submit(submission(name, 10 * Int64(index + 1))) } catch {
                        return (index, error as? PersistenceError ?? .storageFailure)
                    }
                    return (index, nil)
                }
            }
            var outcomes = [PersistenceError?](repeating: nil, count: names.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
    }

    @Test("A write a rule refuses fails alone: its batch's other writes commit, and memory takes only them")
    func aRefusedWriteFailsAlone() async throws {
        try await self.withCheaterRefusingStore(batchSize: 4) { store, directory in
            let (committed, failed) = (store.committedTransactions, store.failedTransactions)
            let outcomes = await self.submitTogether(["Ann", "Cheater", "Bo", "Cy"], to: store)
            #expect(outcomes == [nil, .storageFailure, nil, nil])
            #expect(store.failedTransactions == failed + 2, "the batch, then the refused write alone")
            #expect(store.committedTransactions == committed + 3, "each other write alone")
            let board = try await store.leaderboard(limit: 10, gameMode: nil)
            #expect(board.map(\.submission.playerName) == ["Cy", "Bo", "Ann"])
            #expect(try await store.rank(of: 0, gameMode: nil) == 4)
            #expect(try await store.rank(of: 15, gameMode: nil) == 3, "the refused 20 is nowhere")
            let raw = try RawDatabase(path: databasePath(in: directory))
            #expect(try raw.integer("SELECT COUNT(*) FROM scores") == 3)
        }
    }

    @Test(
        "After a full disk, a batch retried write by write without meeting it again ends the checkpoints before batches"
    )
    func retriesThatMeetNoFullDiskClearIt() async throws {
        try await self.withCheaterRefusingStore(batchSize: 2) { store, directory in
            #expect(await self.submitTogether(["a", "b"], to: store) == [nil, nil])
            let full = await InjectedWriteErrors.failingWrites(in: directory, with: ENOSPC) {
                await self.submitTogether(["c", "d"], to: store)
            }
            #expect(full == [.diskFull, .diskFull])
            // The batch's COMMIT failed: memory, fed only after a commit, lists and counts neither c nor d.
            let board = try await store.leaderboard(limit: 10, gameMode: nil)
            #expect(board.map(\.submission.playerName).sorted() == ["a", "b"])
            #expect(try await store.rank(of: 0, gameMode: nil) == 3)
            #expect(await self.submitTogether(["Cheater", "e"], to: store) == [.storageFailure, nil])
            #expect(store.checkpointsAfterDiskFull == 1, "one before the batch after the full disk")
            // e once: not from the batch the Cheater rolled back as well as from its retry alone.
            let after = try await store.leaderboard(limit: 10, gameMode: nil)
            #expect(after.map(\.submission.playerName).sorted() == ["a", "b", "e"])
            #expect(try await store.rank(of: 0, gameMode: nil) == 4)
            #expect(await self.submitTogether(["f", "g"], to: store) == [nil, nil])
            #expect(store.checkpointsAfterDiskFull == 1, "none once a batch's writes met no full disk")
        }
    }

    @Test(
        "I/O errors one page can cause, and memory running short, are retried write by write; a failing disk's are not")
    func whichFailuresEveryWriteWouldMeet() {
        func failsEveryWrite(_ code: Int32) -> Bool { SQLiteError(code: code, message: "").failsEveryWrite }
        #expect(!failsEveryWrite(SQLITE_IOERR | 1 << 8), "SQLITE_IOERR_READ")
        #expect(!failsEveryWrite(SQLITE_IOERR | 2 << 8), "SQLITE_IOERR_SHORT_READ")
        #expect(!failsEveryWrite(SQLITE_IOERR | 12 << 8), "SQLITE_IOERR_NOMEM")
        #expect(!failsEveryWrite(SQLITE_CORRUPT))
        #expect(!failsEveryWrite(SQLITE_CONSTRAINT | 7 << 8), "SQLITE_CONSTRAINT_TRIGGER")
        #expect(failsEveryWrite(SQLITE_IOERR))
        #expect(failsEveryWrite(SQLITE_IOERR | 3 << 8), "SQLITE_IOERR_WRITE")
        #expect(failsEveryWrite(SQLITE_IOERR | 4 << 8), "SQLITE_IOERR_FSYNC")
        #expect(failsEveryWrite(SQLITE_FULL))
        #expect(failsEveryWrite(SQLITE_BUSY))
        #expect(failsEveryWrite(SQLITE_READONLY))
    }
}

/// What a start asks of the disk and of other processes' locks.
@Suite("Start-up and the file")
struct StartUpFileTests {
    @Test("A start that cannot drop the mode index (a full disk) keeps it and opens")
    func aModeIndexThatCannotBeDroppedIsKept() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { store in _ = try await store.submit(submission("Ann", 10)) }
            // As an earlier run past --game-modes-in-memory left it; memory now holds every mode.
            let raw = try RawDatabase(path: configuration.databasePath)
            try raw.execute("CREATE INDEX idx_scores_mode_score ON scores(game_mode, score DESC)")
            let wal = directory.resolvingSymlinksInPath().path + "/game.db-wal"
            let store = try await InjectedWriteErrors.failingWrites(toFile: wal, with: ENOSPC) {
                try await SQLiteGameStore.open(configuration, logger: quietLogger)
            }
            #expect(try await store.submit(submission("Bo", 20)).id == 2)
            await store.close()
            let indexes = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_scores_mode_score'"
            #expect(try raw.integer(indexes) == 1)
            try await withStore(configuration) { _ in }  // with room to write, a start drops it
            #expect(try raw.integer(indexes) == 0)
        }
    }

    @Test("Readers wait out another process's lock as long as the writer does (lockTimeout)")
    func readersTakeTheLockTimeout() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            configuration.lockTimeout = .seconds(120)
            try await withStore(configuration) { store in
                #expect(!store.readersBusyTimeoutMilliseconds.isEmpty)
                #expect(store.readersBusyTimeoutMilliseconds.allSatisfy { $0 == 120_000 })
            }
        }
    }

    /// "Wait forever", as an embedder may write it, is SQLite's longest wait: it overflowed (a trap).
    @Test(arguments: [Duration.seconds(Int64.max), .seconds(Int64(Int32.max)), .seconds(3_000_000)])
    func aLockTimeoutPastSQLitesLongestIsItsLongest(timeout: Duration) {
        var configuration = PersistenceConfiguration(databasePath: "unused.db")
        configuration.lockTimeout = timeout
        #expect(configuration.lockTimeoutMilliseconds == Int32.max)
        configuration.lockTimeout = .milliseconds(1_500)
        #expect(configuration.lockTimeoutMilliseconds == 1_500)
    }
}

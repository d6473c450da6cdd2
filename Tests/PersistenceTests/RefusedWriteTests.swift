import Foundation
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// Writes the filesystem refuses with an `errno` SQLite reports as an I/O error, not as
/// `SQLITE_FULL` (``InjectedWriteErrors``).
@Suite("Writes the filesystem refuses")
struct RefusedWriteTests {
    static let batchSize = 8

    @Test(
        "A quota's EDQUOT or ENOSPC fails a batch as a full disk (503), EIO as a storage failure, in one transaction; nothing refused is stored; writes come back after",
        // ENOSPC: SQLite makes that SQLITE_FULL itself; EDQUOT and EIO are SQLITE_IOERR_WRITE.
        arguments: [(EDQUOT, PersistenceError.diskFull), (ENOSPC, .diskFull), (EIO, .storageFailure)])
    func refusedBatch(_ code: Int32, _ expected: PersistenceError) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            // A batch forms as its last write arrives (maxBatchSize), not on the timer.
            let configuration = PersistenceConfiguration(
                databasePath: path, maxBatchSize: Self.batchSize, flushInterval: .seconds(30))
            try await withStore(configuration) { store in
                #expect(await Self.submitBatch(to: store, named: "before").allSatisfy { $0 == nil })
                let failedBefore = store.failedTransactions
                let outcomes = await InjectedWriteErrors.failingWrites(in: directory, with: code) {
                    await Self.submitBatch(to: store, named: "refused")
                }
                #expect(outcomes.allSatisfy { ($0 as? PersistenceError) == expected }, "errno \(code): \(outcomes)")
                #expect(store.failedTransactions == failedBefore + 1, "each write retried alone would fail again")
                #expect(store.checkpointsAfterDiskFull == 0)
                // Memory takes rows only once their COMMIT succeeded: had it taken them inside the
                // transaction, the refused batch would be listed and counted though never stored.
                for mode in [nil, "classic"] as [String?] {
                    let names = try await store.leaderboard(limit: 100, gameMode: mode).map(\.submission.playerName)
                    #expect(names.sorted() == (0..<Self.batchSize).map { "before\($0)" }, "\(mode ?? "all")")
                    #expect(try await store.rank(of: 99, gameMode: mode) == Self.batchSize + 1, "\(mode ?? "all")")
                }
                #expect(await Self.submitBatch(to: store, named: "after").allSatisfy { $0 == nil })
                // After a full disk the next batch checkpoints first, so that the WAL can start over.
                #expect(store.checkpointsAfterDiskFull == (expected == .diskFull ? 1 : 0))
            }
            let database = try RawDatabase(path: path)
            #expect(try database.integer("SELECT COUNT(*) FROM scores") == Int64(2 * Self.batchSize))
            #expect(try database.integer("SELECT COUNT(*) FROM scores WHERE player_name LIKE 'refused%'") == 0)
        }
    }

    /// Submits one batch's worth of scores at once; each one's error, or nil.
    static func submitBatch(to store: SQLiteGameStore, named prefix: String) async -> [(any Error)?] {
        await withTaskGroup(of: (any Error)?.self) { group in
            for index in 0..<Self.batchSize {
                group.addTask {
                    do { _ = try await store.submit(submission("\(prefix)\(index)", 100)) } catch { return error }
                    return nil
                }
            }
            return await group.reduce(into: [(any Error)?]()) { $0.append($1) }
        }
    }
}

import Foundation
import Synchronization
import Testing

@testable import Persistence

/// Another process (an operator's `sqlite3` session) holding the database's write lock.
@Suite("A database locked by another process")
struct LockedDatabaseTests {
    static let lockTimeout: Duration = .milliseconds(300)

    @Test(
        "A batch blocked by the lock fails as one, once, with `locked`; the next batch after the lock commits",
        .timeLimit(.minutes(3)))
    func lockedBatchFailsOnce() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: 10, flushInterval: .seconds(30))
            configuration.lockTimeout = Self.lockTimeout
            try await withStore(configuration) { store in
                let lockHolder = try RawDatabase(path: configuration.databasePath)
                try lockHolder.execute("BEGIN IMMEDIATE")
                // Ten writes make one batch (maxBatchSize), flushed as the tenth arrives.
                let outcomes = await Self.submitBatch(to: store, named: "p")
                #expect(outcomes.allSatisfy { ($0 as? PersistenceError) == .locked }, "\(outcomes)")
                // Each write retried alone would wait out the lock again: 11 rollbacks, 3.3 s.
                #expect(store.failedTransactions == 1)

                try lockHolder.execute("ROLLBACK")
                #expect(await Self.submitBatch(to: store, named: "after").allSatisfy { $0 == nil })
                #expect(store.committedTransactions == 1)
            }
        }
    }

    /// Only an exclusive session opened before every other connection blocks WAL readers, so the
    /// lock is not made here: how the store answers the error SQLite gives is checked instead.
    @Test("A read that meets a lock or a full disk is a passing failure (503), not a write's 'nothing was saved'")
    func readFailures() {
        let busy = SQLiteError(code: 5, message: "database is locked")  // SQLITE_BUSY
        let full = SQLiteError(code: 13, message: "database or disk is full")  // SQLITE_FULL
        let corrupt = SQLiteError(code: 11, message: "database disk image is malformed")  // SQLITE_CORRUPT
        #expect(SQLiteGameStore.readFailure(for: busy) == .readUnavailable)
        #expect(SQLiteGameStore.readFailure(for: full) == .readUnavailable)
        #expect(SQLiteGameStore.readFailure(for: corrupt) == .storageFailure)
        #expect(SQLiteGameStore.readFailure(for: CancellationError()) == .storageFailure)
    }

    /// Submits ten scores at once (a whole batch here) and returns each one's error, if any.
    private static func submitBatch(to store: SQLiteGameStore, named prefix: String) async -> [(any Error)?] {
        await withTaskGroup(of: (any Error)?.self) { group in
            for index in 0..<10 {
                group.addTask {
                    do { _ = try await store.submit(submission("\(prefix)\(index)", 100)) } catch { return error }
                    return nil
                }
            }
            return await group.reduce(into: [(any Error)?]()) { $0.append($1) }
        }
    }

    @Test(
        "While a commit waits on the lock, writes beyond the queue's capacity are refused at once",
        .timeLimit(.minutes(3)))
    func capacityHoldsDuringAStall() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: 5, flushInterval: .seconds(30),
                writeQueueCapacity: 5)
            // Longer than the test: the batch waits on the lock until it is released below.
            configuration.lockTimeout = .seconds(120)
            try await withStore(configuration) { store in
                let lockHolder = try RawDatabase(path: configuration.databasePath)
                try lockHolder.execute("BEGIN IMMEDIATE")
                let order = EventLog()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<5 {  // one full batch, now waiting on the lock
                        group.addTask {
                            _ = try await store.submit(submission("p\(index)", 1))
                            order.record("batch")
                        }
                    }
                    // Not a fixed sleep: as the whole suite starts, the tasks may wait seconds for a thread.
                    let deadline = ContinuousClock.now + .seconds(30)
                    while store.unansweredWrites < 5 && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    // The writer's thread is blocked in SQLite: the queue's bound must hold without it.
                    group.addTask {
                        await #expect(throws: PersistenceError.overloaded) {
                            try await store.submit(submission("late", 1))
                        }
                        order.record("refused")
                    }
                    let refusedBy = ContinuousClock.now + .seconds(30)
                    while !order.events.contains("refused") && ContinuousClock.now < refusedBy {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    try lockHolder.execute("ROLLBACK")  // the batch commits (and a late write not refused)
                    try await group.waitForAll()
                }
                #expect(order.events == ["refused"] + Array(repeating: "batch", count: 5))
            }
        }
    }

    /// A write asked for while an earlier batch waits on the lock is stamped when it was asked,
    /// not when the writer's thread comes back to it.
    @Test("A write queued behind a batch blocked by the lock keeps the time it was asked for", .timeLimit(.minutes(3)))
    func createdAtIsWhenAskedWhileTheWriterWaitsOnTheLock() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), maxBatchSize: 1, flushInterval: .seconds(30))
            configuration.lockTimeout = .seconds(120)
            try await withStore(configuration) { store in
                let lockHolder = try RawDatabase(path: configuration.databasePath)
                try lockHolder.execute("BEGIN IMMEDIATE")
                try await withThrowingTaskGroup(of: StoredScore.self) { group in
                    group.addTask { try await store.submit(submission("first", 1)) }  // a batch of one, blocked
                    try await Self.waitUntil { store.unansweredWrites == 1 }
                    try await Task.sleep(for: .milliseconds(300))  // its commit has started
                    group.addTask { try await store.submit(submission("second", 2)) }
                    try await Self.waitUntil { store.unansweredWrites == 2 }
                    let asked = time(nil)  // no earlier than the second write's stamp
                    try await Task.sleep(for: .seconds(3))
                    try lockHolder.execute("ROLLBACK")
                    let stored = try await group.reduce(into: []) { $0.append($1) }
                    let second = try #require(stored.first { $0.submission.playerName == "second" })
                    // Stamped once the lock went, it would be 3 s later.
                    #expect(second.createdAt <= UTCTimestamp.string(from: asked), "asked by \(asked)")
                }
            }
        }
    }

    /// Waits up to 30 s (not a fixed sleep: as the whole suite starts, tasks may wait seconds for a thread).
    private static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Events in the order they happened, from any task.
private final class EventLog: Sendable {
    private let recorded = Mutex<[String]>([])
    func record(_ event: String) { self.recorded.withLock { $0.append(event) } }
    var events: [String] { self.recorded.withLock { $0 } }
}

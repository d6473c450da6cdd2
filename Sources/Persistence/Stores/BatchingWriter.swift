import CSystemSQLite
import Foundation
import Logging
import NIOCore
import Synchronization

/// The only code that writes to the database: collects writes from every caller and
/// commits them together in one transaction (group commit).
///
/// A batch is flushed when it holds `maxBatchSize` writes or `flushInterval` after its
/// first write, whichever comes first; each caller resumes only after the transaction
/// holding its write has committed. The actor runs on its own event-loop thread, so the
/// blocking SQLite calls never occupy the cooperative thread pool.
///
/// Each write's SQL is in `WriteOperation.swift`; preparing the file at start in
/// `BatchingWriter+StartUp.swift`; the index for game modes beyond memory in
/// `BatchingWriter+ModeIndex.swift`; the watch on the WAL file in `BatchingWriter+WALFile.swift`.
actor BatchingWriter {
    private struct PendingWrite {
        let operation: WriteOperation
        /// When it was asked for: its row's `created_at`, however long it waits for its batch
        /// (`--batch-window-ms` up to a minute, a lock held by another process).
        let askedAt: time_t
        let continuation: CheckedContinuation<WriteOutcome, any Error>
    }

    let connection: SQLiteConnection
    private let eventLoop: any EventLoop
    let modes: GameModesInMemory
    /// Whether `idx_scores_mode_score` exists (see ``createModeIndex(now:)``).
    var modeIndex = ModeIndex.absent
    enum ModeIndex {
        case absent, present
        /// The last build failed; the next is tried at `retryAt`, and one failing then waits `nextDelay`.
        case failed(retryAt: ContinuousClock.Instant, nextDelay: Duration)
    }
    /// The longest wait between builds of the mode index that keep failing.
    static let longestModeIndexRetryDelay = Duration.seconds(3_600)
    private let rankIndex: RankIndex
    private let leaderboards: LeaderboardIndex
    let configuration: PersistenceConfiguration
    let logger: Logger

    private var pending: [PendingWrite] = []
    private var flushIsScheduled = false
    /// Bumped by every flush, so a timer set for an earlier batch does not cut a later one short.
    private var flushGeneration = 0
    private(set) var isClosed = false
    /// A stop has begun (``stopWaitingForBatches()``): batches no longer wait out the window.
    private var commitsAtOnce = false
    /// The last batch failed for a full disk: checkpoint before the next one (`checkpointAfterDiskFull`).
    private var diskWasFull = false
    /// Levels of the events each batch may log again (a refused or failed batch).
    var repeatedEvents = RepeatedEventLevels()
    /// The database file the connection has open, once prepared (see ``closeConnection()``).
    var databaseFile: FileIdentity?
    /// The WAL file the connection commits to (see ``walFileHasMoved()``).
    var walFile = WALFile.unknown
    enum WALFile {
        /// The database is not prepared yet.
        case unknown
        case inPlace(FileIdentity)
        /// Deleted or replaced; `rescued` once the frames committed to it are copied into the database file.
        case moved(rescued: Bool)
    }
    /// Writes accepted and not yet answered, queued or in a batch being committed. Counted outside
    /// the actor: while a commit blocks its thread (a lock held by another process, a slow disk),
    /// `perform` cannot run on it, and the queue's bound must hold all the same.
    private let unanswered = Atomic<Int>(0)
    private let committedCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)
    private let diskFullCheckpointCount = Atomic<Int>(0)

    /// Transactions committed so far (tests); readable after close.
    nonisolated var committedTransactions: Int { self.committedCount.load(ordering: .relaxed) }
    /// Transactions that failed and were rolled back, retries of single writes included.
    nonisolated var failedTransactions: Int { self.failedCount.load(ordering: .relaxed) }
    /// Checkpoints tried before a batch because the one before it met a full disk (tests).
    nonisolated var checkpointsAfterDiskFull: Int { self.diskFullCheckpointCount.load(ordering: .relaxed) }
    /// Writes accepted and not yet answered (for tests), read without the actor.
    nonisolated var unansweredWrites: Int { self.unanswered.load(ordering: .relaxed) }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.eventLoop.executor.asUnownedSerialExecutor()
    }

    init(
        connection: SQLiteConnection, eventLoop: any EventLoop, modes: GameModesInMemory,
        rankIndex: RankIndex, leaderboards: LeaderboardIndex, configuration: PersistenceConfiguration, logger: Logger
    ) {
        self.connection = connection
        self.eventLoop = eventLoop
        self.modes = modes
        self.rankIndex = rankIndex
        self.leaderboards = leaderboards
        self.configuration = configuration
        self.logger = logger
    }

    /// Queues `operation` and returns its outcome once committed.
    ///
    /// Throws ``PersistenceError/overloaded`` at once when `writeQueueCapacity` writes are already
    /// waiting for their answers, even while the writer is busy committing.
    nonisolated func perform(_ operation: WriteOperation) async throws -> WriteOutcome {
        // Stamped here, not in the actor: while a commit blocks the actor's thread (a lock held by
        // another process), `enqueue` runs only when it comes back.
        let askedAt = time(nil)
        guard self.unanswered.add(1, ordering: .relaxed).newValue <= self.configuration.writeQueueCapacity else {
            self.unanswered.subtract(1, ordering: .relaxed)
            throw PersistenceError.overloaded
        }
        defer { self.unanswered.subtract(1, ordering: .relaxed) }
        return try await self.enqueue(operation, askedAt: askedAt)
    }

    private func enqueue(_ operation: WriteOperation, askedAt: time_t) async throws -> WriteOutcome {
        guard !self.isClosed else { throw PersistenceError.shuttingDown }
        return try await withCheckedThrowingContinuation { continuation in
            self.pending.append(PendingWrite(operation: operation, askedAt: askedAt, continuation: continuation))
            if self.pending.count >= self.configuration.maxBatchSize {
                self.flush()
            } else if !self.flushIsScheduled {
                self.scheduleFlush()
            }
        }
    }

    /// A stop has begun: what waits for the batch window commits now, and each later write as
    /// soon as the writer is free. The server waits for their answers before it closes the store,
    /// so a stop otherwise waited out the window (up to a minute).
    func stopWaitingForBatches() {
        self.commitsAtOnce = true
        self.flush()
    }

    /// Commits what is queued and refuses further writes (graceful shutdown).
    func close() {
        self.flush()
        // A WAL file deleted since the last batch: what it holds is lost at exit unless copied now.
        _ = self.walFileHasMoved()
        self.isClosed = true
    }

    /// The database's write-ahead log, where SQLite keeps it (beside a symbolic link's target).
    var walPath: String { self.connection.walPath }

    /// Closes the connection, after ``close()`` and after the readers' connections: the last to
    /// close copies the WAL into the database file and deletes it. SQLite does neither for a
    /// database file deleted or replaced meanwhile (``emptyWALIntoMovedDatabase()``); and one
    /// deleted, with no name left, is copied aside first (``copyDeletedDatabaseAside()``).
    func closeConnection() {
        var walToSetAside: (path: String, identity: FileIdentity)?
        if self.connection.fileHasMoved {
            walToSetAside = self.emptyWALIntoMovedDatabase()
            if self.databaseFile?.linksWhileOpen == 0 { self.copyDeletedDatabaseAside() }
        }
        self.connection.close()
        if let walToSetAside { self.setAside(walToSetAside) }
    }

    private func scheduleFlush() {
        self.flushIsScheduled = true
        let generation = self.flushGeneration
        // Bridges NIO's timer callback back into the actor: the callback runs on this
        // actor's own event loop, so `assumeIsolated` holds.
        let flushNow: @Sendable () -> Void = { [self] in
            self.assumeIsolated { writer in
                if writer.flushGeneration == generation { writer.flush() }
            }
        }
        let interval = self.commitsAtOnce ? .zero : self.configuration.flushInterval
        if interval <= .zero {
            // Runs after every write already queued for this actor has joined the batch.
            self.eventLoop.execute(flushNow)
        } else {
            self.eventLoop.scheduleTask(in: TimeAmount(interval), flushNow)
        }
    }

    private func flush() {
        self.flushIsScheduled = false
        self.flushGeneration &+= 1
        guard !self.pending.isEmpty else { return }
        let batch = self.pending
        self.pending.removeAll(keepingCapacity: true)
        // Two `stat`s per batch, one by SQLite for the database file and one for the WAL file.
        guard !self.connection.fileHasMoved else {
            self.refuse(batch, event: "persistence.database.moved", file: ["db.path": "\(self.connection.path)"])
            return
        }
        guard !self.walFileHasMoved() else {
            self.refuse(batch, event: "persistence.wal.moved", file: ["db.wal": "\(self.connection.walPath)"])
            return
        }

        if self.diskWasFull { self.checkpointAfterDiskFull() }
        do {
            let outcomes = try self.commit(batch)
            self.diskWasFull = false
            for (write, outcome) in zip(batch, outcomes) { write.continuation.resume(returning: outcome) }
        } catch {
            self.logger.log(
                level: self.repeatedEvents.level(.error, for: "persistence.batch.failed \(error.code)"),
                "persistence.batch.failed", metadata: ["db.batch.size": "\(batch.count)", "error": "\(error)"])
            if error.failsEveryWrite {
                // Every write would meet it again: a retry waits out the lock timeout, or the
                // failing disk, each.
                let failure = Self.persistenceError(for: error)
                for write in batch { write.continuation.resume(throwing: failure) }
                // A lock says nothing of the disk: a full one may still be full.
                if !error.isLocked { self.diskWasFull = error.isDiskFull }
                return
            }
            let stopped = Self.retryOneByOne(
                batch,
                commit: { write throws(SQLiteError) in
                    let outcome = try self.commit([write])[0]
                    write.continuation.resume(returning: outcome)
                },
                fail: { write, error, wasTried in
                    write.continuation.resume(throwing: Self.persistenceError(for: error, wasTried: wasTried))
                })
            if let stopped {
                if !stopped.isLocked { self.diskWasFull = stopped.isDiskFull }
                return  // what stopped the batch (a lock, a full disk) would stop a build as well
            }
            self.diskWasFull = false  // no write met a full disk
        }
        // A loop job of its own, queued after the batch's writers (their tasks go first): a build
        // reads the whole table.
        guard self.modes.hasOverflowed else { return }
        if case .present = self.modeIndex { return }
        // The loop is this actor's executor, so its job is isolated to it (checked at run time).
        self.eventLoop.execute { self.assumeIsolated { $0.createModeIndexIfOverflowed() } }
    }

    /// Retries each write of a failed batch on its own, so that one bad write does not fail its
    /// neighbours, until one meets what every write would (``SQLiteError/failsEveryWrite``: a lock,
    /// a full disk, a failing file): every write after it would meet that too (a lock after waiting
    /// out the lock timeout, each: minutes for a batch), so they fail with it at once, untried
    /// (`fail`'s third argument false). Returns that error, if one did.
    static func retryOneByOne<Write>(
        _ batch: [Write], commit: (Write) throws(SQLiteError) -> Void,
        fail: (Write, SQLiteError, _ wasTried: Bool) -> Void
    ) -> SQLiteError? {
        for (index, write) in batch.enumerated() {
            do throws(SQLiteError) {
                try commit(write)
            } catch {
                fail(write, error, true)
                guard error.failsEveryWrite else { continue }
                for rest in batch[(index + 1)...] { fail(rest, error, false) }
                return error
            }
        }
        return nil
    }

    /// Acknowledged, these writes would be lost for good: the file they would go to is gone.
    /// `file` is that file's path, under its key (`db.path` or `db.wal`).
    private func refuse(_ batch: [PendingWrite], event: Logger.Message, file: Logger.Metadata) {
        self.logger.log(
            level: self.repeatedEvents.level(.critical, for: event.description),
            event, metadata: file.merging(["effect": "writes refused until the server restarts"]) { named, _ in named })
        for write in batch { write.continuation.resume(throwing: PersistenceError.storageFailure) }
    }

    /// Runs `writes` in one transaction; rolls back and rethrows on any failure.
    private func commit(_ writes: [PendingWrite]) throws(SQLiteError) -> [WriteOutcome] {
        let outcomes: [WriteOutcome]
        do {
            outcomes = try self.connection.inTransaction { () throws(SQLiteError) in
                var outcomes: [WriteOutcome] = []
                outcomes.reserveCapacity(writes.count)
                var timestamp = (seconds: time_t(-1), text: "")  // one formatting a second
                for write in writes {
                    if write.askedAt != timestamp.seconds {
                        timestamp = (write.askedAt, UTCTimestamp.string(from: write.askedAt))
                    }
                    outcomes.append(try self.connection.apply(write.operation, createdAt: timestamp.text))
                }
                return outcomes
            }
        } catch {
            self.failedCount.add(1, ordering: .relaxed)
            throw error
        }
        self.committedCount.add(1, ordering: .relaxed)
        // Committed, and no submitter has resumed yet: from here on every reader sees the rows.
        let scores = outcomes.compactMap { if case .score(let stored) = $0 { stored } else { nil } }
        self.rankIndex.add(scores.lazy.map(\.submission))
        self.leaderboards.add(scores)
        self.logger.trace("persistence.batch.committed", metadata: ["db.batch.size": "\(writes.count)"])
        return outcomes
    }

    /// On a full disk the WAL cannot start over until a checkpoint has copied its frames into
    /// the database file, which must grow for the pages they added; SQLite tries that only after
    /// a commit succeeds, and the commit first needs new WAL space for its frames. Checkpointing
    /// before each batch that follows a disk-full failure lets freed space go to that copy first;
    /// the batch then reuses the WAL's own space, so it needs no room of its own. Costs nothing
    /// while writes succeed.
    private func checkpointAfterDiskFull() {
        self.diskFullCheckpointCount.add(1, ordering: .relaxed)
        do {
            try self.connection.checkpointPassively()
            self.logger.notice("persistence.checkpoint.after_disk_full", metadata: ["result": "done"])
        } catch {
            // Still full: the batch fails as before, and the next one tries again.
            self.logger.debug("persistence.checkpoint.after_disk_full", metadata: ["error": "\(error)"])
        }
    }

    /// What a write that met `sqlite` is told. One that was not tried (failed with the write that
    /// met it, ``retryOneByOne(_:commit:fail:)``) was in no commit: a failed sync saved nothing of it.
    static func persistenceError(for sqlite: SQLiteError, wasTried: Bool = true) -> PersistenceError {
        if sqlite.isDiskFull { return sqlite.isFailedSync && wasTried ? .diskFullAfterWriting : .diskFull }
        if sqlite.isLocked { return .locked }
        return sqlite.isFailedSync && wasTried ? .storageFailureAfterWriting : .storageFailure
    }
}

import Foundation
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The game's storage on one SQLite file: scores, saved games and bosses.
///
/// Writes go through one ``BatchingWriter`` (group commit on its own thread); reads go
/// round-robin to read-only connections on threads of their own; ranks and leaderboards
/// come from an in-memory ``RankIndex`` and ``LeaderboardIndex`` kept in step with every
/// commit. As a `Service` it commits what is pending and stops taking writes on graceful
/// shutdown.
public final class SQLiteGameStore: ScoreStore, SavedGameStore, BossCatalog, Service {
    private let writer: BatchingWriter
    private let readers: [SQLiteReader]
    private let rankIndex: RankIndex
    private let leaderboards: LeaderboardIndex
    private let threads: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let nextReader = Atomic<Int>(0)
    /// When each failed read's kind was last logged at its level (``read(_:)``).
    private let readFailureLevels = Mutex(RepeatedEventLevels())
    private let lifecycle = StoreLifecycle()
    /// This server's hold on the database, let go once it is closed.
    private let lock: DatabaseLock

    private init(
        writer: BatchingWriter, readers: [SQLiteReader], rankIndex: RankIndex, leaderboards: LeaderboardIndex,
        threads: MultiThreadedEventLoopGroup, lock: DatabaseLock, logger: Logger
    ) {
        self.lock = lock
        self.writer = writer
        self.readers = readers
        self.rankIndex = rankIndex
        self.leaderboards = leaderboards
        self.threads = threads
        self.logger = logger
    }

    /// Opens (creating if needed) the database, migrates its schema, seeds the bosses
    /// and loads the rank index and the leaderboards.
    ///
    /// - Throws: ``StoreOpeningError`` with a message fit for an operator.
    public static func open(_ configuration: PersistenceConfiguration, logger: Logger) async throws -> SQLiteGameStore {
        let path = Self.absolute(configuration.databasePath)
        try self.createDirectory(of: path)
        var existing = stat()
        let foundEmptyFile = stat(path, &existing) == 0 && existing.st_size == 0
        let lock = try DatabaseLock(databasePath: path)  // creates the file if need be
        let threads = MultiThreadedEventLoopGroup(numberOfThreads: 1 + configuration.readerCount)
        let loops = Array(threads.makeIterator())
        do {
            let modes = GameModesInMemory(capacity: configuration.gameModesInMemory)
            let rankIndex = RankIndex(modes: modes)
            let leaderboards = LeaderboardIndex(length: configuration.inMemoryLeaderboardLength, modes: modes)
            let writer = BatchingWriter(
                connection: try SQLiteConnection(
                    path: path, readOnly: false, busyTimeoutMilliseconds: configuration.lockTimeoutMilliseconds),
                eventLoop: loops[0], modes: modes,
                rankIndex: rankIndex, leaderboards: leaderboards, configuration: configuration, logger: logger
            )
            let migratedFrom = try await writer.prepareDatabase()
            let synchronous = try await writer.synchronousLevel()
            let readers = try await self.openReaders(
                of: path, busyTimeoutMilliseconds: configuration.lockTimeoutMilliseconds, on: loops.dropFirst())
            let gameModes = try await self.loadMemory(
                from: readers[0], writer: writer, modes: modes, rankIndex: rankIndex, leaderboards: leaderboards,
                logger: logger)
            logger.info(
                "persistence.opened",
                metadata: [
                    "db.path": "\(path)", "db.schema.from": "\(migratedFrom)",
                    "db.schema.version": "\(migrations.count)", "db.readers": "\(readers.count)",
                    "db.game_modes": "\(gameModes)", "db.sync": "\(synchronous)",
                ]
            )
            if foundEmptyFile {
                // A first start finds no file at all; an empty one was most likely cut short (a
                // copy that failed, a full disk), and its scores are gone from it.
                logger.warning(
                    "persistence.database.was_empty",
                    metadata: [
                        "db.path": "\(path)",
                        "effect":
                            "a new, empty database was made in the empty file: if it held scores, restore a backup",
                    ])
            }
            return SQLiteGameStore(
                writer: writer, readers: readers, rankIndex: rankIndex, leaderboards: leaderboards,
                threads: threads, lock: lock, logger: logger
            )
        } catch {
            try? await threads.shutdownGracefully()
            throw StoreOpeningError(path: path, reason: error.reasonAtStart)
        }
    }

    /// `path` from the root: SQLite reads a path that starts with `file:` as a URI (the system's
    /// library is built so), so `--data-dir file:data` would lock one folder and open another.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// `mkdir -p`: nil once `path` is a directory, else the `errno` of the step that failed, so
    /// that the message can say why ("Permission denied"; Foundation's own error said "The
    /// operation could not be completed"). Each directory gets what the umask leaves of 0777, as
    /// with Foundation.
    private static func makeDirectories(_ path: String) -> Int32? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return isDirectory.boolValue ? nil : ENOTDIR
        }
        if mkdir(path, 0o777) == 0 { return nil }
        var failure = errno
        if failure == ENOENT {
            let parent = (path as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != path else { return failure }
            if let parentFailure = self.makeDirectories(parent) { return parentFailure }
            if mkdir(path, 0o777) == 0 { return nil }
            failure = errno
        }
        // Made meanwhile by another process: a directory all the same.
        return failure == EEXIST && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && isDirectory.boolValue ? nil : failure
    }

    /// Creates the folder the database file goes in, if it has one.
    private static func createDirectory(of path: String) throws(StoreOpeningError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty else { return }
        if let failure = Self.makeDirectories(directory) {
            let reason = String(cString: strerror(failure))
            throw StoreOpeningError(path: path, reason: "cannot create directory \(directory): \(reason)")
        }
    }

    /// One read-only connection per loop, its queries prepared (a table the file lacks fails here).
    private static func openReaders(
        of path: String, busyTimeoutMilliseconds: Int32, on loops: ArraySlice<any EventLoop>
    ) async throws(SQLiteError) -> [SQLiteReader] {
        var readers: [SQLiteReader] = []
        for loop in loops {
            let connection = try SQLiteConnection(
                path: path, readOnly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            let reader = SQLiteReader(connection: connection, eventLoop: loop)
            try await reader.prepareQueries()
            readers.append(reader)
        }
        return readers
    }

    /// Fills the rank index and the leaderboards from the table, storing any non-integer score as
    /// an integer first, and makes or drops the mode index as the modes overflow memory or not.
    /// - Returns: how many game modes the table holds.
    private static func loadMemory(
        from reader: SQLiteReader, writer: BatchingWriter, modes: GameModesInMemory, rankIndex: RankIndex,
        leaderboards: LeaderboardIndex, logger: Logger
    ) async throws(SQLiteError) -> Int {
        // One scan of the table feeds both indexes; only the leaderboards' rows are read in full.
        let scan = try await reader.scanScores()
        if !scan.nonIntegerScores.isEmpty {
            try await writer.storeScoresAsIntegers(scan.nonIntegerScores)
            logger.warning(
                "persistence.scores.stored_as_integers",
                metadata: ["count": "\(scan.nonIntegerScores.count)", "first.id": "\(scan.nonIntegerScores[0].id)"])
        }
        let scoresByMode = scan.positionsByMode
        modes.load(rowCounts: scoresByMode.mapValues(\.count))
        if modes.hasOverflowed {
            await writer.createModeIndex()
            logger.warning(
                "persistence.game_modes.overflow",
                metadata: [
                    "game_modes": "\(scoresByMode.count)", "game_modes.in_memory": "\(modes.capacity)",
                    "hint": "raise --game-modes-in-memory",
                ])
        } else {
            await writer.dropModeIndex()
        }
        rankIndex.load(scoresByMode.mapValues { $0.map(\.score) })
        let leaderboardRowIDs = LeaderboardIndex.rowIDsToLoad(
            from: scoresByMode, length: leaderboards.length, modes: modes)
        leaderboards.load(try await reader.scores(withIDs: leaderboardRowIDs))
        return scoresByMode.count
    }

    // MARK: Service

    /// Waits for graceful shutdown, then commits pending writes and releases the threads.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    /// For a stop that has begun and waits for answers before ``close()`` (an HTTP server's):
    /// writes waiting for the batch window (``PersistenceConfiguration/flushInterval``) commit
    /// now, and later ones as soon as the writer is free, so the stop does not wait out the window.
    public func stopBatching() async {
        // Admitted as a call, so that it never reaches a writer the close has let go.
        guard (try? self.lifecycle.enter()) != nil else { return }  // closing: `close()` commits it all
        defer { self.lifecycle.leave() }
        await self.writer.stopWaitingForBatches()
    }

    /// Commits what is pending, lets calls already under way finish, and refuses
    /// everything after. Every caller returns only once the store is fully closed.
    public func close() async {
        guard self.lifecycle.beginClosing() else {
            await self.lifecycle.waitUntilClosed()
            return
        }
        await self.writer.close()
        await self.lifecycle.waitForCallsInProgress()
        // The writer's connection last: closing, it copies the WAL into the database file and
        // deletes it, so that a stopped server leaves every commit in `game.db` (a backup of that
        // file alone holds them). Left to the exit, recent commits stayed in `game.db-wal` alone.
        for reader in self.readers { await reader.close() }
        let walPath = await self.writer.walPath  // beside a symbolic link's target
        await self.writer.closeConnection()
        self.lock.release()
        try? await self.threads.shutdownGracefully()
        let walKept = FileManager.default.fileExists(atPath: walPath)
        self.logger.info("persistence.closed", metadata: ["db.wal": "\(walKept ? "kept" : "removed")"])
        self.lifecycle.finishClosing()
    }

    /// Reads sent to the reader connections since opening (tests).
    var readsStarted: Int { self.nextReader.load(ordering: .relaxed) }

    /// Transactions the writer has committed since opening.
    public var committedTransactions: Int { self.writer.committedTransactions }
    /// Transactions the writer has rolled back since opening, retries of single writes included.
    public var failedTransactions: Int { self.writer.failedTransactions }
    /// Writes accepted and not yet answered: queued, or in a batch being committed.
    public var unansweredWrites: Int { self.writer.unansweredWrites }
    /// Checkpoints tried before a batch because the one before it met a full disk (tests).
    var checkpointsAfterDiskFull: Int { self.writer.checkpointsAfterDiskFull }
    /// How long each reader waits out another process's lock (for tests).
    var readersBusyTimeoutMilliseconds: [Int32] { self.readers.map(\.busyTimeoutMilliseconds) }

    // MARK: ScoreStore

    public func submit(_ score: ScoreSubmission) async throws -> StoredScore {
        guard case .score(let stored) = try await self.write(.insertScore(score)) else {
            preconditionFailure("an insert always yields its row")
        }
        return stored
    }

    public func leaderboard(limit: Int, gameMode: String?) async throws -> [StoredScore] {
        do {
            try self.lifecycle.enter()
            defer { self.lifecycle.leave() }
            if let rows = self.leaderboards.leaderboard(limit: limit, gameMode: gameMode) { return rows }
            // A mode no row has (any client can name one) is answered here: while the index is
            // missing (its build failed on a full disk or a lock), SQLite would scan the whole
            // table for it, holding up every read queued on that reader.
            if let gameMode, !self.rankIndex.hasScores(inMode: gameMode) { return [] }
        }
        // Longer than memory keeps: SQLite scans the whole table. A mode memory does not hold (only
        // after an overflow) is read through `idx_scores_mode_score`, made at that overflow.
        return try await self.read { try await $0.leaderboard(limit: limit, gameMode: gameMode) }
    }

    public func personalBest(playerName: String) async throws -> StoredScore? {
        try await self.read { try await $0.personalBest(playerName: playerName) }
    }

    public func rank(of score: Int64, gameMode: String?) async throws -> Int {
        try self.lifecycle.enter()
        defer { self.lifecycle.leave() }
        return self.rankIndex.rank(of: score, gameMode: gameMode)
    }

    // MARK: SavedGameStore

    public func save(_ game: SavedGame) async throws {
        _ = try await self.write(.saveGame(game))
    }

    public func load(playerName: String) async throws -> SavedGame? {
        try await self.read { try await $0.savedGame(playerName: playerName) }
    }

    public func delete(playerName: String) async throws {
        _ = try await self.write(.deleteSavedGame(playerName: playerName))
    }

    // MARK: BossCatalog

    public func bosses() async throws -> [Boss] {
        try await self.read { try await $0.bosses() }
    }

    // MARK: Plumbing

    private func write(_ operation: WriteOperation) async throws -> WriteOutcome {
        try self.lifecycle.enter()
        defer { self.lifecycle.leave() }
        return try await self.writer.perform(operation)
    }

    private func read<Result: Sendable>(
        _ query: (SQLiteReader) async throws -> Result
    ) async throws(PersistenceError) -> Result {
        try self.lifecycle.enter()
        defer { self.lifecycle.leave() }
        let index = self.nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        do {
            return try await query(self.readers[index % self.readers.count])
        } catch {
            // Once every 10 s at error for each SQLite result code: a damaged file fails every
            // read, and a client would otherwise write the log at the rate it sends requests.
            let code = (error as? SQLiteError).map { "\($0.code)" } ?? "other"
            let level = self.readFailureLevels.withLock { $0.level(.error, for: "persistence.read.failed \(code)") }
            self.logger.log(level: level, "persistence.read.failed", metadata: ["error": "\(error)"])
            throw Self.readFailure(for: error)
        }
    }

    /// What a failed read answers: a lock or a full disk is passing, and a read has nothing it
    /// could have lost ("Storage full, nothing was saved" is a write's answer); anything else is a 500.
    static func readFailure(for error: any Error) -> PersistenceError {
        guard let error = error as? SQLiteError, error.isLocked || error.isDiskFull else { return .storageFailure }
        return .readUnavailable
    }
}

/// The database could not be opened or prepared at start-up.
public struct StoreOpeningError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot use database \(self.path): \(self.reason)" }
}

/// How the SQLite store is laid out and how it batches writes.
public struct PersistenceConfiguration: Sendable {
    /// Path of the database file; created with its schema when missing.
    public var databasePath: String
    /// A batch is committed once it holds this many writes (default 256).
    public var maxBatchSize: Int
    /// …or this long after its first write, whichever comes first. Zero (the default)
    /// commits as soon as the writer has taken every write already waiting for it,
    /// which batches under load without delaying a lone write.
    public var flushInterval: Duration
    /// Writes waiting beyond this many are refused with ``PersistenceError/overloaded`` (default 10,000).
    public var writeQueueCapacity: Int
    /// Read-only connections, each on its own thread (default 2).
    public var readerCount: Int
    /// `FULL` (default) survives power loss too, at an fsync per batch (one per group commit, not
    /// per write); `NORMAL` survives a process crash only: a power loss may undo the last commits,
    /// acknowledged ones included. The old backend's SQLite defaults kept what it acknowledged.
    public var synchronous: SynchronousMode
    /// How long the writer waits for another process's lock on the database (an operator's
    /// `sqlite3` session) before the batch fails with ``PersistenceError/locked`` (default 5 s).
    public var lockTimeout: Duration = .seconds(5)
    /// Rows of each leaderboard (every game mode, and all modes) kept in memory (default 100,
    /// the longest leaderboard the HTTP API serves). A longer leaderboard is read from SQLite,
    /// which has no score index for it: the same rows, after a scan of the whole table.
    public var inMemoryLeaderboardLength: Int
    /// Game modes whose leaderboards and rank counters are kept in memory (default 1,000); the
    /// others' leaderboards are read from SQLite through an index on `(game_mode, score)`, made when
    /// the first one appears, and their ranks come from one counter they share (``ModeScore``).
    /// Games have a handful of modes; this bounds what made-up ones can cost.
    public var gameModesInMemory: Int
    /// How long after a failed build of that index (a full disk, another process's lock) the
    /// writer tries again (default 60 s), doubling after each failure up to an hour: without it
    /// a leaderboard of a mode memory does not hold scans the whole table.
    public var modeIndexRetryDelay: Duration = .seconds(60)

    /// ``lockTimeout`` as SQLite's busy timeout takes it.
    var lockTimeoutMilliseconds: Int32 {
        let (seconds, attoseconds) = self.lockTimeout.components
        // Clamped before it is multiplied: `.seconds(Int64.max)`, "wait forever", overflowed.
        return Int32(
            clamping: min(max(0, seconds), Int64(Int32.max)) * 1_000 + max(0, attoseconds) / 1_000_000_000_000_000)
    }

    /// SQLite's `PRAGMA synchronous` levels that are safe in WAL mode.
    public enum SynchronousMode: String, Sendable, CaseIterable {
        case normal = "NORMAL"
        case full = "FULL"
    }

    public init(
        databasePath: String,
        maxBatchSize: Int = 256,
        flushInterval: Duration = .zero,
        writeQueueCapacity: Int = 10_000,
        readerCount: Int = 2,
        synchronous: SynchronousMode = .full,
        inMemoryLeaderboardLength: Int = 100,
        gameModesInMemory: Int = 1_000
    ) {
        self.databasePath = databasePath
        self.maxBatchSize = max(1, maxBatchSize)
        self.flushInterval = flushInterval
        self.writeQueueCapacity = max(1, writeQueueCapacity)
        self.readerCount = max(1, readerCount)
        self.synchronous = synchronous
        self.inMemoryLeaderboardLength = max(0, inMemoryLeaderboardLength)
        self.gameModesInMemory = max(0, gameModesInMemory)
    }
}

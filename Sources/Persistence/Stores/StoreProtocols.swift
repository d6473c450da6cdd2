/// The global leaderboard: durable score rows and the queries the game makes of them.
public protocol ScoreStore: Sendable {
    /// Stores a score; returns only once the row is committed (and synced to the disk, unless
    /// ``PersistenceConfiguration/synchronous`` is `normal`).
    func submit(_ score: ScoreSubmission) async throws -> StoredScore
    /// The best `limit` scores, highest first; ties go to the earlier submission.
    func leaderboard(limit: Int, gameMode: String?) async throws -> [StoredScore]
    /// The player's best score (earliest among equals), or `nil` if they have none.
    func personalBest(playerName: String) async throws -> StoredScore?
    /// 1 + the number of stored scores strictly greater than `score` (within `gameMode` if given).
    func rank(of score: Int64, gameMode: String?) async throws -> Int
}

/// Saved games, one per player name.
public protocol SavedGameStore: Sendable {
    /// Inserts or replaces the player's save; returns once committed.
    func save(_ game: SavedGame) async throws
    /// The player's save, or `nil`.
    func load(playerName: String) async throws -> SavedGame?
    /// Removes the player's save (succeeds when there was none); returns once committed.
    func delete(playerName: String) async throws
}

/// The boss gallery.
public protocol BossCatalog: Sendable {
    /// Every boss ordered by `bossIndex`.
    func bosses() async throws -> [Boss]
}

/// Why a storage call failed, in terms a caller can act on.
public enum PersistenceError: Error, Equatable, Sendable {
    /// The write queue is full: try again shortly (HTTP 503).
    case overloaded
    /// The store is shutting down and takes no more writes (HTTP 503).
    case shuttingDown
    /// The disk is full: nothing was stored (HTTP 507-like; we answer 503).
    case diskFull
    /// The disk is full, found so only as the commit was synced (`--sync full`): the write was
    /// not acknowledged, and is gone once the next commit succeeds, but its commit is in the WAL
    /// file, so a crash before that commit keeps it (HTTP 503).
    case diskFullAfterWriting
    /// Another process held the database's write lock past ``PersistenceConfiguration/lockTimeout``:
    /// nothing was stored; try again (HTTP 503).
    case locked
    /// A read met a lock held elsewhere past the busy timeout (an operator's exclusive session), or
    /// a disk too full for its temporary space: nothing changed; try again (HTTP 503).
    case readUnavailable
    /// The commit's sync failed for another reason (an I/O error): as with
    /// ``diskFullAfterWriting``, the write was not acknowledged but a crash may keep it (HTTP 500).
    case storageFailureAfterWriting
    /// Any other storage failure; details are in the server log only.
    case storageFailure
}

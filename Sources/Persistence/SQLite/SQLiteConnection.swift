import CSystemSQLite

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe by design: each connection is owned by exactly one actor
/// (the writer or a reader), which runs it on its own dedicated thread.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    let path: String
    /// How long a statement waits out another connection's lock before failing with `SQLITE_BUSY`,
    /// as SQLite itself reports it (-1 if it cannot be read).
    var busyTimeoutMilliseconds: Int32 {
        (try? self.scalarInteger("PRAGMA busy_timeout")).flatMap { Int32(exactly: $0) } ?? -1
    }

    /// Opens (and for a writer, creates) the database at `path`.
    init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32 = 5_000) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "cannot open \(path): \(message)")
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    private var isClosed = false

    deinit {
        self.close()
    }

    /// Closes the connection now, rather than when it is freed; nothing may use it after. The
    /// last connection to a WAL database to close copies the WAL into the database file and
    /// deletes it, if it can write (so the writer closes last).
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.statements.removeAll()  // finalized, so that the close is not put off
        sqlite3_close_v2(self.handle)
    }

    /// Runs one or more statements that take no parameters and return no rows we need.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(self.handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw self.error(rc, doing: sql) }
    }

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`, so a lock held elsewhere fails at
    /// `BEGIN`, after the busy timeout, not part-way through): committed when it returns, rolled
    /// back when it, `BEGIN` or `COMMIT` throws.
    func inTransaction<Result>(_ body: () throws(SQLiteError) -> Result) throws(SQLiteError) -> Result {
        do {
            try self.execute("BEGIN IMMEDIATE")
            let result = try body()
            try self.execute("COMMIT")
            return result
        } catch {
            try? self.execute("ROLLBACK")  // (nothing to roll back if BEGIN failed)
            throw error
        }
    }

    /// Runs `body` with the cached prepared statement for `sql` (prepared on first use),
    /// and resets it afterwards so no half-read statement keeps a transaction open.
    func withStatement<Result>(
        _ sql: String, _ body: (SQLiteStatement) throws(SQLiteError) -> Result
    ) throws(SQLiteError) -> Result {
        let statement = try self.statement(sql)
        defer { statement.reset() }
        return try body(statement)
    }

    /// Prepares `sql` into the cache without running it: throws if a table or column it names is missing.
    func prepare(_ sql: String) throws(SQLiteError) {
        _ = try self.statement(sql)
    }

    private func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = self.statements[sql] {
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(self.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw self.error(rc, doing: sql) }
        let statement = SQLiteStatement(raw, connection: self)
        self.statements[sql] = statement
        return statement
    }

    /// Whether the database file was deleted, renamed or replaced since it was opened
    /// (`SQLITE_FCNTL_HAS_MOVED`): a write would then go to a file nobody opens again.
    var fileHasMoved: Bool {
        var moved: Int32 = 0
        return sqlite3_file_control(self.handle, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved != 0
    }

    /// The WAL file SQLite uses, once the database is in WAL mode: beside the database file it
    /// resolved, which is not `path` when that is a symbolic link.
    var walPath: String {
        guard let database = sqlite3_db_filename(self.handle, "main"), let wal = sqlite3_filename_wal(database) else {
            return self.path + "-wal"
        }
        return String(cString: wal)
    }

    /// Copies as much of the WAL into the database file as no reader still needs, without
    /// waiting for anyone (`SQLITE_CHECKPOINT_PASSIVE`). Once every frame is copied, the next
    /// write transaction starts the WAL over from its beginning instead of growing it.
    func checkpointPassively() throws(SQLiteError) {
        let rc = sqlite3_wal_checkpoint_v2(self.handle, "main", SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        guard rc == SQLITE_OK else { throw self.error(rc, doing: "wal_checkpoint(PASSIVE)") }
    }

    /// Copies every frame of the WAL this connection has open into the database file, waiting up
    /// to the busy timeout for readers still on them, then cuts that WAL to nothing
    /// (`SQLITE_CHECKPOINT_TRUNCATE`). Throws `SQLITE_BUSY` when some frames could not be copied.
    func checkpointCompletely() throws(SQLiteError) {
        let rc = sqlite3_wal_checkpoint_v2(self.handle, "main", SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
        guard rc == SQLITE_OK else { throw self.error(rc, doing: "wal_checkpoint(TRUNCATE)") }
    }

    /// Whether a transaction is open: false after `COMMIT`, `ROLLBACK`, or a failure that rolled
    /// the whole transaction back (`ON CONFLICT ROLLBACK`, `RAISE(ROLLBACK)`, some I/O errors).
    var isInTransaction: Bool { sqlite3_get_autocommit(self.handle) == 0 }

    /// The rowid of the last successful INSERT on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(self.handle) }

    /// Rows the last INSERT, UPDATE or DELETE on this connection changed.
    var changes: Int32 { sqlite3_changes(self.handle) }

    /// The first column of the first row of `sql` as an integer (0 when there is no row).
    func scalarInteger(_ sql: String) throws(SQLiteError) -> Int64 {
        try self.withStatement(sql) { statement throws(SQLiteError) in
            try statement.step() ? statement.int64(at: 0) : 0
        }
    }

    /// The first column of the first row of `sql` as text ("" when there is no row).
    func scalarText(_ sql: String) throws(SQLiteError) -> String {
        try self.withStatement(sql) { statement throws(SQLiteError) in
            try statement.step() ? statement.text(at: 0) : ""
        }
    }

    func error(_ rc: Int32, doing what: String) -> SQLiteError {
        // A statement's line breaks and indentation folded, as the message goes into one log line;
        // a long one cut, the cut marked.
        let statement = what.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let quoted = statement.count > 300 ? statement.prefix(300) + "…" : statement
        return SQLiteError(
            code: rc, message: "\(String(cString: sqlite3_errmsg(self.handle))) (while: \(quoted))",
            systemErrno: Self.failedWriteOrSync.contains(rc) ? self.lastWriteErrno() : 0)
    }

    /// `SQLITE_IOERR_WRITE` (what a full quota's `EDQUOT` gives) and `SQLITE_IOERR_FSYNC` (what a
    /// filesystem that finds itself full only as it writes back its cache gives: NFS, a
    /// thin-provisioned volume).
    private static let failedWriteOrSync: Set<Int32> = [SQLITE_IOERR | 3 << 8, SQLITE_IOERR | 4 << 8]

    /// For a failed write or sync (``failedWriteOrSync``): what the last failed system call on the
    /// WAL file, or else on the database file, set `errno` to (`SQLITE_FCNTL_LAST_ERRNO`).
    /// (`sqlite3_system_errno` says 0 for a failed COMMIT.) A file keeps its value until its next
    /// failure, so only these errors ask, and the WAL first: a commit writes to it alone, and
    /// syncs it alone, so its value is the fresh one then. A checkpoint's failed sync of the
    /// database file may be reported with the WAL's older value; only logs read a checkpoint's.
    private func lastWriteErrno() -> Int32 {
        var wal: UnsafeMutablePointer<sqlite3_file>?
        if sqlite3_file_control(self.handle, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK, let wal,
            let fileControl = wal.pointee.pMethods?.pointee.xFileControl
        {
            var code: Int32 = 0
            if fileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &code) == SQLITE_OK, code != 0 { return code }
        }
        var code: Int32 = 0
        return sqlite3_file_control(self.handle, "main", SQLITE_FCNTL_LAST_ERRNO, &code) == SQLITE_OK ? code : 0
    }
}

import CSystemSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed SQLite call: the result code and SQLite's own message.
///
/// The message can contain SQL; it is for logs only and never reaches a client.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The primary or extended SQLite result code (`SQLITE_FULL`, `SQLITE_NOTADB`, …).
    public let code: Int32
    /// SQLite's explanation, plus what we were doing.
    public let message: String
    /// For a failed write or sync (`SQLITE_IOERR_WRITE`, `SQLITE_IOERR_FSYNC`), the `errno` it met
    /// (``SQLiteConnection``); else 0.
    public let systemErrno: Int32

    public init(code: Int32, message: String, systemErrno: Int32 = 0) {
        self.code = code
        self.message = message
        self.systemErrno = systemErrno
    }

    /// Whether the failure is the disk running out of space for this file: `SQLITE_FULL`, or a
    /// failed write that met a quota's `EDQUOT` (SQLite reports it as `SQLITE_IOERR_WRITE`, not as
    /// full), or `ENOSPC` where SQLite did not turn it into `SQLITE_FULL` itself (a sync's).
    public var isDiskFull: Bool {
        self.code & 0xFF == SQLITE_FULL
            || (self.code & 0xFF == SQLITE_IOERR && [ENOSPC, EDQUOT].contains(self.systemErrno))
    }
    /// Whether a sync failed (`SQLITE_IOERR_FSYNC`): what it was to make lasting is written
    /// already, and may last (``PersistenceError/diskFullAfterWriting``).
    public var isFailedSync: Bool { self.code == SQLITE_IOERR | 4 << 8 }
    /// Whether another connection held a lock past the busy timeout.
    public var isLocked: Bool { [SQLITE_BUSY, SQLITE_LOCKED].contains(self.code & 0xFF) }
    /// Whether every other write would meet it too: a lock, a full disk, or the file failing (an
    /// I/O error writing or syncing, a file read-only, not a database or gone). Only a write's own
    /// failures (a rule it breaks, a value too large, a corrupt or unreadable page it touches, or
    /// memory running short) are worth retrying its neighbours without it.
    var failsEveryWrite: Bool {
        guard !Self.pageReadFailures.contains(self.code) else { return false }
        return self.isLocked || self.isDiskFull
            || [SQLITE_IOERR, SQLITE_READONLY, SQLITE_NOTADB, SQLITE_CANTOPEN].contains(self.code & 0xFF)
    }
    /// I/O errors one page can cause (a bad sector under it), or memory running short, which fail
    /// fast: `SQLITE_IOERR_READ`, `_SHORT_READ` and `_NOMEM` (macros Swift does not import).
    static let pageReadFailures: Set<Int32> = [SQLITE_IOERR | 1 << 8, SQLITE_IOERR | 2 << 8, SQLITE_IOERR | 12 << 8]
    /// Whether a UNIQUE or PRIMARY KEY rule refused a row for repeating one the table holds.
    /// (`SQLITE_CONSTRAINT_PRIMARYKEY` and `_UNIQUE` are macros Swift does not import.)
    var isUniquenessViolation: Bool { [SQLITE_CONSTRAINT | 6 << 8, SQLITE_CONSTRAINT | 8 << 8].contains(self.code) }
    /// Whether a hand-made rule skipped a row without an error (`ON CONFLICT IGNORE`, a trigger's
    /// `RAISE(IGNORE)`): a write that changed nothing. Not SQLite's own code: the server's, from
    /// the count of rows changed, with an extended number SQLite does not use.
    var isSkippedRow: Bool { self.code == Self.skippedRowCode }
    static let skippedRowCode = SQLITE_CONSTRAINT | 99 << 8

    /// The error for a write that a rule of `table` skipped.
    static func skippedRow(in table: String) -> SQLiteError {
        SQLiteError(code: Self.skippedRowCode, message: "the \(table) table skipped the row (a rule IGNOREs it)")
    }
    /// Whether a statement failed on what the tables are, not on the file, the disk, a lock or
    /// memory: an unknown table or column (`SQLITE_ERROR`), a rule or a trigger's `RAISE`
    /// (`SQLITE_CONSTRAINT`), a column's type (`SQLITE_MISMATCH`).
    var isAboutTheTables: Bool { [SQLITE_ERROR, SQLITE_CONSTRAINT, SQLITE_MISMATCH].contains(self.code & 0xFF) }
    /// What an operator is told of this error when the store cannot open: a file that is no
    /// database, one with a damaged page (SQLite's words, and what often saves its rows), or
    /// SQLite's message.
    var reasonAtStart: String {
        switch self.code & 0xFF {
        case SQLITE_NOTADB: "not a valid SQLite database"
        case SQLITE_CORRUPT:
            "the database is damaged (\(self.message)); `sqlite3 FILE .recover` (or `.dump`, where that fails) can often save its rows"
        default: self.message
        }
    }

    public var description: String {
        let system = self.systemErrno == 0 ? "" : " (errno \(self.systemErrno))"
        return "SQLite error \(self.code): \(self.message)\(system)"
    }
}

import CSystemSQLite

/// SQLite's "transient" destructor: makes it copy bound text before `bind` returns. SQLite's own
/// `SQLITE_TRANSIENT` is this cast in C (`(sqlite3_destructor_type)-1`), a marker never called.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement owned by a ``SQLiteConnection``; bind, step, read columns.
final class SQLiteStatement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { sqlite3_finalize(self.handle) }

    /// Clears bindings and rewinds so the statement can run again.
    func reset() {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
    }

    /// Binds values to the parameters `?1, ?2, …` in order.
    func bind(_ values: SQLiteValue...) throws(SQLiteError) {
        try self.bind(values)
    }

    /// Binds an array of values to `?1, ?2, …` in order.
    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .integer(let number): rc = sqlite3_bind_int64(self.handle, index, number)
            case .text(let string):
                // An explicit byte count, so text with an embedded NUL is stored whole.
                rc = string.utf8CString.withUnsafeBufferPointer {
                    sqlite3_bind_text(self.handle, index, $0.baseAddress, Int32($0.count - 1), transient)
                }
            case .null: rc = sqlite3_bind_null(self.handle, index)
            }
            guard rc == SQLITE_OK else { throw self.connection.error(rc, doing: "bind") }
        }
    }

    /// Advances to the next row: `true` while a row is available, `false` when done.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(self.handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = self.connection.error(rc, doing: String(cString: sqlite3_sql(self.handle)))
            sqlite3_reset(self.handle)
            throw error
        }
    }

    /// Column `index` of the current row as a 64-bit integer.
    func int64(at index: Int32) -> Int64 { sqlite3_column_int64(self.handle, index) }

    /// Whether column `index` of the current row is stored as an integer (not converted to one).
    func isInteger(at index: Int32) -> Bool { sqlite3_column_type(self.handle, index) == SQLITE_INTEGER }

    /// Column `index` of the current row as text ("" for NULL).
    func text(at index: Int32) -> String {
        self.withTextBytes(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Column `index` of the current row as its UTF-8 bytes (none for NULL), without making a
    /// `String`; the bytes are valid only inside `body`.
    func withTextBytes<Result>(at index: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        guard let bytes = sqlite3_column_text(self.handle, index) else {
            return body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return body(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(self.handle, index))))
    }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case null
}

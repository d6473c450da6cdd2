/// What migration step 4 (``SQLiteConnection/trimStoredNames()``) changed.
struct NameTrimming: Equatable {
    /// Scores whose player name or game mode was trimmed.
    var scores = 0
    /// Saved games renamed to their trimmed name.
    var savedGames = 0
    /// Saved games deleted because a newer one had the same trimmed name.
    var savedGamesDeleted = 0
    /// Rows left as they were because a name or mode is whitespace alone, which trimmed would be
    /// empty: no write stores that.
    var leftBlank = 0

    var changedAnything: Bool { self != NameTrimming() }
}

/// What trimming makes of one stored name or mode.
private enum Trimmed: Equatable {
    case unchanged
    case blank
    case changed(String)

    init(_ text: String) {
        let trimmed = Whitespace.trimmed(text)
        // A trimmed string is the original less some code points at its ends: the same length is the same text.
        if trimmed.utf8.count == text.utf8.count {
            self = .unchanged
        } else {
            self = trimmed.isEmpty ? .blank : .changed(trimmed)
        }
    }

    var isChanged: Bool { if case .changed = self { true } else { false } }

    /// What to store in place of `text`: trimmed, unless it is whitespace alone.
    func replacing(_ text: String) -> String {
        if case .changed(let trimmed) = self { trimmed } else { text }
    }
}

/// Rows to trim collected per query: a file whose every row needs trimming is not held in memory at once.
private let pageSize = 10_000

/// Whether UTF-8 `bytes` may have whitespace at either end: their first or last byte is not
/// printable ASCII. A whitespace code point's never are (ASCII whitespace is a space or below, and
/// every byte of a longer code point is 0x80 or above), so other rows are skipped without a `String`
/// made of them: a 1M-row table that needs nothing is read in ~0.25 s, a third of what SQL's
/// `unicode()` and `substr()` took.
private func mayNeedTrimming(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let first = bytes.first, let last = bytes.last else { return false }
    return !(0x21...0x7E).contains(first) || !(0x21...0x7E).contains(last)
}

extension SQLiteConnection {
    /// Trims `scores.player_name`, `scores.game_mode` and `saved_games.player_name` as the server
    /// trims every name and mode it writes or looks up, so that rows the old backend stored with
    /// whitespace around them are found again. Runs inside the migration's transaction.
    func trimStoredNames() throws(SQLiteError) -> NameTrimming {
        var trimming = NameTrimming()
        try self.trimScores(&trimming)
        try self.trimSavedGames(&trimming)
        return trimming
    }

    private func trimScores(_ trimming: inout NameTrimming) throws(SQLiteError) {
        let select = """
            SELECT id, player_name, game_mode FROM scores WHERE id > ? ORDER BY id
            """
        try self.forEachRowToTrim(of: select, texts: 2) { id, texts throws(SQLiteError) in
            let name = Trimmed(texts[0])
            let mode = Trimmed(texts[1])
            if name == .blank || mode == .blank { trimming.leftBlank += 1 }
            guard name.isChanged || mode.isChanged else { return }
            try self.run(
                "UPDATE scores SET player_name = ?, game_mode = ? WHERE id = ?",
                .text(name.replacing(texts[0])), .text(mode.replacing(texts[1])), .integer(id))
            trimming.scores += 1
        }
    }

    /// Renames each saved game to its trimmed name. `player_name` is UNIQUE: when a save already has
    /// that name, the newer of the two (by `timestamp`, then the later row) is kept and the other deleted.
    private func trimSavedGames(_ trimming: inout NameTrimming) throws(SQLiteError) {
        let select = """
            SELECT id, player_name FROM saved_games WHERE id > ? ORDER BY id
            """
        try self.forEachRowToTrim(of: select, texts: 1) { id, texts throws(SQLiteError) in
            switch Trimmed(texts[0]) {
            case .unchanged: break
            case .blank: trimming.leftBlank += 1
            case .changed(let trimmed): try self.renameSavedGame(id, to: trimmed, &trimming)
            }
        }
    }

    /// Calls `body` with each row of `select` that may need trimming: its id (column 0) and the
    /// `texts` text columns after it. Collects up to ``pageSize`` such rows, then resumes after the
    /// last id read (`select`'s one parameter), so that no query is open while `body` writes.
    private func forEachRowToTrim(
        of select: String, texts: Int32, _ body: (Int64, [String]) throws(SQLiteError) -> Void
    ) throws(SQLiteError) {
        var afterID = Int64.min
        while true {
            var page: [(id: Int64, texts: [String])] = []
            let lastRead = try self.withStatement(select) { statement throws(SQLiteError) -> Int64? in
                try statement.bind(.integer(afterID))
                var lastRead: Int64?
                while page.count < pageSize, try statement.step() {
                    let id = statement.int64(at: 0)
                    lastRead = id
                    if (1...texts).contains(where: { statement.withTextBytes(at: $0, mayNeedTrimming) }) {
                        page.append((id, (1...texts).map { statement.text(at: $0) }))
                    }
                }
                return lastRead
            }
            guard let lastRead else { return }
            afterID = lastRead
            for row in page { try body(row.id, row.texts) }
        }
    }

    private func renameSavedGame(_ id: Int64, to name: String, _ trimming: inout NameTrimming) throws(SQLiteError) {
        if let holder = try self.savedGameID(named: name) {
            let newer = try self.newerSavedGame(id, holder)
            try self.run("DELETE FROM saved_games WHERE id = ?", .integer(newer == id ? holder : id))
            trimming.savedGamesDeleted += 1
            guard newer == id else { return }
        }
        try self.run("UPDATE saved_games SET player_name = ? WHERE id = ?", .text(name), .integer(id))
        trimming.savedGames += 1
    }

    private func savedGameID(named name: String) throws(SQLiteError) -> Int64? {
        try self.withStatement("SELECT id FROM saved_games WHERE player_name = ?") { select throws(SQLiteError) in
            try select.bind(.text(name))
            return try select.step() ? select.int64(at: 0) : nil
        }
    }

    /// The id of the newer of two saved games, ordered as SQLite orders their `timestamp`s; on a tie,
    /// the later row.
    private func newerSavedGame(_ first: Int64, _ second: Int64) throws(SQLiteError) -> Int64 {
        try self.withStatement(
            "SELECT id FROM saved_games WHERE id IN (?, ?) ORDER BY timestamp DESC, id DESC LIMIT 1"
        ) { select throws(SQLiteError) in
            try select.bind(.integer(first), .integer(second))
            try select.step()
            return select.int64(at: 0)
        }
    }

    private func run(_ sql: String, _ values: SQLiteValue...) throws(SQLiteError) {
        try self.withStatement(sql) { statement throws(SQLiteError) in
            try statement.bind(values)
            try statement.step()
        }
    }
}

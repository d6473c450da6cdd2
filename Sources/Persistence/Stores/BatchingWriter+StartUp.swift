import Logging

extension ScoreSubmission {
    /// An ordinary score, written and rolled back at start (``BatchingWriter/checkTablesTakeWrites()``).
    static let startUpSample = ScoreSubmission(
        playerName: "start-up check", score: 100, coins: 1, enemiesDefeated: 1, distance: 100, level: 1,
        gameMode: "levels")
    /// Tried when a rule skips ``startUpSample``: it differs in every field, so a rule that skips
    /// both skips every row (a column the server does not fill, declared `NOT NULL ON CONFLICT IGNORE`).
    static let otherStartUpSample = ScoreSubmission(
        playerName: "second check", score: 0, coins: 0, enemiesDefeated: 0, distance: 0, level: 2,
        gameMode: "endless")
}

extension SavedGame {
    /// An ordinary save, written and rolled back at start (``BatchingWriter/checkTablesTakeWrites()``).
    static let startUpSample = SavedGame(
        playerName: "start-up check", level: 1, score: 100, lives: 3, health: 100, coins: 1, weapon: "sword")
    /// Tried when a rule skips ``startUpSample``, as ``ScoreSubmission/otherStartUpSample`` is.
    static let otherStartUpSample = SavedGame(
        playerName: "second check", level: 2, score: 0, lives: 1, health: 50, coins: 0, weapon: "bow")
}

extension BatchingWriter {
    /// What the WAL file is cut back to when it starts over: about the size SQLite's automatic
    /// checkpoint (at 1,000 pages of 4 KiB) keeps it to, so a steady load never has it cut.
    static let walSizeLimitBytes = 4 << 20

    /// Puts the database in WAL mode with the configured durability and migrates it.
    ///
    /// - Returns: the schema version found before migrating.
    func prepareDatabase() throws(SQLiteError) -> Int {
        // Refuse a newer schema before touching the file (switching to WAL changes it).
        try self.connection.checkSchemaIsNotNewer()
        let mode = try self.connection.scalarText("PRAGMA journal_mode = WAL")
        guard mode.lowercased() == "wal" else {
            throw SQLiteError(code: 1, message: "cannot switch to WAL journal mode (got \(mode))")
        }
        try self.connection.execute("PRAGMA synchronous = \(self.configuration.synchronous.rawValue)")
        // SQLite never shrinks the WAL by default: after a spike (a reader holding old frames, a
        // large migration) the file keeps its peak size, and on a full disk commits go on filling
        // that space while every checkpoint fails, piling up pages the database file must grow by
        // before anything can be written again. This cuts the file back to one checkpoint's worth
        // (1,000 pages) when the WAL starts over: once per checkpoint, not per write.
        try self.connection.execute("PRAGMA journal_size_limit = \(Self.walSizeLimitBytes)")
        try self.logMigrationAhead()
        let outcome = try self.connection.migrate()
        if let trimming = outcome.nameTrimming, trimming.changedAnything { self.logNameTrimming(trimming) }
        if !outcome.addedScoreColumns.isEmpty {
            self.logger.warning(
                "persistence.scores.columns_added",
                metadata: ["columns": "\(outcome.addedScoreColumns.joined(separator: ","))", "value": "0"])
        }
        try self.checkTablesTakeWrites()
        try self.warnOfRulesMemoryCannotSee()
        self.databaseFile = FileIdentity(path: self.connection.path)
        self.watchWALFile()
        return outcome.versionBefore
    }

    /// Says that a file with tables in it (an older server's, or the old backend's) is about to
    /// be migrated: on a large one that takes seconds, with nothing else logged meanwhile. A new
    /// file's tables are made at once, unannounced.
    private func logMigrationAhead() throws(SQLiteError) {
        let version = Int(try self.connection.scalarInteger("PRAGMA user_version"))
        guard version < migrations.count,
            try self.connection.scalarInteger("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')") == 1
        else { return }
        self.logger.info(
            "persistence.migrating",
            metadata: [
                "db.schema.from": "\(version)", "db.schema.to": "\(migrations.count)",
                "effect": "the server starts once it is done (seconds for a large file)",
            ])
    }

    /// SQLite's `synchronous` level as the writer's connection has it (`normal`, `full`, or a number).
    func synchronousLevel() throws(SQLiteError) -> String {
        let level = try self.connection.scalarInteger("PRAGMA synchronous")
        return switch level {
        case 1: "normal"
        case 2: "full"
        default: "\(level)"
        }
    }

    /// Makes each kind of write once (a score or a save a rule skipped, twice: the second differs
    /// in every field), in a transaction it then rolls back, so that a table this server cannot
    /// write to is refused at start rather than failing every score or save with a 500: a
    /// hand-made or altered `game.db` whose table lacks a column, requires one this server does
    /// not fill, or has a CHECK, a trigger or a view that refuses (or skips) ordinary rows. Leaves
    /// nothing behind, not even a used-up id. Other failures (the disk, a lock, memory) are thrown
    /// as they are, without the advice to fix the table.
    ///
    /// It runs after the migrations have committed, so a refused file has been migrated already,
    /// as before this check: the steps are ones the old backend reads alike.
    private func checkTablesTakeWrites() throws(SQLiteError) {
        let samples: [(table: String, writes: [WriteOperation])] = [
            ("scores", [.insertScore(.startUpSample), .insertScore(.otherStartUpSample)]),
            ("saved_games", [.saveGame(.startUpSample), .saveGame(.otherStartUpSample)]),
            ("saved_games", [.deleteSavedGame(playerName: SavedGame.startUpSample.playerName)]),
        ]
        try self.connection.execute("BEGIN IMMEDIATE")
        defer { try? self.connection.execute("ROLLBACK") }
        for (table, writes) in samples {
            for (index, write) in writes.enumerated() {
                do {
                    _ = try self.connection.apply(write, createdAt: UTCTimestamp.now())
                    break
                } catch  where error.isSkippedRow && index + 1 < writes.count {
                    continue  // a rule skipping this row (scores of 100 and more, say): try the other
                } catch  where error.isUniquenessViolation {
                    // The table takes rows, only not one repeating a row it holds (a player of the
                    // sample's name has a score in its mode, say): like any write, later ones with
                    // other values go in. Not a reason to refuse the file. A rule declared `ON
                    // CONFLICT ROLLBACK` has ended the transaction, though: the writes that follow
                    // must not run outside one, where they would be kept (and change a save of the
                    // sample's name).
                    if !self.connection.isInTransaction { try self.connection.execute("BEGIN IMMEDIATE") }
                    break
                } catch  where error.isAboutTheTables {
                    let reason =
                        error.isSkippedRow
                        ? "it skipped \(writes.count) rows that differ in every field (a rule IGNOREs them)"
                        : error.message
                    throw SQLiteError(
                        code: error.code,
                        message: "table \(table) cannot take this server's writes: \(reason); "
                            + "fix the table or start on a new database")
                }
            }
        }
    }

    /// The leaderboards and ranks in memory take each score the server commits and assume the
    /// table only grows. A hand-made trigger on `scores`, or a unique rule that REPLACEs, can delete
    /// or change rows behind them (one row per player, say): they would go on showing those until
    /// a restart. Such a file still opens, with a warning saying so.
    private func warnOfRulesMemoryCannotSee() throws(SQLiteError) {
        let rules = try self.connection.scoresRulesMemoryCannotSee()
        guard rules.triggers > 0 || rules.mayReplace else { return }
        self.logger.warning(
            "persistence.scores.rules_unseen",
            metadata: [
                "triggers": "\(rules.triggers)", "replace_rule": "\(rules.mayReplace)",
                "effect": "rows these delete or change show on leaderboards and ranks until a restart",
            ])
    }

    /// Once migrated: the rows the old backend stored with whitespace around a name or mode now
    /// hold them trimmed, and saves that then had one name were cut to the newest.
    private func logNameTrimming(_ trimming: NameTrimming) {
        self.logger.warning(
            "persistence.names.trimmed",
            metadata: [
                "scores": "\(trimming.scores)", "saved_games": "\(trimming.savedGames)",
                "saved_games.deleted": "\(trimming.savedGamesDeleted)", "left_blank": "\(trimming.leftBlank)",
            ])
    }

    /// Stores each of these scores as the integer the server reads for it, so that SQL's
    /// `ORDER BY score` (personal bests) agrees with the in-memory leaderboards and ranks.
    func storeScoresAsIntegers(_ positions: [LeaderboardPosition]) throws(SQLiteError) {
        try self.connection.inTransaction { () throws(SQLiteError) in
            try self.connection.withStatement("UPDATE scores SET score = ? WHERE id = ?") {
                update throws(SQLiteError) in
                for position in positions {
                    update.reset()
                    try update.bind(.integer(position.score), .integer(position.id))
                    try update.step()
                }
            }
        }
    }
}

extension SQLiteConnection {
    /// The triggers on `scores`, and whether its definition may REPLACE rows (a unique rule's
    /// `ON CONFLICT REPLACE`; read from the SQL text, so a column or default named so counts too:
    /// it only adds a warning).
    func scoresRulesMemoryCannotSee() throws(SQLiteError) -> (triggers: Int64, mayReplace: Bool) {
        let triggers = try self.scalarInteger(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'scores' COLLATE NOCASE")
        let replaces = try self.scalarInteger(
            """
            SELECT COUNT(*) FROM sqlite_master
            WHERE type = 'table' AND name = 'scores' COLLATE NOCASE AND sql LIKE '%REPLACE%'
            """)
        return (triggers, replaces > 0)
    }
}

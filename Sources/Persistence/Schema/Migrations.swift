/// Ordered schema migrations; `PRAGMA user_version` records how many have run.
///
/// Version 1 is the original FastAPI backend's schema (same tables and columns,
/// `IF NOT EXISTS`), so its `game.db` files open unchanged and gain what follows.
/// Append new steps; never edit a released one.
let migrations: [Migration] = [
    // 1: the legacy schema.
    """
    CREATE TABLE IF NOT EXISTS scores (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        player_name TEXT NOT NULL,
        score INTEGER NOT NULL,
        coins INTEGER NOT NULL,
        enemies_defeated INTEGER NOT NULL,
        distance INTEGER NOT NULL,
        level INTEGER NOT NULL,
        game_mode TEXT NOT NULL,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    );
    CREATE TABLE IF NOT EXISTS bosses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        boss_index INTEGER NOT NULL UNIQUE,
        boss_name TEXT NOT NULL,
        notorious_title TEXT NOT NULL,
        frame_x INTEGER NOT NULL,
        frame_y INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS saved_games (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        player_name TEXT NOT NULL UNIQUE,
        level INTEGER NOT NULL,
        score INTEGER NOT NULL,
        lives INTEGER NOT NULL,
        health INTEGER NOT NULL,
        coins INTEGER NOT NULL,
        weapon TEXT NOT NULL,
        timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX IF NOT EXISTS idx_score_desc ON scores(score DESC);
    """,
    // 2: indexes for the per-mode leaderboard and personal bests (rowid breaks ties).
    """
    CREATE INDEX IF NOT EXISTS idx_scores_mode_score ON scores(game_mode, score DESC);
    CREATE INDEX IF NOT EXISTS idx_scores_player_score ON scores(player_name, score DESC);
    """,
    // 3: leaderboards are served from memory (`LeaderboardIndex`); these two indexes only cost
    //    random page writes on every insert. Personal bests keep `idx_scores_player_score`.
    """
    DROP INDEX IF EXISTS idx_score_desc;
    DROP INDEX IF EXISTS idx_scores_mode_score;
    """,
    // 4: the old backend stored names and modes as sent; this server trims them before every write
    //    and lookup, so one sent with spaces around it could no longer be found.
    .trimStoredNames,
]

/// One schema step: SQL, or Swift for what SQL cannot do as the server does it.
enum Migration: Sendable, ExpressibleByStringLiteral {
    case sql(String)
    /// ``SQLiteConnection/trimStoredNames()``.
    case trimStoredNames

    /// A step written as SQL alone (so the released steps above stay as they were written).
    init(stringLiteral sql: String) { self = .sql(sql) }
}

/// What ``SQLiteConnection/migrate()`` did.
struct MigrationOutcome {
    /// The schema version before migrating (0 for a new file).
    var versionBefore: Int
    /// What step 4 changed, when it ran.
    var nameTrimming: NameTrimming?
    /// The counters an early `scores` table lacked and was given
    /// (``SQLiteConnection/addMissingScoreCounters()``).
    var addedScoreColumns: [String] = []
}

extension SQLiteConnection {
    /// Brings the schema up to date in one transaction, gives an early `scores` table its missing
    /// counters, and seeds the boss gallery if empty.
    @discardableResult
    func migrate() throws(SQLiteError) -> MigrationOutcome {
        try self.checkSchemaIsNotNewer()
        var outcome = MigrationOutcome(versionBefore: Int(try self.scalarInteger("PRAGMA user_version")))
        try self.inTransaction { () throws(SQLiteError) in
            for step in migrations[outcome.versionBefore...] {
                switch step {
                case .sql(let sql): try self.execute(sql)
                case .trimStoredNames: outcome.nameTrimming = try self.trimStoredNames()
                }
            }
            // Only when it changes: a commit with nothing to write writes nothing, and a restart
            // after a crash on a full disk needs no room for a WAL frame.
            if outcome.versionBefore < migrations.count {
                try self.execute("PRAGMA user_version = \(migrations.count)")
            }
            outcome.addedScoreColumns = try self.addMissingScoreCounters()
            try self.checkSavedGamesAreUniquePerPlayer()
            try self.seedBossesIfEmpty()
        }
        return outcome
    }

    /// Throws when the file was written by a newer server than this one, or its version is not
    /// one this server writes (negative: another tool's use of `user_version`).
    func checkSchemaIsNotNewer() throws(SQLiteError) {
        let version = Int(try self.scalarInteger("PRAGMA user_version"))
        guard version >= 0 else {
            throw SQLiteError(
                code: 1,
                message: "database schema version \(version) is not one this server writes (0…\(migrations.count))")
        }
        guard version <= migrations.count else {
            throw SQLiteError(
                code: 1,
                message: "database schema version \(version) is newer than this server (\(migrations.count))"
            )
        }
    }

    /// Throws when `saved_games` lacks `UNIQUE(player_name)`, which a save's upsert needs: a
    /// hand-made table without it would open, then fail every save with a 500.
    private func checkSavedGamesAreUniquePerPlayer() throws(SQLiteError) {
        let uniqueByPlayer = try self.scalarInteger(
            """
            SELECT COUNT(*) FROM pragma_index_list('saved_games') AS list
            WHERE list."unique" = 1 AND (SELECT group_concat(name) FROM pragma_index_info(list.name)) = 'player_name'
            """)
        guard uniqueByPlayer > 0 else {
            throw SQLiteError(
                code: 1,
                message:
                    "table saved_games has no UNIQUE(player_name), which saving needs; add it or start on a new database"
            )
        }
    }

    private func seedBossesIfEmpty() throws(SQLiteError) {
        guard try self.scalarInteger("SELECT COUNT(*) FROM bosses") == 0 else { return }
        for (index, boss) in bossCatalogue.enumerated() {
            try self.withStatement(
                "INSERT INTO bosses (boss_index, boss_name, notorious_title, frame_x, frame_y) VALUES (?, ?, ?, 0, 0)"
            ) { insert throws(SQLiteError) in
                try insert.bind(.integer(Int64(index)), .text(boss.name), .text(boss.title))
                try insert.step()
            }
        }
    }
}

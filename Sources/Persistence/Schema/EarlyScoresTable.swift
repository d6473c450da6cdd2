/// The counters the game's first backend did not store: the project's seed document shows its
/// `init_db()` making `scores` of `id`, `player_name`, `score`, `game_mode` and `created_at`
/// alone, and the FastAPI backend that followed only created tables that did not exist yet.
let scoreCountersOfLaterBackends = ["coins", "enemies_defeated", "distance", "level"]

extension SQLiteConnection {
    /// Adds to an early `scores` table the counters it lacks, as `0` for the rows it holds, so that
    /// its scores stay on the leaderboards and new ones can be written.
    ///
    /// A repair, not a numbered migration: it changes nothing in a table that has them (every file
    /// of the FastAPI backend or of this server), so the schema version, and which releases may
    /// open the file, stays as it was. Runs inside the migration's transaction.
    ///
    /// - Returns: the columns added, in table order.
    func addMissingScoreCounters() throws(SQLiteError) -> [String] {
        var present = Set<String>()
        // SQLite matches column names without regard to ASCII case, as `lower()` folds them: a
        // table with `Coins` has the counter, and adding `coins` would fail as a duplicate.
        try self.withStatement("SELECT lower(name) FROM pragma_table_info('scores')") { row throws(SQLiteError) in
            while try row.step() { present.insert(row.text(at: 0)) }
        }
        let missing = scoreCountersOfLaterBackends.filter { !present.contains($0) }
        for column in missing {
            try self.execute("ALTER TABLE scores ADD COLUMN \(column) INTEGER NOT NULL DEFAULT 0")
        }
        return missing
    }
}

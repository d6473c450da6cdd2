import CSystemSQLite

/// One write the batching writer commits on a caller's behalf.
enum WriteOperation: Sendable {
    case insertScore(ScoreSubmission)
    case saveGame(SavedGame)
    case deleteSavedGame(playerName: String)
}

/// What a committed ``WriteOperation`` produced.
enum WriteOutcome: Sendable {
    case score(StoredScore)
    case done
}

extension SQLiteConnection {
    /// Runs one write's statement, in the transaction the caller holds.
    func apply(_ operation: WriteOperation, createdAt: String) throws(SQLiteError) -> WriteOutcome {
        switch operation {
        case .insertScore(let score):
            try self.withStatement(
                """
                INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
            ) { insert throws(SQLiteError) in
                try insert.bind(
                    .text(score.playerName), .integer(score.score), .integer(score.coins),
                    .integer(score.enemiesDefeated), .integer(score.distance), .integer(score.level),
                    .text(score.gameMode), .text(createdAt)
                )
                try insert.step()
            }
            // A hand-made rule may skip the row without an error (`ON CONFLICT IGNORE`, a trigger's
            // `RAISE(IGNORE)`): then there is no new id, and nothing to rank, acknowledge or remember.
            guard self.changes == 1 else { throw SQLiteError.skippedRow(in: "scores") }
            return .score(StoredScore(id: self.lastInsertRowID, submission: score, createdAt: createdAt))
        case .saveGame(let game):
            try self.withStatement(
                """
                INSERT INTO saved_games (player_name, level, score, lives, health, coins, weapon, timestamp)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(player_name) DO UPDATE SET
                    level = excluded.level, score = excluded.score, lives = excluded.lives,
                    health = excluded.health, coins = excluded.coins, weapon = excluded.weapon,
                    timestamp = excluded.timestamp
                """
            ) { upsert throws(SQLiteError) in
                try upsert.bind(
                    .text(game.playerName), .integer(game.level), .integer(game.score), .integer(game.lives),
                    .integer(game.health), .integer(game.coins), .text(game.weapon), .text(createdAt)
                )
                try upsert.step()
            }
            // Inserted or updated, one row changes; none when a rule skipped it, and then the
            // player's last save is what a load still gives: not "Game saved successfully".
            guard self.changes >= 1 else { throw SQLiteError.skippedRow(in: "saved_games") }
            return .done
        case .deleteSavedGame(let playerName):
            try self.withStatement("DELETE FROM saved_games WHERE player_name = ?") {
                delete throws(SQLiteError) in
                try delete.bind(.text(playerName))
                try delete.step()
            }
            return .done
        }
    }
}

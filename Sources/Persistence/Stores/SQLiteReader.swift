import NIOCore

/// A read-only connection on its own thread. WAL mode lets it read the last committed
/// state while the writer is mid-batch, so reads never queue behind writes.
actor SQLiteReader {
    private let connection: SQLiteConnection
    private let eventLoop: any EventLoop
    /// The lock timeout SQLite reports for the connection, read as the reader starts (tests).
    nonisolated let busyTimeoutMilliseconds: Int32

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.eventLoop.executor.asUnownedSerialExecutor()
    }

    init(connection: SQLiteConnection, eventLoop: any EventLoop) {
        self.connection = connection
        self.eventLoop = eventLoop
        self.busyTimeoutMilliseconds = connection.busyTimeoutMilliseconds
    }

    /// Closes the connection, once no call is running (``SQLiteGameStore/close()``).
    func close() {
        self.connection.close()
    }

    /// Every statement a reader runs, prepared once at start by ``prepareQueries()``.
    private enum Query {
        static let scoreColumns =
            "id, player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at"
        static let leaderboardOfMode =
            "SELECT \(scoreColumns) FROM scores WHERE game_mode = ? ORDER BY score DESC, id ASC LIMIT ?"
        static let leaderboard = "SELECT \(scoreColumns) FROM scores ORDER BY score DESC, id ASC LIMIT ?"
        static let personalBest =
            "SELECT \(scoreColumns) FROM scores WHERE player_name = ? ORDER BY score DESC, id ASC LIMIT 1"
        static let savedGame =
            "SELECT player_name, level, score, lives, health, coins, weapon FROM saved_games WHERE player_name = ?"
        static let bosses =
            "SELECT id, boss_index, boss_name, notorious_title, frame_x, frame_y FROM bosses ORDER BY boss_index"
        static let scoreScan = "SELECT id, game_mode, score FROM scores"
        static let scoreByID = "SELECT \(scoreColumns) FROM scores WHERE id = ?"

        static let all = [
            leaderboardOfMode, leaderboard, personalBest, savedGame, bosses, scoreScan, scoreByID,
        ]
    }

    /// Prepares every query: a table or column this server reads that the file lacks (a
    /// hand-made or altered `game.db`) is refused at start, not answered 500 on each request.
    func prepareQueries() throws(SQLiteError) {
        for sql in Query.all {
            do {
                try self.connection.prepare(sql)
            } catch  where error.isAboutTheTables {
                throw SQLiteError(
                    code: error.code,
                    message: "the database lacks what this server reads: \(error.message); "
                        + "fix the table or start on a new database")
            }
        }
    }

    func leaderboard(limit: Int, gameMode: String?) throws(SQLiteError) -> [StoredScore] {
        if let gameMode {
            return try self.scores(Query.leaderboardOfMode, .text(gameMode), .integer(Int64(limit)))
        }
        return try self.scores(Query.leaderboard, .integer(Int64(limit)))
    }

    func personalBest(playerName: String) throws(SQLiteError) -> StoredScore? {
        try self.scores(Query.personalBest, .text(playerName)).first
    }

    func savedGame(playerName: String) throws(SQLiteError) -> SavedGame? {
        try self.connection.withStatement(Query.savedGame) { row throws(SQLiteError) in
            try row.bind(.text(playerName))
            guard try row.step() else { return nil }
            return SavedGame(
                playerName: row.text(at: 0), level: row.int64(at: 1), score: row.int64(at: 2),
                lives: row.int64(at: 3), health: row.int64(at: 4), coins: row.int64(at: 5), weapon: row.text(at: 6)
            )
        }
    }

    func bosses() throws(SQLiteError) -> [Boss] {
        try self.connection.withStatement(Query.bosses) { row throws(SQLiteError) in
            var bosses: [Boss] = []
            while try row.step() {
                bosses.append(
                    Boss(
                        id: row.int64(at: 0), bossIndex: row.int64(at: 1), bossName: row.text(at: 2),
                        notoriousTitle: row.text(at: 3), frameX: row.int64(at: 4), frameY: row.int64(at: 5)
                    )
                )
            }
            return bosses
        }
    }

    /// What the start-up pass over `scores` found.
    struct ScoreScan {
        /// Every row's id and score, grouped by game mode.
        var positionsByMode: [GameModeKey: [LeaderboardPosition]]
        /// Rows whose score is not stored as an integer (a hand-edited legacy file: `12.7`,
        /// `'abc'`), with the integer every answer shows for them.
        var nonIntegerScores: [LeaderboardPosition]
    }

    /// The one start-up pass over the table, which loads the ``RankIndex`` and picks the rows
    /// the ``LeaderboardIndex`` keeps.
    func scanScores() throws(SQLiteError) -> ScoreScan {
        try self.connection.withStatement(Query.scoreScan) { row throws(SQLiteError) in
            var grouping = ScoreGroupingByMode()
            var nonIntegerScores: [LeaderboardPosition] = []
            while try row.step() {
                // The type first: SQLite leaves it undefined once a value was read as another.
                let isInteger = row.isInteger(at: 2)
                let position = LeaderboardPosition(score: row.int64(at: 2), id: row.int64(at: 0))
                row.withTextBytes(at: 1) { grouping.append(position, modeBytes: $0) }
                if !isInteger { nonIntegerScores.append(position) }
            }
            return ScoreScan(positionsByMode: grouping.groups, nonIntegerScores: nonIntegerScores)
        }
    }

    /// The full rows with these ids, in no particular order (primary-key lookups).
    func scores(withIDs ids: some Sequence<Int64>) throws(SQLiteError) -> [StoredScore] {
        var rows: [StoredScore] = []
        for id in ids {
            rows += try self.scores(Query.scoreByID, .integer(id))
        }
        return rows
    }

    private func scores(_ sql: String, _ parameters: SQLiteValue...) throws(SQLiteError) -> [StoredScore] {
        try self.connection.withStatement(sql) { row throws(SQLiteError) in
            try row.bind(parameters)
            var rows: [StoredScore] = []
            while try row.step() {
                rows.append(
                    StoredScore(
                        id: row.int64(at: 0),
                        submission: ScoreSubmission(
                            playerName: row.text(at: 1), score: row.int64(at: 2), coins: row.int64(at: 3),
                            enemiesDefeated: row.int64(at: 4), distance: row.int64(at: 5), level: row.int64(at: 6),
                            gameMode: row.text(at: 7)
                        ),
                        createdAt: row.text(at: 8)
                    )
                )
            }
            return rows
        }
    }
}

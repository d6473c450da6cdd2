import Foundation
import RecordedLogs
import Testing

@testable import Persistence

/// The original FastAPI backend's schema, written out independently of `migrations`.
private let legacySchema = """
    CREATE TABLE scores (
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
    CREATE TABLE bosses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        boss_index INTEGER NOT NULL UNIQUE,
        boss_name TEXT NOT NULL,
        notorious_title TEXT NOT NULL,
        frame_x INTEGER NOT NULL,
        frame_y INTEGER NOT NULL
    );
    CREATE TABLE saved_games (
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
    CREATE INDEX idx_score_desc ON scores(score DESC);
    """

/// Writes a legacy (user_version 0, rollback journal) database holding a few rows.
private func makeLegacyDatabase(at path: String, withBosses: Bool) throws {
    let raw = try RawDatabase(path: path)
    try raw.execute(legacySchema)
    try raw.execute(
        """
        INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at) VALUES
            ('alice', 1500, 30, 12, 900, 3, 'classic', '2023-04-01 10:00:00'),
            ('bob', 2500, 45, 20, 1400, 5, 'classic', '2023-04-02 11:30:00'),
            ('carol', 1500, 10, 4, 300, 2, 'hardcore', '2023-04-03 12:45:59'),
            ('alice', 900, 5, 1, 100, 1, 'hardcore', '2023-04-04 23:59:59');
        INSERT INTO saved_games (player_name, level, score, lives, health, coins, weapon, timestamp) VALUES
            ('alice', 4, 1800, 2, 60, 33, 'laser', '2023-04-05 08:00:00');
        """
    )
    if withBosses {
        try raw.execute(
            """
            INSERT INTO bosses (boss_index, boss_name, notorious_title, frame_x, frame_y) VALUES
                (0, 'Legacy One', 'First', 10, 20),
                (1, 'Legacy Two', 'Second', 30, 40);
            """
        )
    }
    #expect(try raw.integer("PRAGMA user_version") == 0)
}

/// The indexes on `scores`, by name.
private func scoreIndexes(_ raw: RawDatabase) throws -> Set<String> {
    Set(try raw.strings("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'scores'"))
}

/// Every row of `scores` and of `saved_games`, read as text.
private func scoreAndSaveRows(_ raw: RawDatabase) throws -> [[String?]] {
    try raw.rows("SELECT * FROM scores ORDER BY id") + raw.rows("SELECT * FROM saved_games ORDER BY id")
}

/// Turns the legacy database into a version 2 one (schema as released before v3), written out
/// independently of `migrations`.
private func upgradeLegacyDatabaseToVersion2(at path: String) throws {
    let raw = try RawDatabase(path: path)
    try raw.execute(
        """
        CREATE INDEX idx_scores_mode_score ON scores(game_mode, score DESC);
        CREATE INDEX idx_scores_player_score ON scores(player_name, score DESC);
        PRAGMA user_version = 2;
        """
    )
}

/// Writes a legacy database holding what the old backend stored as sent: names and modes with
/// whitespace around them (ASCII and other Unicode `White_Space`), names of whitespace alone, and
/// saves whose names are one once trimmed.
private func makeLegacyDatabaseWithUntrimmedNames(at path: String) throws {
    let raw = try RawDatabase(path: path)
    try raw.execute(legacySchema)
    try raw.execute(
        """
        INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at) VALUES
            ('Bob ', 900, 1, 1, 1, 1, 'endless', '2024-01-01 00:00:00'),
            ('Bob', 100, 1, 1, 1, 1, 'endless', '2024-01-01 00:00:00'),
            (' Carol', 500, 1, 1, 1, 1, ' levels ', '2024-01-01 00:00:00'),
            ('\u{3000}Dana\t', 300, 1, 1, 1, 1, 'levels\u{A0}', '2024-01-01 00:00:00'),
            ('   ', 50, 1, 1, 1, 1, ' endless', '2024-01-01 00:00:00'),
            ('Émile', 10, 1, 1, 1, 1, 'endless', '2024-01-01 00:00:00');
        INSERT INTO saved_games (player_name, level, score, lives, health, coins, weapon, timestamp) VALUES
            ('Bob ', 7, 900, 2, 50, 10, 'laser', '2024-01-02 00:00:00'),
            ('Bob', 2, 100, 1, 1, 1, 'blaster', '2024-01-01 00:00:00'),
            (' Carol', 3, 500, 1, 1, 1, 'raygun', '2024-01-05 00:00:00'),
            ('Carol\n', 4, 600, 1, 1, 1, 'laser', '2024-01-03 00:00:00'),
            ('  ', 1, 1, 1, 1, 1, 'laser', '2024-01-01 00:00:00');
        """
    )
}

@Suite("Schema migrations")
struct MigrationTests {
    @Test func legacyDatabaseIsMigratedAndItsRowsAreServed() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabase(at: path, withBosses: false)

            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let board = try await store.leaderboard(limit: 10, gameMode: nil)
                #expect(board.map(\.id) == [2, 1, 3, 4])
                #expect(board.map(\.submission.playerName) == ["bob", "alice", "carol", "alice"])
                #expect(
                    board.first
                        == StoredScore(
                            id: 2,
                            submission: ScoreSubmission(
                                playerName: "bob", score: 2_500, coins: 45, enemiesDefeated: 20, distance: 1_400,
                                level: 5, gameMode: "classic"
                            ),
                            createdAt: "2023-04-02 11:30:00"
                        )
                )
                #expect(
                    board.map(\.createdAt) == [
                        "2023-04-02 11:30:00", "2023-04-01 10:00:00", "2023-04-03 12:45:59", "2023-04-04 23:59:59",
                    ])
                #expect(try await store.leaderboard(limit: 10, gameMode: "hardcore").map(\.id) == [3, 4])
                #expect(try await store.personalBest(playerName: "alice")?.id == 1)

                // Ranks come from the legacy rows.
                #expect(try await store.rank(of: 1_500, gameMode: nil) == 2)
                #expect(try await store.rank(of: 1_499, gameMode: nil) == 4)
                #expect(try await store.rank(of: 0, gameMode: "hardcore") == 3)
                #expect(try await store.rank(of: 0, gameMode: "classic") == 3)

                #expect(
                    try await store.load(playerName: "alice")
                        == SavedGame(
                            playerName: "alice", level: 4, score: 1_800, lives: 2, health: 60, coins: 33,
                            weapon: "laser")
                )

                // An empty legacy gallery gets seeded.
                #expect(try await store.bosses().map(\.bossName) == bossCatalogue.map(\.name))

                // New rows continue the legacy ids.
                let fresh = try await store.submit(submission("dave", 3_000))
                #expect(fresh.id == 5)
                #expect(try await store.rank(of: 2_500, gameMode: nil) == 2)

                let raw = try RawDatabase(path: path)
                #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
                // v3 dropped the score indexes (leaderboards are served from memory); personal bests keep theirs.
                #expect(try scoreIndexes(raw) == ["idx_scores_player_score"])
                #expect(try raw.strings("PRAGMA journal_mode") == ["wal"])
            }
        }
    }

    @Test func legacyBossesAreKeptNotDuplicated() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabase(at: path, withBosses: true)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let bosses = try await store.bosses()
                #expect(bosses.map(\.bossName) == ["Legacy One", "Legacy Two"])
                #expect(bosses.map(\.frameX) == [10, 30])
                #expect(bosses.map(\.frameY) == [20, 40])
            }
        }
    }

    /// A large file takes seconds to migrate: the log says so first. A new file's tables, made
    /// at once, and a file already migrated are not announced.
    @Test func aMigrationIsAnnouncedBeforeItRuns() async throws {
        try await withTemporaryDirectory { directory in
            let legacy = databasePath(in: directory)
            try makeLegacyDatabase(at: legacy, withBosses: false)
            let new = databasePath(in: directory, "new.db")
            for (path, announced) in [(legacy, true), (new, false), (legacy, false)] {
                let records = RecordedLogs()
                try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { _ in }
                let events = records.entries.map(\.message)
                let migrating = records.entries.filter { $0.message == "persistence.migrating" }
                #expect(migrating.count == (announced ? 1 : 0), "\(path)")
                guard announced else { continue }
                #expect(migrating.first?.level == .info)
                #expect(migrating.first?.metadata["db.schema.from"] == "0")
                #expect(migrating.first?.metadata["db.schema.to"] == "\(migrations.count)")
                #expect(events.firstIndex(of: "persistence.migrating")! < events.firstIndex(of: "persistence.opened")!)
            }
        }
    }

    @Test func migratedDatabaseReopensUnchanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabase(at: path, withBosses: false)
            let configuration = PersistenceConfiguration(databasePath: path)
            let first = try await withStore(configuration) { try await $0.leaderboard(limit: 10, gameMode: nil) }
            let second = try await withStore(configuration) { try await $0.leaderboard(limit: 10, gameMode: nil) }
            #expect(first.count == 4)
            #expect(second == first)
            let raw = try RawDatabase(path: path)
            #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
            #expect(try raw.integer("SELECT COUNT(*) FROM bosses") == 22)
        }
    }

    @Test func version2DatabaseLosesTheScoreIndexesAndServesTheSameLeaderboards() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabase(at: path, withBosses: true)
            try upgradeLegacyDatabaseToVersion2(at: path)
            let modes: [String?] = [nil, "classic", "hardcore", "unknown"]
            let boardsBefore = try {
                let raw = try RawDatabase(path: path)
                #expect(
                    try scoreIndexes(raw) == ["idx_score_desc", "idx_scores_mode_score", "idx_scores_player_score"])
                return try modes.map { try raw.leaderboard(limit: 10, gameMode: $0) }
            }()
            #expect(boardsBefore[0].map(\.id) == [2, 1, 3, 4])

            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                for (mode, before) in zip(modes, boardsBefore) {
                    #expect(try await store.leaderboard(limit: 10, gameMode: mode) == before, "mode \(mode ?? "all")")
                    // Beyond the in-memory length SQLite answers, now by a scan: the same rows.
                    #expect(try await store.leaderboard(limit: 101, gameMode: mode) == before, "mode \(mode ?? "all")")
                }
                #expect(try await store.personalBest(playerName: "alice")?.id == 1)

                let raw = try RawDatabase(path: path)
                #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
                #expect(try scoreIndexes(raw) == ["idx_scores_player_score"])
                #expect(try raw.integer("SELECT COUNT(*) FROM scores") == 4)
                let plan = try raw.rows(
                    """
                    EXPLAIN QUERY PLAN
                    SELECT id FROM scores WHERE player_name = 'alice' ORDER BY score DESC, id ASC LIMIT 1
                    """
                )
                #expect(plan.contains { $0.last??.contains("idx_scores_player_score") == true }, "plan: \(plan)")
            }
        }
    }

    @Test func scoresNotStoredAsIntegersAreStoredAsTheIntegersServed() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabase(at: path, withBosses: true)
            do {
                // Hand-edited rows: SQLite keeps 12.2 and 'abc' as they are in an INTEGER column.
                let raw = try RawDatabase(path: path)
                try raw.execute(
                    """
                    INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode) VALUES
                        ('erin', 12.2, 0, 0, 0, 1, 'classic'), ('erin', 12.9, 0, 0, 0, 1, 'classic'),
                        ('frank', 'abc', 0, 0, 0, 1, 'classic'), ('frank', 5, 0, 0, 0, 1, 'classic'),
                        ('gina', '2000x', 0, 0, 0, 1, 'classic');
                    """)
                #expect(
                    try raw.strings("SELECT typeof(score) FROM scores WHERE id > 4") == [
                        "real", "real", "text", "integer", "text",
                    ])
            }
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                // Each row is ordered by the score every answer shows, by SQL as by memory.
                let board = try await store.leaderboard(limit: 10, gameMode: "classic")
                #expect(board.map(\.id) == [2, 9, 1, 5, 6, 8, 7])
                #expect(board.map(\.submission.score) == [2_500, 2_000, 1_500, 12, 12, 5, 0])
                #expect(
                    try await store.personalBest(playerName: "erin")?.id == 5,
                    "12.2 and 12.9 are both 12: the first wins")
                #expect(try await store.personalBest(playerName: "frank")?.submission.score == 5)
                #expect(try await store.personalBest(playerName: "gina")?.submission.score == 2_000)
                #expect(try await store.rank(of: 12, gameMode: "classic") == 4)
            }
            let raw = try RawDatabase(path: path)
            try #require(try raw.strings("SELECT DISTINCT typeof(score) FROM scores") == ["integer"])
            #expect(try raw.leaderboard(limit: 10, gameMode: "classic").map(\.id) == [2, 9, 1, 5, 6, 8, 7])
        }
    }

    @Test func legacyNamesAndModesAreTrimmedOnceAsTheServerLooksThemUp() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabaseWithUntrimmedNames(at: path)
            let configuration = PersistenceConfiguration(databasePath: path)
            try await withStore(configuration) { store in
                // Each colliding pair of saves kept its newer one, whichever name it had.
                #expect(try await store.load(playerName: "Bob")?.level == 7)
                #expect(try await store.load(playerName: "Carol")?.level == 3)
                #expect(try await store.personalBest(playerName: "Bob")?.submission.score == 900)
                #expect(try await store.personalBest(playerName: "Dana")?.submission.score == 300)

                let board = try await store.leaderboard(limit: 10, gameMode: nil)
                #expect(board.map(\.submission.playerName) == ["Bob", "Carol", "Dana", "Bob", "   ", "Émile"])
                #expect(try await store.leaderboard(limit: 10, gameMode: "levels").map(\.id) == [3, 4])
                #expect(try await store.leaderboard(limit: 10, gameMode: "endless").map(\.id) == [1, 2, 5, 6])
                #expect(try await store.rank(of: 0, gameMode: "levels") == 3)
            }
            let raw = try RawDatabase(path: path)
            // Whitespace alone stays: trimmed, it would be a name no write stores.
            let savedGames = try raw.rows("SELECT id, player_name FROM saved_games ORDER BY id")
            #expect(savedGames == [["1", "Bob"], ["3", "Carol"], ["5", "  "]])
            let migrated = try scoreAndSaveRows(raw)

            let reopened = try await withStore(configuration) { try await $0.load(playerName: "Bob") }
            #expect(reopened?.level == 7)
            #expect(try scoreAndSaveRows(raw) == migrated)
            #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
        }
    }

    @Test func trimmingReportsWhatItChanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try makeLegacyDatabaseWithUntrimmedNames(at: path)
            let connection = try SQLiteConnection(path: path, readOnly: false)
            #expect(
                try connection.migrate().nameTrimming
                    == NameTrimming(scores: 4, savedGames: 2, savedGamesDeleted: 2, leftBlank: 2)
            )
            #expect(try connection.migrate().nameTrimming == nil)
        }
    }

    @Test func newerSchemaVersionIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let future = migrations.count + 1
            do {
                let raw = try RawDatabase(path: path)
                try raw.execute("CREATE TABLE from_the_future (x INTEGER); PRAGMA user_version = \(future);")
            }

            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.path == path)
            #expect(error?.reason.contains("newer") == true, "reason: \(error?.reason ?? "-")")

            // Nothing was migrated into it.
            let raw = try RawDatabase(path: path)
            #expect(try raw.integer("PRAGMA user_version") == Int64(future))
            #expect(try raw.strings("SELECT name FROM sqlite_master WHERE type = 'table'") == ["from_the_future"])
        }
    }

    @Test("A negative schema version (another tool's use of user_version) is refused at open, not a crash")
    func negativeSchemaVersionIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            do {
                let raw = try RawDatabase(path: path)
                try raw.execute("CREATE TABLE theirs (x INTEGER); PRAGMA user_version = -1;")
            }
            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.reason.contains("-1 is not one this server writes") == true, "\(error?.reason ?? "-")")
            let raw = try RawDatabase(path: path)
            #expect(try raw.integer("PRAGMA user_version") == -1, "nothing was migrated into it")
        }
    }

    /// A `saved_games` table without a UNIQUE `player_name`, or with an index on it that is not
    /// UNIQUE, gives no conflict for a save's upsert to use.
    @Test(arguments: ["", "CREATE INDEX saves_by_name ON saved_games(player_name);"])
    func aSavedGamesTableWithoutUniqueNamesIsRefusedAtStart(_ index: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            do {
                let raw = try RawDatabase(path: path)
                try raw.execute(
                    """
                    CREATE TABLE saved_games (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL,
                        level INTEGER NOT NULL, score INTEGER NOT NULL, lives INTEGER NOT NULL, health INTEGER NOT NULL,
                        coins INTEGER NOT NULL, weapon TEXT NOT NULL, timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
                    \(index)
                    """)
            }
            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.reason.contains("UNIQUE(player_name)") == true, "reason: \(error?.reason ?? "-")")
            // Refused as a whole: nothing was migrated into it.
            #expect(try RawDatabase(path: path).integer("PRAGMA user_version") == 0)
        }
    }

    /// Two saves whose names trim alike and whose timestamps are the same: the later row is kept,
    /// whichever of the two is renamed.
    @Test func savesTrimmedAlikeWithTheSameTimestampKeepTheLaterRow() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            do {
                let raw = try RawDatabase(path: path)
                try raw.execute(legacySchema)
                try raw.execute(
                    """
                    INSERT INTO saved_games (player_name, level, score, lives, health, coins, weapon, timestamp) VALUES
                        ('Ann ', 1, 10, 1, 1, 1, 'laser', '2024-01-01 00:00:00'),
                        ('Ann', 2, 20, 1, 1, 1, 'laser', '2024-01-01 00:00:00'),
                        ('Cy', 3, 30, 1, 1, 1, 'laser', '2024-01-01 00:00:00'),
                        (' Cy', 4, 40, 1, 1, 1, 'laser', '2024-01-01 00:00:00');
                    """)
            }
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let ann = try await store.load(playerName: "Ann")
                let cy = try await store.load(playerName: "Cy")
                #expect(ann?.level == 2)
                #expect(cy?.level == 4)
            }
            let savedGames = try RawDatabase(path: path).rows("SELECT id, player_name FROM saved_games ORDER BY id")
            #expect(savedGames == [["2", "Ann"], ["4", "Cy"]])
        }
    }

    /// A row is trimmed when its mode alone has whitespace around it, its name none.
    @Test func aModeWithWhitespaceIsTrimmedWhenItsNameHasNone() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            do {
                let raw = try RawDatabase(path: path)
                try raw.execute(legacySchema)
                try raw.execute(
                    """
                    INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode) VALUES
                        ('Ann', 100, 1, 1, 1, 1, 'levels '), ('Bob', 50, 1, 1, 1, 1, '\tendless');
                    """)
            }
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let levels = try await store.leaderboard(limit: 10, gameMode: "levels")
                #expect(levels.map(\.submission.playerName) == ["Ann"])
                let endless = try await store.leaderboard(limit: 10, gameMode: "endless")
                #expect(endless.map(\.submission.playerName) == ["Bob"])
            }
            let modes = try RawDatabase(path: path).strings("SELECT game_mode FROM scores ORDER BY id")
            #expect(modes == ["levels", "endless"])
        }
    }
}

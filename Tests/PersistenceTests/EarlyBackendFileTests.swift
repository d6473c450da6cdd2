import Foundation
import Testing

@testable import Persistence

/// A `game.db` of the game's first backend, whose `scores` held no counters (the `init_db()` of
/// the project's seed document), opens with its scores and takes new ones.
@Suite struct EarlyBackendFileTests {
    /// The seed document's table, and two scores written the way its backend wrote them.
    static let earlyFile = """
        CREATE TABLE IF NOT EXISTS scores (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            player_name TEXT NOT NULL,
            score INTEGER NOT NULL,
            game_mode TEXT NOT NULL,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
        );
        INSERT INTO scores (player_name, score, game_mode) VALUES ('Ann', 300, 'levels');
        INSERT INTO scores (player_name, score, game_mode) VALUES ('Bob', 500, 'endless');
        """

    @Test func itsScoresGetTheCountersAsZeroAndNewScoresAreStored() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try RawDatabase(path: configuration.databasePath).execute(Self.earlyFile)

            try await withStore(configuration) { store in
                let board = try await store.leaderboard(limit: 10, gameMode: nil)
                #expect(board.map(\.submission.playerName) == ["Bob", "Ann"])
                let ann = try #require(board.last)
                let countersAsZero = ScoreSubmission(
                    playerName: "Ann", score: 300, coins: 0, enemiesDefeated: 0, distance: 0, level: 0,
                    gameMode: "levels")
                #expect(ann.submission == countersAsZero)
                let cy = try await store.submit(submission("Cy", 400, mode: "levels"))
                #expect(cy.id == 3)
                #expect(try await store.rank(of: 400, gameMode: "levels") == 1)
            }
            // Opened again: nothing more to add, and the counters Cy sent were kept.
            try await withStore(configuration) { store in
                let best = try await store.personalBest(playerName: "Cy")
                #expect(best?.submission == submission("Cy", 400, mode: "levels"))
            }
            let raw = try RawDatabase(path: configuration.databasePath)
            let columns = try raw.strings("SELECT name FROM pragma_table_info('scores')")
            let earlyColumns = ["id", "player_name", "score", "game_mode", "created_at"]
            #expect(columns == earlyColumns + scoreCountersOfLaterBackends)
            #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
        }
    }

    /// Column names are matched as SQLite matches them, whatever their case: a table whose
    /// counters are spelled `Coins` or `LEVEL` has them, and opens as it did before the repair.
    @Test func countersSpelledInAnotherCaseAreNotAddedAgain() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL,
                    score INTEGER NOT NULL, Coins INTEGER NOT NULL, Enemies_Defeated INTEGER NOT NULL,
                    DISTANCE INTEGER NOT NULL, LEVEL INTEGER NOT NULL, game_mode TEXT NOT NULL,
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
                INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode)
                    VALUES ('Ann', 300, 1, 2, 3, 4, 'levels');
                """)
            try await withStore(configuration) { store in
                let ann = try await store.personalBest(playerName: "Ann")
                let stored = ScoreSubmission(
                    playerName: "Ann", score: 300, coins: 1, enemiesDefeated: 2, distance: 3, level: 4,
                    gameMode: "levels")
                #expect(ann?.submission == stored)
                _ = try await store.submit(submission("Bob", 200))
            }
            let columns = try RawDatabase(path: configuration.databasePath)
                .strings("SELECT name FROM pragma_table_info('scores')")
            #expect(columns.count == 9, "\(columns)")
        }
    }

    /// A table that has the counters is left exactly as it was.
    @Test func aTableWithTheCountersGetsNothing() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ in }
            let raw = try RawDatabase(path: configuration.databasePath)
            let before = try raw.strings("SELECT sql FROM sqlite_master WHERE name = 'scores'")
            try await withStore(configuration) { _ in }
            #expect(try raw.strings("SELECT sql FROM sqlite_master WHERE name = 'scores'") == before)
            #expect(before.first?.contains("coins INTEGER NOT NULL,") == true, "\(before)")
        }
    }
}

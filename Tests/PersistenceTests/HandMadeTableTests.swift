import CSystemSQLite
import Foundation
import Testing

@testable import Persistence

/// A `game.db` made or altered by hand opens only if this server can read and write its
/// tables: otherwise every score, save or gallery request would fail with a 500.
@Suite struct HandMadeTableTests {
    /// The legacy `scores` table with one more column, required and without a default.
    static let scoresWithRequiredExtraColumn = """
        CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL,
            score INTEGER NOT NULL, coins INTEGER NOT NULL, enemies_defeated INTEGER NOT NULL,
            distance INTEGER NOT NULL, level INTEGER NOT NULL, game_mode TEXT NOT NULL,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, region TEXT NOT NULL);
        INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, region)
            VALUES ('Ann', 10, 1, 1, 1, 1, 'levels', 'eu');
        """

    /// The old backend's `saved_games` (migration step 1).
    static let savedGames = """
        CREATE TABLE saved_games (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL UNIQUE,
            level INTEGER NOT NULL, score INTEGER NOT NULL, lives INTEGER NOT NULL,
            health INTEGER NOT NULL, coins INTEGER NOT NULL, weapon TEXT NOT NULL,
            timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
        """

    /// Opens the file at `path` made by `sql`, expecting it refused; returns the reason.
    private func refusal(of sql: String, at path: String) async throws -> String {
        try RawDatabase(path: path).execute(sql)
        let error = await #expect(throws: StoreOpeningError.self) {
            _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
        }
        return error?.reason ?? "-"
    }

    @Test func aScoresTableRequiringAColumnTheServerDoesNotFillIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let reason = try await self.refusal(of: Self.scoresWithRequiredExtraColumn, at: path)
            #expect(reason.contains("table scores cannot take this server's writes"), "reason: \(reason)")
            #expect(reason.contains("NOT NULL constraint failed: scores.region"), "reason: \(reason)")
            // The trial insert was rolled back: the file holds its one row.
            #expect(try RawDatabase(path: path).strings("SELECT player_name FROM scores") == ["Ann"])
        }
    }

    /// A rule that skips every row without an error is refused as one that refuses every row: two
    /// trial rows that differ in every field were both skipped.
    @Test func aTableSkippingEveryRowIsRefusedAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let reason = try await self.refusal(
                of: Self.scoresWithRequiredExtraColumn.replacingOccurrences(
                    of: "region TEXT NOT NULL)", with: "region TEXT NOT NULL ON CONFLICT IGNORE)"),
                at: databasePath(in: directory, "unfilled.db"))
            #expect(reason.contains("table scores cannot take this server's writes"), "reason: \(reason)")
            #expect(reason.contains("skipped 2 rows that differ in every field"), "reason: \(reason)")
            let saves = try await self.refusal(
                of: Self.savedGames + """
                    CREATE TRIGGER no_saves BEFORE INSERT ON saved_games BEGIN SELECT RAISE(IGNORE); END;
                    """,
                at: databasePath(in: directory, "no-saves.db"))
            #expect(saves.contains("table saved_games cannot take this server's writes"), "reason: \(saves)")
        }
    }

    @Test func aTriggerRefusingSavesIsRefusedAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let reason = try await self.refusal(
                of: Self.savedGames + """
                    CREATE TRIGGER saves_closed BEFORE INSERT ON saved_games
                        BEGIN SELECT RAISE(ABORT, 'saves are closed'); END;
                    """,
                at: databasePath(in: directory))
            #expect(reason.contains("table saved_games cannot take this server's writes"), "reason: \(reason)")
            #expect(reason.contains("saves are closed"), "reason: \(reason)")
            // The statement it quotes is folded onto one line, whole up to its cut (the log's
            // `relay.startup.failed` is one line; its statement had seemed to lack a placeholder).
            #expect(!reason.contains("\n"), "reason: \(reason)")
            #expect(reason.contains("timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), "reason: \(reason)")
        }
    }

    @Test func aSavedGamesTableLackingAColumnIsRefusedAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let reason = try await self.refusal(
                of: Self.savedGames.replacingOccurrences(of: "health INTEGER NOT NULL, ", with: ""),
                at: databasePath(in: directory))
            #expect(reason.contains("table saved_games cannot take this server's writes"), "reason: \(reason)")
            #expect(reason.contains("health"), "reason: \(reason)")
        }
    }

    /// A filled gallery is never seeded, so only the readers' statements name its columns.
    @Test func aBossesTableLackingAColumnTheGalleryReadsIsRefusedAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let reason = try await self.refusal(
                of: """
                    CREATE TABLE bosses (id INTEGER PRIMARY KEY AUTOINCREMENT, boss_index INTEGER NOT NULL UNIQUE,
                        boss_name TEXT NOT NULL, notorious_title TEXT NOT NULL, frame_x INTEGER NOT NULL);
                    INSERT INTO bosses (boss_index, boss_name, notorious_title, frame_x) VALUES (0, 'Rex', 'the Red', 0);
                    """,
                at: databasePath(in: directory))
            #expect(reason.contains("the database lacks what this server reads"), "reason: \(reason)")
            #expect(reason.contains("frame_y"), "reason: \(reason)")
        }
    }

    /// A unique rule refuses only the rows that repeat one the file holds, and shows as a 500 for
    /// those alone: that the trial's own score is one of them (a player of the trial's name already
    /// has a score in its mode) does not stop the start.
    @Test func aUniqueRuleTheTrialScoreHappensToBreakDoesNotStopTheStart() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ in }
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE UNIQUE INDEX one_score_per_player_and_mode ON scores(player_name, game_mode);
                INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode)
                    VALUES ('start-up check', 5, 0, 0, 0, 0, 'levels');
                """)
            try await withStore(configuration) { store in
                let best = try await store.personalBest(playerName: "start-up check")
                #expect(best?.submission.score == 5)
                #expect(try await store.submit(submission("Ann", 10)).id == 2)
            }
        }
    }

    /// A rule that skips a row without an error (a trigger's `RAISE(IGNORE)`, `ON CONFLICT IGNORE`)
    /// is a refusal like any other: the score is not acknowledged with another row's id, and the
    /// leaderboards in memory do not take a row the file does not have.
    @Test func aRowTheTableSkipsSilentlyIsRefusedNotAcknowledged() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ in }
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE TRIGGER no_cheaters BEFORE INSERT ON scores WHEN NEW.player_name = 'Cheater'
                    BEGIN SELECT RAISE(IGNORE); END;
                """)
            try await withStore(configuration) { store in
                #expect(try await store.submit(submission("Ann", 10)).id == 1)
                await #expect(throws: PersistenceError.storageFailure) {
                    _ = try await store.submit(submission("Cheater", 1_000))
                }
                #expect(try await store.personalBest(playerName: "Cheater") == nil)
                let board = try await store.leaderboard(limit: 10, gameMode: nil)
                #expect(board.map(\.submission.playerName) == ["Ann"])
                #expect(try await store.rank(of: 500, gameMode: nil) == 1, "the skipped 1,000 is nowhere")
                #expect(try await store.submit(submission("Bo", 20)).id == 2)
            }
            #expect(try RawDatabase(path: configuration.databasePath).integer("SELECT COUNT(*) FROM scores") == 2)
        }
    }

    /// A rule that skips the trial's own rows without an error (scores of 100 and more, saves of
    /// the trial's name) does not stop the start, as a unique rule the trial breaks does not: the
    /// rows it skips show as a 500 each, the others go in.
    @Test func aRuleSkippingTheTrialsOwnRowsDoesNotStopTheStart() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ in }
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE TRIGGER no_high_scores BEFORE INSERT ON scores WHEN NEW.score >= 100
                    BEGIN SELECT RAISE(IGNORE); END;
                CREATE TRIGGER no_trial_saves BEFORE INSERT ON saved_games WHEN NEW.player_name = 'start-up check'
                    BEGIN SELECT RAISE(IGNORE); END;
                """)
            try await withStore(configuration) { store async throws in
                await #expect(throws: PersistenceError.storageFailure) {
                    _ = try await store.submit(submission("Bo", 150))
                }
                #expect(try await store.submit(submission("Ann", 50)).id == 1)
            }
        }
    }

    /// A save a rule skips is not answered "Game saved successfully": a load would still give the
    /// player's last save (or none). The save before it stays, and other players' saves go in.
    @Test func aSaveTheTableSkipsIsRefusedNotAcknowledged() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ in }
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE TRIGGER frozen_past_50 BEFORE UPDATE ON saved_games WHEN NEW.level > 50
                    BEGIN SELECT RAISE(IGNORE); END;
                CREATE TRIGGER no_cheaters BEFORE INSERT ON saved_games WHEN NEW.player_name = 'Cheater'
                    BEGIN SELECT RAISE(IGNORE); END;
                """)
            func game(_ name: String, level: Int64) -> SavedGame {
                SavedGame(playerName: name, level: level, score: 10, lives: 3, health: 100, coins: 0, weapon: "sword")
            }
            try await withStore(configuration) { store in
                try await store.save(game("Ann", level: 10))
                await #expect(throws: PersistenceError.storageFailure) { try await store.save(game("Ann", level: 60)) }
                #expect(try await store.load(playerName: "Ann")?.level == 10)
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.save(game("Cheater", level: 1))
                }
                #expect(try await store.load(playerName: "Cheater") == nil)
                try await store.save(game("Bo", level: 2))
                #expect(try await store.load(playerName: "Bo")?.level == 2)
            }
        }
    }

    /// Rules that delete or change scores behind the leaderboards in memory are found at start (to
    /// warn that those show until a restart); the server's own table has none.
    @Test func rulesTheLeaderboardsInMemoryCannotSeeAreFound() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { _ in }
            let ownTable = try SQLiteConnection(path: path, readOnly: true).scoresRulesMemoryCannotSee()
            #expect(ownTable.triggers == 0 && !ownTable.mayReplace)
            try RawDatabase(path: path).execute(
                """
                CREATE TRIGGER keep_ten AFTER INSERT ON scores
                    BEGIN DELETE FROM scores WHERE id <= NEW.id - 10; END;
                CREATE TRIGGER shouted AFTER INSERT ON "SCORES" BEGIN SELECT 1; END;
                """)
            #expect(try SQLiteConnection(path: path, readOnly: true).scoresRulesMemoryCannotSee().triggers == 2)

            let other = databasePath(in: directory, "replacing.db")
            try RawDatabase(path: other).execute(
                """
                CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL,
                    score INTEGER NOT NULL, coins INTEGER NOT NULL, enemies_defeated INTEGER NOT NULL,
                    distance INTEGER NOT NULL, level INTEGER NOT NULL, game_mode TEXT NOT NULL,
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE (player_name) ON CONFLICT REPLACE);
                """)
            #expect(try SQLiteConnection(path: other, readOnly: true).scoresRulesMemoryCannotSee().mayReplace)
        }
    }

    /// A unique rule that rolls the whole transaction back (`ON CONFLICT ROLLBACK`) ends the
    /// trial's transaction: the trial's save and delete that follow must not then run on their own
    /// and overwrite, then delete, the save of a player who has the trial's name.
    @Test func aUniqueRuleRollingBackTheTrialLeavesASaveOfTheTrialsNameAsItWas() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            let kept = SavedGame(
                playerName: "start-up check", level: 7, score: 900, lives: 2, health: 40, coins: 55, weapon: "bow")
            try RawDatabase(path: configuration.databasePath).execute(
                """
                CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL,
                    score INTEGER NOT NULL, coins INTEGER NOT NULL, enemies_defeated INTEGER NOT NULL,
                    distance INTEGER NOT NULL, level INTEGER NOT NULL, game_mode TEXT NOT NULL,
                    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                    UNIQUE (player_name, game_mode) ON CONFLICT ROLLBACK);
                INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode)
                    VALUES ('start-up check', 5, 0, 0, 0, 0, 'levels');
                """)
            try await withStore(configuration) { store in try await store.save(kept) }
            try await withStore(configuration) { store in
                let loaded = try await store.load(playerName: kept.playerName)
                #expect(loaded == kept)
            }
            let raw = try RawDatabase(path: configuration.databasePath)
            #expect(try raw.integer("SELECT seq FROM sqlite_sequence WHERE name = 'saved_games'") == 1)
        }
    }

    /// Only what the tables are earns the advice to fix them; the disk, a lock or memory do not.
    @Test func onlyFailuresAboutTheTablesAreBlamedOnThem() {
        // Extended codes: CONSTRAINT's CHECK (1), NOTNULL (5) and TRIGGER (7); IOERR's WRITE (3).
        let aboutTheTables: [Int32] = [
            SQLITE_ERROR, SQLITE_CONSTRAINT | 1 << 8, SQLITE_CONSTRAINT | 5 << 8, SQLITE_CONSTRAINT | 7 << 8,
            SQLITE_MISMATCH,
        ]
        let elsewhere: [Int32] = [SQLITE_FULL, SQLITE_BUSY, SQLITE_IOERR | 3 << 8, SQLITE_NOMEM, SQLITE_READONLY]
        for code in aboutTheTables { #expect(SQLiteError(code: code, message: "").isAboutTheTables, "code \(code)") }
        for code in elsewhere { #expect(!SQLiteError(code: code, message: "").isAboutTheTables, "code \(code)") }
    }

    /// The trial writes are rolled back whole: no row, no used-up id, and a player's save that
    /// happens to have the trial's name is kept as it was.
    @Test func theStartUpTrialLeavesNothingBehind() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            let trialName = SavedGame.startUpSample.playerName
            let kept = SavedGame(
                playerName: trialName, level: 7, score: 900, lives: 2, health: 40, coins: 55, weapon: "bow")
            try await withStore(configuration) { store in
                #expect(try await store.submit(submission("Ann", 10)).id == 1)
                try await store.save(kept)
            }
            try await withStore(configuration) { store in
                let bob = try await store.submit(submission("Bob", 20))
                #expect(bob.id == 2)
                #expect(try await store.load(playerName: trialName) == kept)
                #expect(try await store.personalBest(playerName: ScoreSubmission.startUpSample.playerName) == nil)
            }
            let raw = try RawDatabase(path: configuration.databasePath)
            #expect(try raw.strings("SELECT player_name FROM scores ORDER BY id") == ["Ann", "Bob"])
            #expect(try raw.integer("SELECT COUNT(*) FROM saved_games") == 1)
        }
    }
}

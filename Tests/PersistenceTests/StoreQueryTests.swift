import Foundation
import Testing

@testable import Persistence

@Suite("SQLiteGameStore queries")
struct StoreQueryTests {
    /// Submits one at a time, so ids follow the order given.
    private static func submitInOrder(
        _ store: SQLiteGameStore, _ scores: [ScoreSubmission]
    ) async throws -> [StoredScore] {
        var stored: [StoredScore] = []
        for score in scores { stored.append(try await store.submit(score)) }
        return stored
    }

    @Test func submitReturnsTheCommittedRow() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let score = ScoreSubmission(
                    playerName: "ada", score: 4_321, coins: 12, enemiesDefeated: 3, distance: 987, level: 4,
                    gameMode: "classic"
                )
                let stored = try await store.submit(score)
                #expect(stored.submission == score)
                #expect(stored.id > 0)
                #expect(isSQLiteTimestamp(stored.createdAt), "createdAt \(stored.createdAt)")
                #expect(try await store.leaderboard(limit: 10, gameMode: nil) == [stored])
                let second = try await store.submit(submission("bob", 1))
                #expect(second.id > stored.id)
            }
        }
    }

    /// A row's `created_at` is when it was asked for, not when its batch committed: with a
    /// window of 3 s, the first write of a batch waits 3 s for it.
    @Test func createdAtIsWhenTheWriteWasAsked() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(
                databasePath: databasePath(in: directory), flushInterval: .seconds(3))
            try await withStore(configuration) { store in
                let asked = time(nil)
                let stored = try await store.submit(submission("ada", 1))
                let answered = time(nil)
                // Queued at least 3 s before its answer, so 2 whole seconds at least; however late
                // a loaded machine hands it to the writer. (These strings sort as the times do.)
                let (earliest, latest) = (UTCTimestamp.string(from: asked), UTCTimestamp.string(from: answered - 2))
                #expect(
                    earliest <= stored.createdAt && stored.createdAt <= latest,
                    "\(stored.createdAt), asked at \(earliest), answered at \(UTCTimestamp.string(from: answered))")
                #expect(try await store.leaderboard(limit: 1, gameMode: nil).first?.createdAt == stored.createdAt)
            }
        }
    }

    @Test func leaderboardIsHighestFirstWithEarlierIdWinningTies() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let stored = try await Self.submitInOrder(
                    store,
                    [
                        submission("a", 100), submission("b", 300), submission("c", 100),
                        submission("d", 200), submission("e", 300), submission("f", -50),
                    ]
                )
                #expect(stored.map(\.id) == stored.map(\.id).sorted())
                let board = try await store.leaderboard(limit: 10, gameMode: nil)
                #expect(board.map(\.submission.playerName) == ["b", "e", "d", "a", "c", "f"])
                #expect(board.sorted { $0.id < $1.id } == stored)
                #expect(
                    try await store.leaderboard(limit: 3, gameMode: nil).map(\.submission.playerName) == [
                        "b", "e", "d",
                    ])
                #expect(try await store.leaderboard(limit: 0, gameMode: nil).isEmpty)
            }
        }
    }

    @Test func leaderboardFiltersByModeAndHonoursLimit() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                _ = try await Self.submitInOrder(
                    store,
                    [
                        submission("c1", 10, mode: "classic"), submission("h1", 500, mode: "hardcore"),
                        submission("c2", 30, mode: "classic"), submission("h2", 700, mode: "hardcore"),
                        submission("c3", 20, mode: "classic"), submission("h3", 500, mode: "hardcore"),
                        submission("c4", 30, mode: "classic"),
                    ]
                )
                let classic = try await store.leaderboard(limit: 10, gameMode: "classic")
                #expect(classic.map(\.submission.playerName) == ["c2", "c4", "c3", "c1"])
                #expect(classic.allSatisfy { $0.submission.gameMode == "classic" })
                let hardcoreTop2 = try await store.leaderboard(limit: 2, gameMode: "hardcore")
                #expect(hardcoreTop2.map(\.submission.playerName) == ["h2", "h1"])
                #expect(try await store.leaderboard(limit: 10, gameMode: "nonexistent").isEmpty)
                #expect(
                    try await store.leaderboard(limit: 4, gameMode: nil).map(\.submission.playerName) == [
                        "h2", "h1", "h3", "c2",
                    ])
            }
        }
    }

    @Test func personalBestIsTheEarliestOfTheBest() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let stored = try await Self.submitInOrder(
                    store,
                    [
                        submission("zoe", 50), submission("zoe", 80, mode: "hardcore"), submission("max", 999),
                        submission("zoe", 80), submission("zoe", 79),
                    ]
                )
                #expect(try await store.personalBest(playerName: "zoe") == stored[1])
                #expect(try await store.personalBest(playerName: "max") == stored[2])
                #expect(try await store.personalBest(playerName: "nobody") == nil)
                // Names match exactly, not case-insensitively or by prefix.
                #expect(try await store.personalBest(playerName: "Zoe") == nil)
                #expect(try await store.personalBest(playerName: "zo") == nil)
            }
        }
    }

    @Test func rankIsOnePlusStrictlyGreaterPerMode() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let rows: [(String, Int64)] = [
                    ("classic", 100), ("classic", 300), ("classic", 300), ("hardcore", 250), ("hardcore", 100),
                    ("hardcore", -7),
                ]
                for (mode, score) in rows { _ = try await store.submit(submission("p", score, mode: mode)) }

                #expect(try await store.rank(of: 300, gameMode: "classic") == 1)
                #expect(try await store.rank(of: 100, gameMode: "classic") == 3)
                #expect(try await store.rank(of: 100, gameMode: "hardcore") == 2)
                #expect(try await store.rank(of: 100, gameMode: nil) == 4)
                #expect(try await store.rank(of: 0, gameMode: "unknown-mode") == 1)
                for probe: Int64 in [.min, -8, -7, 0, 99, 100, 101, 250, 300, 301, .max] {
                    for mode in [nil, "classic", "hardcore"] as [String?] {
                        let expected = 1 + rows.filter { (mode == nil || $0.0 == mode) && $0.1 > probe }.count
                        #expect(try await store.rank(of: probe, gameMode: mode) == expected)
                    }
                }
            }
        }
    }

    @Test func savedGamesSaveLoadUpsertDelete() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let first = SavedGame(
                    playerName: "ada", level: 3, score: 1_200, lives: 2, health: 75, coins: 40, weapon: "blaster"
                )
                let other = SavedGame(
                    playerName: "bob", level: 1, score: 0, lives: 3, health: 100, coins: 0, weapon: "fists")
                #expect(try await store.load(playerName: "ada") == nil)
                try await store.save(first)
                try await store.save(other)
                #expect(try await store.load(playerName: "ada") == first)

                let updated = SavedGame(
                    playerName: "ada", level: 7, score: 9_000, lives: 1, health: 5, coins: 310, weapon: "plasma cannon"
                )
                try await store.save(updated)
                #expect(try await store.load(playerName: "ada") == updated)
                let raw = try RawDatabase(path: path)
                #expect(try raw.integer("SELECT COUNT(*) FROM saved_games WHERE player_name = 'ada'") == 1)
                #expect(try raw.integer("SELECT COUNT(*) FROM saved_games") == 2)

                try await store.delete(playerName: "ada")
                #expect(try await store.load(playerName: "ada") == nil)
                #expect(try await store.load(playerName: "bob") == other)
                // Deleting what is not there succeeds.
                try await store.delete(playerName: "ada")
                try await store.delete(playerName: "never-saved")
                #expect(try await store.load(playerName: "bob") == other)
            }
        }
    }

    /// Text containing U+0000 is kept whole: `load("alice\0evil")` must not find alice's save.
    @Test func embeddedNULIsPreserved() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                let alice = SavedGame(
                    playerName: "alice", level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w")
                try await store.save(alice)
                _ = try await store.submit(submission("bob\u{0}x", 5))
                let impostor = try await store.load(playerName: "alice\u{0}evil")
                let best = try await store.personalBest(playerName: "bob\u{0}x")
                // Unaffected by the bug: the plain names still work.
                #expect(try await store.load(playerName: "alice") == alice)
                #expect(impostor == nil)
                #expect(best.map { Array($0.submission.playerName.utf8) } == Array("bob\u{0}x".utf8))
            }
        }
    }

    /// Names chosen to trip up quoting, encoding or normalisation.
    static let awkwardNames: [String] = [
        "Zoë Ångström", "玩家一号", "🐉🔥 dragon", "👩🏽‍🚀", "O'Brien", "say \"hi\"", "'; DROP TABLE scores; --",
        "a/b/c", "back\\slash", "  two  spaces  ", "tab\there", "line\nbreak", "e\u{301}cole", "\u{E9}cole",
        "%_wildcards_%", "",
    ]

    @Test func awkwardTextRoundTripsExactly() async throws {
        try await withTemporaryDirectory { directory in
            try await withStore(PersistenceConfiguration(databasePath: databasePath(in: directory))) { store in
                for (offset, name) in Self.awkwardNames.enumerated() {
                    let mode = "mode \(name)"
                    let stored = try await store.submit(submission(name, Int64(1_000 + offset), mode: mode))
                    let best = try #require(
                        try await store.personalBest(playerName: name), "no best for \(name.debugDescription)")
                    #expect(best == stored)
                    // Byte-exact: Swift's == treats canonically equivalent strings as equal.
                    #expect(Array(best.submission.playerName.utf8) == Array(name.utf8))
                    #expect(Array(best.submission.gameMode.utf8) == Array(mode.utf8))
                    let inMode = try await store.leaderboard(limit: 5, gameMode: mode)
                    #expect(inMode.map(\.id) == [stored.id], "mode \(mode.debugDescription)")

                    let game = SavedGame(
                        playerName: name, level: Int64(offset), score: 1, lives: 1, health: 1, coins: 1,
                        weapon: "w/\(name)"
                    )
                    try await store.save(game)
                    let loaded = try #require(try await store.load(playerName: name))
                    #expect(Array(loaded.playerName.utf8) == Array(name.utf8))
                    #expect(Array(loaded.weapon.utf8) == Array(game.weapon.utf8))
                    #expect(loaded.level == Int64(offset))
                }
                // "école" spelt two ways is two different players.
                let decomposed = try #require(try await store.load(playerName: "e\u{301}cole"))
                let precomposed = try #require(try await store.load(playerName: "\u{E9}cole"))
                #expect(decomposed.level != precomposed.level)
            }
        }
    }
}

import Foundation
import Testing

@testable import Persistence

/// The database file or its WAL file deleted or replaced under a running store (an operator's mistake).
@Suite("A database file moved away while the store runs")
struct MovedDatabaseTests {
    static let moves = ["deleted", "replaced by a rename"]

    @Test("Writes are refused, not acknowledged into a file nobody opens again", arguments: Self.moves)
    func writesAfterTheFileMovedAreRefused(_ how: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                #expect(try await store.submit(submission("before", 1)).submission.score == 1)
                try Self.moveAway(path, how)
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.submit(submission("after", 2))
                }
                await #expect(throws: PersistenceError.storageFailure) { try await store.save(Self.savedGame("a")) }
            }
        }
    }

    /// The writer's connection would go on committing to the WAL file it has open, which no other
    /// connection reads and which is gone at exit, with every write since the last checkpoint.
    @Test(
        "The WAL file moved away: writes are refused, and those acknowledged before are in the database file",
        arguments: Self.moves)
    func writesAfterTheWALFileMovedAreRefused(_ how: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path, readerCount: 2)) { store in
                for (index, player) in ["a", "b", "c"].enumerated() {
                    _ = try await store.submit(submission(player, Int64(index)))
                }
                try await store.save(Self.savedGame("a"))
                try Self.moveAway(path + "-wal", how)
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.submit(submission("after", 9))
                }
                await #expect(throws: PersistenceError.storageFailure) { try await store.save(Self.savedGame("b")) }
                for _ in 0..<2 {  // each reader, the one that opens the WAL only now included
                    #expect(try await store.personalBest(playerName: "c")?.submission.score == 2)
                }
            }
            let reopened = try RawDatabase(path: path)
            #expect(try reopened.strings("SELECT player_name FROM scores ORDER BY id") == ["a", "b", "c"])
            #expect(try reopened.strings("SELECT player_name FROM saved_games") == ["a"])
        }
    }

    @Test("Through a symbolic link to the database, the WAL file watched is the one SQLite uses, beside the real file")
    func theWALFileOfALinkedDatabaseIsWatched() async throws {
        try await withTemporaryDirectory { directory in
            let real = databasePath(in: directory, "real.db")
            let link = databasePath(in: directory, "game.db")
            _ = try RawDatabase(path: real)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
            try await withStore(PersistenceConfiguration(databasePath: link)) { store in
                _ = try await store.submit(submission("a", 1))
                try FileManager.default.removeItem(atPath: real + "-wal")
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.submit(submission("after", 2))
                }
            }
            #expect(try RawDatabase(path: real).strings("SELECT player_name FROM scores") == ["a"])
        }
    }

    @Test("The WAL file deleted, and no write after it: closing the store copies what it held into the database file")
    func closingAfterTheWALFileWasDeletedKeepsItsWrites() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                _ = try await store.submit(submission("a", 1))
                try FileManager.default.removeItem(atPath: path + "-wal")
                await store.close()
                // What is left once the process exits, the WAL file it still has open gone with it.
                let copy = databasePath(in: directory, "copy.db")
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                #expect(try RawDatabase(path: copy).strings("SELECT player_name FROM scores") == ["a"])
            }
        }
    }

    @Test("Checkpoints and other connections coming and going are no moved WAL file: writes go on")
    func theWALLifeCycleKeepsWritesGoing() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path, readerCount: 2)) { store in
                _ = try await store.submit(submission("a", 1))
                do {
                    let other = try RawDatabase(path: path)
                    #expect(try other.integer("SELECT COUNT(*) FROM scores") == 1)
                    try other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  // cuts the WAL file to nothing
                }  // closed, though not the last connection: SQLite leaves the WAL file
                for (index, player) in ["b", "c", "d"].enumerated() {
                    _ = try await store.submit(submission(player, Int64(index)))
                    #expect(try await store.personalBest(playerName: player) != nil)
                }
            }
        }
    }

    /// Deletes the file at `path`, or renames an empty file over it.
    private static func moveAway(_ path: String, _ how: String) throws {
        guard how != "deleted" else { return try FileManager.default.removeItem(atPath: path) }
        let other = path + ".restored"
        try Data().write(to: URL(fileURLWithPath: other))
        #expect(rename(other, path) == 0)
    }

    private static func savedGame(_ player: String) -> SavedGame {
        SavedGame(playerName: player, level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w")
    }
}

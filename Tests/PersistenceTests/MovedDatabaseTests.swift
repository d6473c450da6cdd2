import Foundation
import Logging
import RecordedLogs
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
                // Already in the database file alone, as a crash now would leave it: the store
                // copied them itself (SQLite's own checkpoint at close would do it only later).
                let copy = databasePath(in: directory, "copy.db")
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                let copied = try RawDatabase(path: copy).strings("SELECT player_name FROM scores ORDER BY id")
                #expect(copied == ["a", "b", "c"])
                await #expect(throws: PersistenceError.storageFailure) { try await store.save(Self.savedGame("b")) }
                for _ in 0..<2 {  // each reader
                    #expect(try await store.personalBest(playerName: "c")?.submission.score == 2)
                }
            }
            let reopened = try RawDatabase(path: path)
            #expect(try reopened.strings("SELECT player_name FROM scores ORDER BY id") == ["a", "b", "c"])
            #expect(try reopened.strings("SELECT player_name FROM saved_games") == ["a"])
        }
    }

    /// `rm game.db` while the server runs: the connection still has the file open, and closing it
    /// frees the file with every write acknowledged into it. Renamed away, the file keeps them.
    @Test(
        "A database file deleted under a running store is copied aside at the stop, with every write it acknowledged",
        arguments: Self.moves)
    func aDeletedDatabaseIsCopiedAside(_ how: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let records = RecordedLogs()
            try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { store in
                for score in Int64(1)...300 { _ = try await store.submit(submission("p\(score)", score)) }
                try await store.save(Self.savedGame("kept"))
                try Self.moveAway(path, how)
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.submit(submission("after", 0))
                }
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            let asides = files.filter { $0.hasPrefix("game.db.orphaned-") }
            let setAside = records.entries.filter { $0.message == "persistence.database.set_aside" }
            guard how == "deleted" else {
                // Replaced by a rename: the old file was deleted too, and is what the copy keeps.
                #expect(asides.count == 1 && setAside.count == 1, "\(files)")
                return
            }
            let aside = try #require(asides.first, "nothing set aside: \(files)")
            #expect(asides.count == 1 && setAside.map(\.level) == [.critical])
            #expect(setAside.first?.metadata["moved_to"] == "\(directory.path)/\(aside)")
            let copy = try RawDatabase(path: "\(directory.path)/\(aside)")
            #expect(try copy.strings("PRAGMA integrity_check") == ["ok"])
            #expect(try copy.strings("SELECT count(*) FROM scores") == ["300"])
            #expect(try copy.strings("SELECT player_name FROM saved_games") == ["kept"])
        }
    }

    /// What an operator's alert reads: each event names the file that moved, the WAL's path under
    /// `db.wal` as every other WAL event has it (it was under `db.path`, the database's key). Every
    /// batch after the move is refused and logged; only the first within 10 s at critical.
    @Test(
        "A moved database or WAL file is logged critical once, with the path of the file that moved; the next refusals at debug"
    )
    func eachMoveIsLoggedWithItsFile() async throws {
        for (file, event, key) in [
            ("", "persistence.database.moved", "db.path"), ("-wal", "persistence.wal.moved", "db.wal"),
        ] {
            try await withTemporaryDirectory { directory in
                let path = databasePath(in: directory)
                let records = RecordedLogs()
                try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { store in
                    _ = try await store.submit(submission("before", 1))
                    try FileManager.default.removeItem(atPath: path + file)
                    for attempt in Int64(0)..<3 {
                        await #expect(throws: PersistenceError.storageFailure) {
                            try await store.submit(submission("after", attempt))
                        }
                    }
                }
                let lines = records.entries.filter { $0.message == event }
                #expect(lines.map(\.level) == [.critical, .debug, .debug], "one line per refused batch")
                let logged = try #require(lines.first, "\(event) not logged")
                #expect(logged.metadata[key] == "\(path + file)")
                #expect(logged.metadata.keys.sorted() == [key, "effect"].sorted(), "\(logged.metadata)")
            }
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
                // Another connection (an operator's session) open across the close: SQLite's own
                // checkpoint at the last connection's close cannot run, only the store's copy.
                let other = try RawDatabase(path: path)
                #expect(try other.strings("SELECT player_name FROM scores") == ["a"])
                try FileManager.default.removeItem(atPath: path + "-wal")
                await store.close()
                // What is left once the process exits, the WAL file it still has open gone with it.
                let copy = databasePath(in: directory, "copy.db")
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                #expect(try RawDatabase(path: copy).strings("SELECT player_name FROM scores") == ["a"])
                withExtendedLifetime(other) {}
            }
        }
    }

    /// The copy out of a deleted WAL file is tried again with each batch until it succeeds; while
    /// it keeps failing, a critical line once in 10 s, not one per batch.
    @Test(
        "A WAL file deleted while the database file cannot be written: each batch retries the copy, logged critical once"
    )
    func aFailedCopyOutOfADeletedWALIsRetriedWithEachBatch() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let records = RecordedLogs()
            try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { store in
                _ = try await store.submit(submission("a", 1))
                try FileManager.default.removeItem(atPath: path + "-wal")
                let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                await InjectedWriteErrors.failingWrites(toFile: resolved, with: EIO) {
                    for attempt in Int64(0)..<3 {
                        await #expect(throws: PersistenceError.storageFailure) {
                            try await store.submit(submission("refused", attempt))
                        }
                    }
                }
                #expect(!records.entries.contains { $0.message == "persistence.wal.rescued" })
                await #expect(throws: PersistenceError.storageFailure) {
                    try await store.submit(submission("later", 4))
                }
                // Copied while the store runs: at its close SQLite would copy the WAL in anyway.
                let copy = databasePath(in: directory, "copy.db")
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                #expect(try RawDatabase(path: copy).strings("SELECT player_name FROM scores") == ["a"])
            }
            let failures = records.entries.filter { $0.message == "persistence.wal.rescue_failed" }
            #expect(failures.map(\.level) == [.critical, .debug, .debug])
            #expect(failures.first?.metadata.keys.sorted() == ["db.path", "effect", "error"])
            #expect(records.entries.filter { $0.message == "persistence.wal.rescued" }.count == 1)
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

    /// A backup restored with `mv` while the server runs: the old file renamed away or deleted first.
    static let restores = ["old file renamed away", "old file deleted"]

    @Test(
        "A backup restored under a running store is what the next start finds, and the old file gets its writes",
        arguments: Self.restores)
    func aBackupRestoredUnderTheStoreIsLeftAsRestored(_ restore: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await Self.withBackupRestoredUnderAStore(at: path, restore) { store in await store.close() }
            let restored = try RawDatabase(path: path)
            #expect(try restored.strings("PRAGMA integrity_check") == ["ok"])
            #expect(try restored.strings("SELECT player_name FROM scores ORDER BY id") == ["saved"])
            // The old file keeps its writes: renamed away, where it went; deleted, in a copy.
            let asides = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.hasPrefix("game.db.orphaned-")
            }
            let old =
                restore == Self.restores[0]
                ? databasePath(in: directory, "old.db") : "\(directory.path)/\(try #require(asides.first))"
            #expect(asides.count == (restore == Self.restores[0] ? 0 : 1), "\(asides)")
            #expect(
                try RawDatabase(path: old).strings("SELECT player_name FROM scores ORDER BY id") == ["saved", "a", "b"])
        }
    }

    /// Both files of a backup restored with `mv` while the store runs. Closing the last connection,
    /// SQLite deletes the WAL and shared-memory files by name, which then name the restored ones;
    /// it does not for a database file that has moved, nor may anything the store does at close.
    @Test("A backup restored with its WAL under a running store keeps the writes in that WAL")
    func aBackupRestoredWithItsWALKeepsItsWrites() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let (backup, restore) = (
                databasePath(in: directory, "backup.db"), databasePath(in: directory, "restore.db")
            )
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                _ = try await store.submit(submission("running", 1))
                // The backup, copied while its own store is open: its last write waits in its WAL.
                try await withStore(PersistenceConfiguration(databasePath: backup)) { other in
                    _ = try await other.submit(submission("in the WAL", 5))
                    let walBytes = try FileManager.default.attributesOfItem(atPath: backup + "-wal")[.size] as? Int
                    #expect((walBytes ?? 0) > 0, "the write waits in the WAL")
                    for suffix in ["", "-wal"] {
                        try FileManager.default.copyItem(atPath: backup + suffix, toPath: restore + suffix)
                    }
                }
                #expect(rename(path, databasePath(in: directory, "old.db")) == 0)
                for suffix in ["", "-wal"] { #expect(rename(restore + suffix, path + suffix) == 0) }
                await store.close()
            }
            let restored = try RawDatabase(path: path)
            #expect(try restored.strings("PRAGMA integrity_check") == ["ok"])
            #expect(try restored.strings("SELECT player_name FROM scores ORDER BY id") == ["in the WAL"])
        }
    }

    @Test("A WAL that cannot be copied into the replaced database file is set aside, not left for the next start")
    func aWALThatCannotBeCopiedIsSetAside() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await Self.withBackupRestoredUnderAStore(at: path, Self.restores[0]) { store in
                await InjectedWriteErrors.failingWrites(in: directory, with: EIO) { await store.close() }
            }
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(files.contains { $0.hasPrefix("game.db-wal.orphaned-") }, "\(files)")
            let restored = try RawDatabase(path: path)
            #expect(try restored.strings("PRAGMA integrity_check") == ["ok"])
            #expect(try restored.strings("SELECT player_name FROM scores ORDER BY id") == ["saved"])
        }
    }

    /// A store at `path` with one score ("saved") in its file and two more ("a", "b") in its WAL,
    /// whose file is replaced by a copy made before those two (`restore`: the old one renamed to
    /// `old.db` or deleted first); then `close` closes the store.
    private static func withBackupRestoredUnderAStore(
        at path: String, _ restore: String, close: (SQLiteGameStore) async throws -> Void
    ) async throws {
        let backup = path + ".backup"
        try await withStore(PersistenceConfiguration(databasePath: path)) { store in
            _ = try await store.submit(submission("saved", 1))
        }
        try FileManager.default.copyItem(atPath: path, toPath: backup)
        try await withStore(PersistenceConfiguration(databasePath: path)) { store in
            for player in ["a", "b"] { _ = try await store.submit(submission(player, 2)) }
            let walBytes = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int
            #expect((walBytes ?? 0) > 0, "the two writes wait in the WAL")
            if restore == Self.restores[0] {
                #expect(rename(path, URL(fileURLWithPath: path).deletingLastPathComponent().path + "/old.db") == 0)
            } else {
                try FileManager.default.removeItem(atPath: path)
            }
            #expect(rename(backup, path) == 0)
            try await close(store)
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

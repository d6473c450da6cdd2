import Foundation
import RecordedLogs
import Testing

@testable import Persistence

@Suite("SQLiteGameStore.open")
struct StoreOpeningTests {
    @Test func newDatabaseGetsSchemaAndWAL() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            #expect(!FileManager.default.fileExists(atPath: path))
            try await withStore(PersistenceConfiguration(databasePath: path)) { _ in
                let raw = try RawDatabase(path: path)
                #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
                #expect(try raw.strings("PRAGMA journal_mode") == ["wal"])
                let objects = Set(try raw.strings("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"))
                for name in ["scores", "bosses", "saved_games", "idx_scores_player_score"] {
                    #expect(objects.contains(name), "missing \(name) in \(objects.sorted())")
                }
                // Created by v1/v2, dropped by v3: leaderboards are served from memory.
                for name in ["idx_score_desc", "idx_scores_mode_score"] {
                    #expect(!objects.contains(name), "\(name) still in \(objects.sorted())")
                }
            }
        }
    }

    /// A first start finds no file; an empty one was cut short by a failed copy or a full disk,
    /// and an operator must hear that its scores are gone, not read an ordinary start.
    @Test("An empty database file is made a new database with a warning; no file at all, and a used one, without")
    func anEmptyFileIsWarnedOf() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            for (setUp, warned) in [("none", false), ("empty", true), ("used", false)] {
                if setUp == "empty" { #expect(FileManager.default.createFile(atPath: path, contents: Data())) }
                let records = RecordedLogs()
                try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { store in
                    _ = try await store.submit(submission("after \(setUp)", 1))
                }
                let warnings = records.entries.filter { $0.message == "persistence.database.was_empty" }
                #expect(warnings.map(\.level) == (warned ? [.warning] : []), "\(setUp)")
                #expect(warnings.allSatisfy { $0.metadata["db.path"] == "\(path)" })
                if setUp == "none" { try FileManager.default.removeItem(atPath: path) }  // "used" opens the next
            }
        }
    }

    @Test func missingParentDirectoriesAreCreated() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("data/nested/game.db").path
            let bosses = try await withStore(PersistenceConfiguration(databasePath: path)) { try await $0.bosses() }
            #expect(bosses.count == 22)
            #expect(FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func bossesAreSeededInIndexOrder() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                let bosses = try await store.bosses()
                try #require(bosses.count == 22)
                #expect(bossCatalogue.count == 22)
                #expect(bosses.map(\.bossIndex) == Array(0..<22))
                #expect(bosses.map(\.bossName) == bossCatalogue.map(\.name))
                #expect(bosses.map(\.notoriousTitle) == bossCatalogue.map(\.title))
                #expect(bosses.first?.bossName == "Vortex Reaper")
                #expect(bosses.last?.bossName == "Ancient Evil")
                #expect(Set(bosses.map(\.id)).count == 22)
            }
        }
    }

    @Test func openingTwiceDoesNotDuplicateBosses() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            let first = try await withStore(configuration) { try await $0.bosses() }
            let second = try await withStore(configuration) { try await $0.bosses() }
            #expect(second == first)
            let raw = try RawDatabase(path: configuration.databasePath)
            #expect(try raw.integer("SELECT COUNT(*) FROM bosses") == 22)
            #expect(try raw.integer("PRAGMA user_version") == Int64(migrations.count))
        }
    }

    /// A start writes only what it changes: a store killed while the disk was full can start again
    /// (each commit would need room for a WAL frame), and serve its scores.
    @Test func openingAnUpToDateDatabaseWritesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { _ = try await $0.submit(submission("a", 1)) }
            try await withStore(configuration) { store in
                let wal = try FileManager.default.attributesOfItem(atPath: configuration.databasePath + "-wal")
                #expect(wal[.size] as? Int == 0, "the start committed a transaction")
                #expect(try await store.personalBest(playerName: "a")?.submission.score == 1)
            }
        }
    }

    @Test func garbageFileIsNotAValidDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let garbage = Data((0..<8_192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            try garbage.write(to: URL(fileURLWithPath: path))

            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.path == path)
            #expect(error?.reason == "not a valid SQLite database")
            #expect(error.map { String(describing: $0) }?.contains("not a valid SQLite database") == true)
            // The file is left alone.
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        }
    }

    /// A database with a damaged page is said to be one, in SQLite's words: "not a valid SQLite
    /// database" sent its operator looking for the wrong file, when its rows can often be saved.
    @Test func aDamagedPageIsReportedAsDamage() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = PersistenceConfiguration(databasePath: databasePath(in: directory))
            try await withStore(configuration) { store in
                for number in 0..<400 { _ = try await store.submit(submission("player \(number)", Int64(number))) }
            }
            let raw = try RawDatabase(path: configuration.databasePath)
            let root = try raw.integer("SELECT rootpage FROM sqlite_master WHERE name = 'scores'")
            let pageSize = try raw.integer("PRAGMA page_size")
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: configuration.databasePath))
            try file.seek(toOffset: UInt64((root - 1) * pageSize))
            try file.write(contentsOf: Data(repeating: 0xA5, count: Int(pageSize)))
            try file.close()

            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            }
            #expect(error?.reason.hasPrefix("the database is damaged (") == true, "\(String(describing: error))")
            #expect(error?.reason.contains(".recover") == true)
        }
    }

    @Test func directoryUnderARegularFileCannotBeCreated() async throws {
        try await withTemporaryDirectory { directory in
            let blocker = directory.appendingPathComponent("afile")
            try Data("I am a file".utf8).write(to: blocker)
            let path = blocker.appendingPathComponent("sub/game.db").path

            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.path == path)
            #expect(error?.reason.contains("cannot create directory") == true)
        }
    }

    @Test func databasePathThatIsADirectoryFails() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: quietLogger)
            }
            #expect(error?.path == path)
        }
    }
    /// Each server keeps leaderboards and ranks in memory: a second on the same file would miss the
    /// first's rows. The lock goes with the first's close.
    @Test func aSecondStoreOnTheSameFileIsRefusedUntilTheFirstCloses() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let configuration = PersistenceConfiguration(databasePath: path)
            let first = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            let error = await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(configuration, logger: quietLogger)
            }
            #expect(error?.reason.hasPrefix("another relay is using it (\(path).lock is locked") == true)
            _ = try await first.submit(submission("a", 1))  // the refused open took nothing from the first
            await first.close()
            let scores = try await withStore(configuration) { try await $0.leaderboard(limit: 10, gameMode: nil) }
            #expect(scores.count == 1)
        }
    }
    /// A process started meanwhile holds a copy of the lock's descriptor from its `fork` to its
    /// `exec`: the lock goes with the release all the same, not with the last copy (a store reopened
    /// as a test's child relay started found it held: "another relay is using it").
    @Test func aReleasedLockIsFreeWhileACopyOfItsDescriptorLivesOn() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let lock = try DatabaseLock(databasePath: path)
            // As a child's, between its fork and its exec (closed at another child's exec).
            let copy = fcntl(lock.descriptor, F_DUPFD_CLOEXEC, 0)
            defer { close(copy) }
            #expect(copy >= 0)
            lock.release()
            let next = try DatabaseLock(databasePath: path)
            next.release()
        }
    }

    /// SQLite keeps its files beside a link's target: two data folders linking one file are one database.
    @Test func aStoreThroughAnotherLinkToTheSameFileIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let first = try await SQLiteGameStore.open(
                PersistenceConfiguration(databasePath: path), logger: quietLogger)
            let link = databasePath(in: directory, "link.db")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
            await #expect(throws: StoreOpeningError.self) {
                _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: link), logger: quietLogger)
            }
            await first.close()
        }
    }

    /// SQLite reads a path starting with `file:` as a URI (the system's library is built so): the
    /// store locks and opens every path from the root, which no URI starts with.
    @Test func pathsAreTakenFromTheRoot() {
        let here = FileManager.default.currentDirectoryPath
        #expect(SQLiteGameStore.absolute("file:data/game.db") == here + "/file:data/game.db")
        #expect(SQLiteGameStore.absolute("data/game.db") == here + "/data/game.db")
        #expect(SQLiteGameStore.absolute("/srv/game.db") == "/srv/game.db")
    }

    /// A link whose target does not exist yet: SQLite creates the target.
    @Test func aStoreThroughALinkToANewFileLocksBesideTheTarget() async throws {
        try await withTemporaryDirectory { directory in
            let target = databasePath(in: directory, "target.db")
            let link = databasePath(in: directory)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target.db")  // relative
            let first = try await SQLiteGameStore.open(
                PersistenceConfiguration(databasePath: link), logger: quietLogger)
            #expect(FileManager.default.fileExists(atPath: target + ".lock"))
            for path in [link, target] {
                await #expect(throws: StoreOpeningError.self) {
                    _ = try await SQLiteGameStore.open(
                        PersistenceConfiguration(databasePath: path), logger: quietLogger)
                }
            }
            await first.close()
        }
    }
}

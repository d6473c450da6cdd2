import ChildProcess
import Foundation
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// `game.db.lock` is found by the database's path, so the database file is locked too: a second
/// server that reaches the file another way is refused, and its refusal leaves the first's SQLite
/// locks alone (a close of any descriptor of the file would drop them).
@Suite("The database file's own lock")
struct DatabaseFileLockTests {
    @Test func aHardLinkToTheDatabaseInAnotherFolderIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            let other = directory.appendingPathComponent("other")
            try FileManager.default.createDirectory(at: other, withIntermediateDirectories: false)
            let link = databasePath(in: other)
            try await self.expectSecondStoreRefused(firstAt: path, secondAt: link) {
                #expect(Glibc.link(path, link) == 0)
            }
        }
    }

    @Test func aDeletedLockFileLetsNoSecondStoreIn() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await self.expectSecondStoreRefused(firstAt: path, secondAt: path) {
                #expect(unlink(path + ".lock") == 0)
            }
        }
    }

    /// Opens a store at `firstPath`, runs `bypass`, and expects a store at `secondPath` refused
    /// without harm to the first: its SQLite locks stay, it takes writes, and once it is closed
    /// the file opens at `secondPath` with them.
    private func expectSecondStoreRefused(
        firstAt firstPath: String, secondAt secondPath: String, bypass: () throws -> Void
    ) async throws {
        let first = try await SQLiteGameStore.open(
            PersistenceConfiguration(databasePath: firstPath), logger: quietLogger)
        _ = try await first.submit(submission("a", 1))
        let sqliteLocks = self.fcntlLocksOfThisProcess(on: firstPath)
        #expect(!sqliteLocks.isEmpty)  // in WAL mode SQLite holds one on the file while it is open
        try bypass()
        let error = await #expect(throws: StoreOpeningError.self) {
            _ = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: secondPath), logger: quietLogger)
        }
        #expect(
            error?.reason.hasPrefix("another relay is using it (the file is locked") == true,
            "\(String(describing: error))")
        #expect(self.fcntlLocksOfThisProcess(on: firstPath) == sqliteLocks)
        _ = try await first.submit(submission("b", 2))
        await first.close()
        let scores = try await withStore(PersistenceConfiguration(databasePath: secondPath)) {
            try await $0.leaderboard(limit: 10, gameMode: nil)
        }
        #expect(scores.map(\.submission.playerName).sorted() == ["a", "b"])
    }

    /// This process's `fcntl` (POSIX) locks on the file at `path`, as `/proc/locks` lists them
    /// (`1: POSIX  ADVISORY  READ 4242 08:01:1234 128 128`), without their line numbers.
    private func fcntlLocksOfThisProcess(on path: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0, let table = procFile("/proc/locks") else { return [] }
        return table.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "POSIX", fields[4] == "\(getpid())",
                fields[5].hasSuffix(":\(info.st_ino)")
            else { return nil }
            return fields.dropFirst().joined(separator: " ")
        }
    }

}

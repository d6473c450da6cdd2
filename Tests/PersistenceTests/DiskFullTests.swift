import Foundation
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// The database on a real filesystem that runs out of space (a tmpfs of its own), then gets
/// some back. Long player names make each commit add pages the database file must grow by.
@Suite("A full disk")
struct DiskFullTests {
    static let mebibyte = 1 << 20
    static let longName = String(repeating: "n", count: 800)

    @Test(
        "After a WAL spike and a full disk, freeing 1 MiB brings writes back; nothing acknowledged is lost",
        .enabled(if: SmallFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"),
        .timeLimit(.minutes(3)))  // alone well under a second; beside the whole suite, ~20 s
    func recoveryAfterWALSpike() async throws {
        try await SmallFilesystem.withMounted(mebibytes: 48) { folder in
            let path = folder + "/game.db"
            try await withStore(PersistenceConfiguration(databasePath: path, maxBatchSize: 1)) { store in
                var writes = Writes(store: store)
                // The WAL grows to 32 MiB; then the next commits copy it all back and start it over.
                try await writes.growWALWhileAReaderHolds(path: path, to: 32 * Self.mebibyte)
                for _ in 0..<2 { try await writes.next() }

                // Without a WAL size limit, commits would go on into the spike's space while every
                // checkpoint fails, and the freed MiB would go to the checkpoint's share of that.
                let filler = try await writes.fillTheDiskAndWriteUntilFull(folder)
                try SmallFilesystem.shrink(filler, by: Self.mebibyte)
                #expect(await writes.tryNext(20) == Array(repeating: "ok", count: 20))
                #expect(
                    try RawDatabase(path: path).integer("SELECT COUNT(*) FROM scores") == Int64(writes.acknowledged))
            }
        }
    }

    @Test(
        "After a full disk, a write whose WAL frames need more than the space freed goes in, reusing the WAL",
        .enabled(if: SmallFilesystem.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN)"),
        .timeLimit(.minutes(3)))  // alone well under a second; beside the whole suite, ~20 s
    func recoveryOfALargeBatch() async throws {
        try await SmallFilesystem.withMounted(mebibytes: 24) { folder in
            let path = folder + "/game.db"
            try await withStore(PersistenceConfiguration(databasePath: path, maxBatchSize: 1)) { store in
                var writes = Writes(store: store)
                // Steady writes until the WAL reaches the size at which SQLite checkpoints it.
                while SmallFilesystem.size(of: path + "-wal") < 4_000_000 { try await writes.next() }
                let filler = try await writes.fillTheDiskAndWriteUntilFull(folder)
                try SmallFilesystem.shrink(filler, by: Self.mebibyte)
                // A 1 MiB name: some 2 MiB of WAL frames (row and index entry), stored beside the WAL
                // only with 2 MiB free, but in its space once a checkpoint has let it start over.
                let large = submission(String(repeating: "L", count: Self.mebibyte), 1)
                let stored = try await store.submit(large)
                #expect(try await store.personalBest(playerName: large.playerName)?.id == stored.id)
                #expect(await writes.tryNext(5) == Array(repeating: "ok", count: 5))
            }
        }
    }

    /// What the two tests above rely on, where a tmpfs cannot be mounted: SQLite keeps a WAL at
    /// its peak size unless `journal_size_limit` cuts it back when it starts over.
    @Test("After a reader held the WAL past 12 MiB, the WAL is cut back to 4 MiB once it starts over")
    func walShrinksAfterASpike() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path, maxBatchSize: 1)) { store in
                var writes = Writes(store: store)
                try await writes.growWALWhileAReaderHolds(path: path, to: 12 * Self.mebibyte)
                // The next commits checkpoint it all, and the one after starts the WAL over.
                for _ in 0..<50 where SmallFilesystem.size(of: path + "-wal") > BatchingWriter.walSizeLimitBytes {
                    try await writes.next()
                }
                let size = SmallFilesystem.size(of: path + "-wal")
                #expect(size <= BatchingWriter.walSizeLimitBytes, "\(size) bytes of WAL")
                #expect(
                    try RawDatabase(path: path).integer("SELECT COUNT(*) FROM scores") == Int64(writes.acknowledged))
            }
        }
    }

    /// Submits one score at a time and counts those acknowledged.
    struct Writes {
        let store: SQLiteGameStore
        var acknowledged = 0

        mutating func next() async throws {
            _ = try await self.store.submit(submission(DiskFullTests.longName + "\(self.acknowledged)", 1))
            self.acknowledged += 1
        }

        /// Writes while a reader holds its snapshot, which keeps checkpoints from finishing, until
        /// the WAL of the database at `path` has `bytes`; then lets the reader go.
        mutating func growWALWhileAReaderHolds(path: String, to bytes: Int) async throws {
            let reader = try RawDatabase(path: path)
            try reader.execute("BEGIN")
            _ = try reader.integer("SELECT COUNT(*) FROM scores")
            while SmallFilesystem.size(of: path + "-wal") < bytes { try await self.next() }
            try reader.execute("COMMIT")
        }

        /// Each write's outcome: "ok" or its error.
        mutating func tryNext(_ count: Int) async -> [String] {
            var outcomes: [String] = []
            for _ in 0..<count {
                do {
                    try await self.next()
                    outcomes.append("ok")
                } catch { outcomes.append("\(error)") }
            }
            return outcomes
        }

        /// Takes every free byte with another file, then writes until one write meets the full disk
        /// (commits may go on for a while into the WAL's space). Returns the other file's path.
        mutating func fillTheDiskAndWriteUntilFull(_ folder: String) async throws -> String {
            let filler = folder + "/filler"
            try SmallFilesystem.fill(filler)
            var failure: (any Error)?
            while failure == nil, self.acknowledged < 100_000 {
                do { try await self.next() } catch { failure = error }
            }
            #expect((failure as? PersistenceError) == .diskFull, "\(String(describing: failure))")
            #expect(
                try await self.store.personalBest(playerName: "nobody") == nil, "reads go on while the disk is full")
            return filler
        }
    }
}

/// A tmpfs mounted for one test at a folder of its own under /tmp.
enum SmallFilesystem {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { self.description = "\(what): \(String(cString: strerror(errno)))" }
    }

    /// Whether this process may mount one (root on Linux; not in most unprivileged containers).
    static let canMount: Bool = (try? withMountedSync(mebibytes: 1) { _ in }) != nil

    /// Mounts a tmpfs of `mebibytes`, runs `body` with its path, and always unmounts it after.
    static func withMounted<T>(mebibytes: Int, _ body: (String) async throws -> T) async throws -> T {
        let folder = try mount(mebibytes: mebibytes)
        defer { unmount(folder) }
        return try await body(folder)
    }

    private static func withMountedSync(mebibytes: Int, _ body: (String) throws -> Void) throws {
        let folder = try mount(mebibytes: mebibytes)
        defer { unmount(folder) }
        try body(folder)
    }

    private static func mount(mebibytes: Int) throws(Failure) -> String {
        let folder = "/tmp/persistence-disk-full-\(UUID().uuidString)"
        guard mkdir(folder, 0o700) == 0 else { throw Failure("mkdir \(folder)") }
        guard Glibc.mount("tmpfs", folder, "tmpfs", 0, "size=\(mebibytes)m") == 0 else {
            let failure = Failure("mount tmpfs on \(folder)")
            rmdir(folder)
            throw failure
        }
        return folder
    }

    private static func unmount(_ folder: String) {
        // Lazily if something still holds a file there, so the mount never outlives the test.
        if umount2(folder, 0) != 0 { umount2(folder, Int32(MNT_DETACH)) }
        rmdir(folder)
    }

    static func size(of path: String) -> Int {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_size) : 0
    }

    /// Creates `path` taking every free byte of its filesystem.
    static func fill(_ path: String) throws(Failure) {
        var filesystem = statvfs()
        guard statvfs((path as NSString).deletingLastPathComponent, &filesystem) == 0 else { throw Failure("statvfs") }
        let free = Int(filesystem.f_bavail) * Int(filesystem.f_frsize)
        let descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
        guard descriptor >= 0 else { throw Failure("open \(path)") }
        defer { close(descriptor) }
        let error = posix_fallocate(descriptor, 0, off_t(free))
        guard error == 0 else {
            errno = error
            throw Failure("posix_fallocate \(free) bytes")
        }
    }

    static func shrink(_ path: String, by bytes: Int) throws(Failure) {
        guard truncate(path, off_t(max(0, size(of: path) - bytes))) == 0 else { throw Failure("truncate \(path)") }
    }
}

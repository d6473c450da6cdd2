import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Persistence
import RecordedLogs
import Synchronization
import Testing
import _NIOFileSystem

@testable import RelayServer

@Suite("Saved games and bosses over HTTP")
struct SavedGameAndBossRoutesTests {
    @Test("Save, load, overwrite, delete; loading nothing answers JSON null")
    func savedGameLifecycle() async throws {
        try await withLiveApp { client in
            let empty = try await client.execute(uri: "/api/load_game/alice", method: .get, headers: keyed)
            #expect(empty.status == .ok)
            #expect(String(buffer: empty.body) == "null")

            let saved = try await client.execute(uri: "/api/save_game", method: .post, headers: keyed, body: saveBody())
            #expect(try saved.object()["message"] as? String == "Game saved successfully")
            let overwritten = try await client.execute(
                uri: "/api/save_game", method: .post, headers: keyed, body: saveBody(level: 9, weapon: "sword"))
            #expect(overwritten.status == .ok)

            let loaded = try await client.execute(uri: "/api/load_game/alice", method: .get, headers: keyed).object()
            #expect(loaded["level"] as? Int == 9)
            #expect(loaded["weapon"] as? String == "sword")
            #expect(loaded["score"] as? Int == 1500)
            #expect(loaded["lives"] as? Int == 2)
            #expect(loaded["health"] as? Int == 80)
            #expect(loaded["coins"] as? Int == 42)
            #expect(loaded["player_name"] as? String == "alice")

            for _ in 0..<2 {  // deleting twice succeeds both times
                let deleted = try await client.execute(uri: "/api/save_game/alice", method: .delete, headers: keyed)
                #expect(deleted.status == .ok)
                #expect(try deleted.object()["message"] as? String == "Save game deleted successfully")
            }
            let gone = try await client.execute(uri: "/api/load_game/alice", method: .get, headers: keyed)
            #expect(String(buffer: gone.body) == "null")

            // The weapon is trimmed as names are (README), so a blank one is too short.
            _ = try await client.execute(
                uri: "/api/save_game", method: .post, headers: keyed, body: saveBody(weapon: " laser\t"))
            let trimmed = try await client.execute(uri: "/api/load_game/alice", method: .get, headers: keyed).object()
            #expect(trimmed["weapon"] as? String == "laser")
            let blank = try await client.execute(
                uri: "/api/save_game", method: .post, headers: keyed, body: saveBody(weapon: "  "))
            #expect(blank.status == .unprocessableContent)
            #expect(String(buffer: blank.body).contains("string_too_short"))
        }
    }

    @Test("Saved games of names with / and unicode round-trip through encoded paths")
    func savedGameEncodedNames() async throws {
        try await withLiveApp { client in
            let name = "ä/ b"
            _ = try await client.execute(
                uri: "/api/save_game", method: .post, headers: keyed, body: saveBody(name: name))
            let loaded = try await client.execute(
                uri: "/api/load_game/\(pathSegment(name))", method: .get, headers: keyed)
            #expect(try loaded.object()["player_name"] as? String == name)
            _ = try await client.execute(uri: "/api/save_game/\(pathSegment(name))", method: .delete, headers: keyed)
            let gone = try await client.execute(
                uri: "/api/load_game/\(pathSegment(name))", method: .get, headers: keyed)
            #expect(String(buffer: gone.body) == "null")
        }
    }

    /// PROTOCOL.md's catalogue, copied here rather than taken from `bossCatalogue`, which the
    /// store is seeded from: a typo there must fail a test.
    static let protocolBosses = [
        "Vortex Reaper — The Dimensional Destroyer", "Nebula Dragon — Cosmic Annihilator",
        "Quantum Mech — Master of Reality", "Steel Colossus — The Iron Tyrant", "Inferno Demon — Harbinger of Flames",
        "Wing Commander — Sky Dominator", "Titan Crusher — Mountain Breaker", "Void Sentinel — Guardian of Darkness",
        "Plasma King — Emperor of Energy", "Astral Behemoth — Star Devourer", "Eclipse Warlord — Shadow Conqueror",
        "Nova Juggernaut — The Supernova Beast", "Chrono Mech — Time's End", "Cyber Overlord — Digital Destroyer",
        "Omega Titan — The Final Terror", "Genesis Machine — First of Many", "Blade Knight — Master of Combat",
        "Fortress Prime — The Unbreakable", "Plasma Destroyer — Energy Incarnate", "Void Enforcer — The Abyss Walker",
        "Tentacle Horror — Deep Space Terror", "Ancient Evil — Primordial Nightmare",
    ]

    @Test("The 22 bosses of PROTOCOL.md in index order with image URLs")
    func bosses() async throws {
        try await withLiveApp { client in
            let bosses = try await client.execute(uri: "/api/bosses", method: .get, headers: keyed).objects()
            #expect(bosses.count == 22)
            #expect(bosses.map { $0["boss_index"] as? Int } == Array(0..<22))
            let pairs = bosses.map { boss in
                "\(boss["boss_name"] as? String ?? "?") — \(boss["notorious_title"] as? String ?? "?")"
            }
            #expect(pairs == Self.protocolBosses)
            // Python's `{:02d}` of each index: 00…09 padded, 10 and up as they are.
            #expect(
                bosses.map { $0["image_url"] as? String }
                    == (0..<22).map { String(format: "/api/bosses/images/%02d", $0) })
            #expect(bosses.allSatisfy { $0["frame_x"] as? Int == 0 && $0["frame_y"] as? Int == 0 })
            #expect(Set(bosses.compactMap { $0["id"] as? Int }).count == 22)
        }
    }

    /// The seeded catalogue's frames are all 0 and its ids in index order, so `bosses()` above
    /// cannot tell a swapped frame or an id made up from the index: rows unlike that can.
    @Test("/api/bosses answers the ids and frames the store holds")
    func bossFieldsAreTheStores() async throws {
        let store = LegacyBosses()
        try await withLiveApp(scores: store, savedGames: store, bosses: store) { client in
            let bosses = try await client.execute(uri: "/api/bosses", method: .get, headers: keyed).objects()
            #expect(bosses.map { $0["id"] as? Int } == [7, 3])
            #expect(bosses.map { $0["boss_index"] as? Int } == [0, 1])
            #expect(bosses.map { $0["frame_x"] as? Int } == [10, 30])
            #expect(bosses.map { $0["frame_y"] as? Int } == [20, 40])
            #expect(bosses.map { $0["boss_name"] as? String } == ["Legacy One", "Legacy Two"])
            #expect(bosses.map { $0["image_url"] as? String } == ["/api/bosses/images/00", "/api/bosses/images/01"])
        }
    }

    /// 0 and 10 are the edges of the file name's padding (`boss_00.png`, `boss_10.png`; not
    /// `boss_0.png` nor `boss_010.png`) and 0 that of the check against negative indexes.
    @Test("Boss images 0 and 10 are served from boss_00.png and boss_10.png")
    func bossImageNumberEdges() async throws {
        try await withTemporaryDirectory { images in
            let first = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 100))
            let tenth = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 10, count: 200))
            try writeSettledImage(first, to: "\(images)/boss_00.png")
            try writeSettledImage(tenth, to: "\(images)/boss_10.png")
            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                for (index, png) in [(0, first), (10, tenth)] {
                    let image = try await client.execute(uri: "/api/bosses/images/\(index)", method: .get)
                    #expect(image.status == .ok, "boss \(index)")
                    #expect(Data(buffer: image.body) == png, "boss \(index)")
                }
            }
        }
    }

    @Test("Boss images: PNG bytes with an immutable cache; a missing one is a non-cacheable 404")
    func bossImages() async throws {
        try await withTemporaryDirectory { images in
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 300))
            try writeSettledImage(png, to: "\(images)/boss_03.png")
            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                let image = try await client.execute(uri: "/api/bosses/images/3", method: .get)
                #expect(image.status == .ok)
                #expect(image.headers[.contentType] == "image/png")
                #expect(image.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(image.headers[HTTPField.Name("Pragma")!] == nil)
                #expect(Data(buffer: image.body) == png)

                let padded = try await client.execute(uri: "/api/bosses/images/03", method: .get)
                #expect(padded.status == .ok)

                let missing = try await client.execute(uri: "/api/bosses/images/4", method: .get)
                #expect(missing.status == .notFound)
                #expect(missing.headers[.cacheControl] == "no-cache, no-store, must-revalidate")
                #expect(try missing.detailMessage() == "Boss image 4 not found")  // the old backend's words

                let negative = try await client.execute(uri: "/api/bosses/images/-1", method: .get)
                #expect(negative.status == .notFound)
                #expect(try negative.detailMessage() == "Boss image -1 not found")
                let words = try await client.execute(uri: "/api/bosses/images/three", method: .get)
                #expect(words.status == .unprocessableContent)
            }
        }
    }

    /// (That the kept bytes are served while the file is unchanged: `imageCache()`, below.)
    @Test("A boss image is read again once its file changes, even to the same size and modification time")
    func bossImagesAreKeptUntilTheyChange() async throws {
        try await withTemporaryDirectory { images in
            let path = "\(images)/boss_04.png"
            try Data(repeating: 1, count: 1_000).write(to: URL(fileURLWithPath: path))
            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                let first = try await client.execute(uri: "/api/bosses/images/4", method: .get)
                #expect(Data(buffer: first.body) == Data(repeating: 1, count: 1_000))
                // Other bytes of the same size under the same modification time (`cp -p`): the
                // status change time tells them apart, and they are read.
                var before = stat()
                #expect(stat(path, &before) == 0)
                try Data(repeating: 3, count: 1_000).write(to: URL(fileURLWithPath: path))
                #expect(utimensat(AT_FDCWD, path, [before.st_atim, before.st_mtim], 0) == 0)
                let rewritten = try await client.execute(uri: "/api/bosses/images/4", method: .get)
                #expect(Data(buffer: rewritten.body) == Data(repeating: 3, count: 1_000), "the old bytes kept")
                // The same size, a later modification time: read again, not the kept bytes.
                try Data(repeating: 2, count: 1_000).write(to: URL(fileURLWithPath: path))
                let later = timespec(tv_sec: time(nil) + 10, tv_nsec: 0)
                let times = [later, later]
                #expect(utimensat(AT_FDCWD, path, times, 0) == 0)
                let changed = try await client.execute(uri: "/api/bosses/images/4", method: .get)
                #expect(Data(buffer: changed.body) == Data(repeating: 2, count: 1_000))
                // Removed: 404, whatever was kept.
                try FileManager.default.removeItem(atPath: path)
                let removed = try await client.execute(uri: "/api/bosses/images/4", method: .get)
                #expect(removed.status == .notFound)
            }
        }
    }

    /// `cp` pausing between its writes leaves a file that reads whole and unchanged, but only part-written.
    @Test("A boss image modified in the last 10 s is served without the year-long cache, then with it")
    func recentlyModifiedBossImages() async throws {
        let modified = { (seconds: Int) in
            ImageCache.Version(size: 1, modified: .init(seconds: seconds, nanoseconds: 0))
        }
        #expect(!BossImages.hasSettled(modified(1_000), now: 1_009))
        #expect(BossImages.hasSettled(modified(1_000), now: 1_010))
        #expect(!BossImages.hasSettled(modified(2_000), now: 1_000))  // in the future: as good as just now

        try await withTemporaryDirectory { images in
            let path = "\(images)/boss_03.png"
            // Modified an hour ahead, not just now: not settled however long a loaded run takes to ask.
            try Data(repeating: 1, count: 300).write(to: URL(fileURLWithPath: path))
            let hourAhead = timespec(tv_sec: time(nil) + 3_600, tv_nsec: 0)
            #expect(utimensat(AT_FDCWD, path, [hourAhead, hourAhead], 0) == 0)
            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                let fresh = try await client.execute(uri: "/api/bosses/images/3", method: .get)
                #expect(fresh.status == .ok)
                #expect(fresh.headers[.cacheControl] == "no-cache, no-store, must-revalidate")
                try writeSettledImage(Data(repeating: 2, count: 300), to: path)
                let settled = try await client.execute(uri: "/api/bosses/images/3", method: .get)
                #expect(settled.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(Data(buffer: settled.body) == Data(repeating: 2, count: 300))
            }
        }
    }

    @Test("A boss image read without a file descriptor left is a 503 to retry, not a 500", arguments: [true, false])
    func bossImageWithoutADescriptor(processWide: Bool) async throws {
        try await withTemporaryDirectory { images in
            #expect(FileManager.default.createFile(atPath: "\(images)/boss_04.png", contents: Data([1, 2, 3])))
            let errno: Errno = processWide ? .tooManyOpenFiles : .tooManyOpenFilesInSystem
            let bossImages = BossImages(directory: images) { _ in
                throw FileSystemError(
                    code: .unavailable, message: "no descriptor",
                    cause: FileSystemError.SystemCallError(systemCall: "open", errno: errno),
                    location: .init(function: #function, file: #fileID, line: #line))
            }
            await #expect(throws: APIError.storageBusy) {
                try await bossImages.image(forBossIndex: 4, logger: Logger(label: "test"))
            }
        }
    }

    /// `cp` over an image truncates the file, then writes it: a request meanwhile reads part of it.
    @Test("A boss image that changes while it is read is read again; still changing, a 503, and nothing kept")
    func bossImageChangingWhileRead() async throws {
        try await withTemporaryDirectory { images in
            let file = try FileRewrittenAfterReads(path: "\(images)/boss_03.png")
            let bossImages = BossImages(directory: images, readFile: { try await file.read($0) })
            let logger = Logger(label: "test")

            file.rewrite(afterReads: BossImages.readAttempts)
            await #expect(throws: APIError.storageBusy) {
                try await bossImages.image(forBossIndex: 3, logger: logger)
            }
            #expect(file.reads == BossImages.readAttempts)

            file.rewrite(afterReads: 1)  // the first read gets the file as it was: read again
            #expect(try await bossImages.image(forBossIndex: 3, logger: logger).bytes == file.bytes())
            #expect(file.reads == BossImages.readAttempts + 2)
            // Settled: served from memory.
            #expect(try await bossImages.image(forBossIndex: 3, logger: logger).bytes == file.bytes())
            #expect(file.reads == BossImages.readAttempts + 2)
        }
    }

    /// A file truncated and rewritten to the same size within one tick of the file system's clock
    /// looks unchanged before and after the read: only the count of bytes read tells.
    @Test("A read with fewer bytes than the file's size is neither served nor kept, though the file looks unchanged")
    func bossImageReadShortIsNotServed() async throws {
        try await withTemporaryDirectory { images in
            try Data(repeating: 7, count: 1_000).write(to: URL(fileURLWithPath: "\(images)/boss_03.png"))
            let reads = Mutex(0)
            let shortReads = BossImages(directory: images) { _ in
                reads.withLock { $0 += 1 }
                return ByteBuffer(bytes: [7, 7, 7])
            }
            let logger = Logger(label: "test")
            await #expect(throws: APIError.storageBusy) {
                try await shortReads.image(forBossIndex: 3, logger: logger)
            }
            #expect(reads.withLock { $0 } == BossImages.readAttempts)
        }
    }

    @Test("The image cache answers only for the version it read, and holds at most its capacity")
    func imageCache() {
        let cache = ImageCache()
        let version = ImageCache.Version(size: 3, modified: .init(seconds: 1, nanoseconds: 2))
        let newer = ImageCache.Version(size: 3, modified: .init(seconds: 1, nanoseconds: 3))
        cache.keep(ByteBuffer(bytes: [1, 2, 3]), of: "/a", version)
        #expect(cache.bytes(of: "/a", version) == ByteBuffer(bytes: [1, 2, 3]))
        #expect(cache.bytes(of: "/a", newer) == nil)
        let rewritten = ImageCache.Version(
            size: 3, modified: .init(seconds: 1, nanoseconds: 2), changed: .init(seconds: 4, nanoseconds: 0))
        #expect(cache.bytes(of: "/a", rewritten) == nil, "other bytes under the same size and modification time")
        #expect(cache.bytes(of: "/b", version) == nil)
        for index in 0..<(ImageCache.capacity + 10) {
            cache.keep(ByteBuffer(bytes: [1]), of: FilePath("/many/\(index)"), version)
        }
        let kept = (0..<(ImageCache.capacity + 10)).filter { cache.bytes(of: FilePath("/many/\($0)"), version) != nil }
        #expect(kept.count <= ImageCache.capacity)
    }

    /// Twenty requests for an image nobody has asked for yet, at once: one read of the file.
    @Test("Requests arriving while an image is read share that read, its failure too")
    func imageReadsAreShared() async throws {
        let cache = ImageCache()
        let version = ImageCache.Version(size: 3, modified: .init(seconds: 1, nanoseconds: 2))
        final class Reads: Sendable { let count = Mutex(0) }
        let reads = Reads()
        // Each read lasts until the test opens its gate, once every request waits for a read: a
        // request that came after a read had ended would read again, rightly, and a fixed time
        // for the read could not promise that none comes that late.
        @Sendable func gatedRead(failing: Bool, until gate: Gate) -> @Sendable () async throws -> ByteBuffer {
            {
                reads.count.withLock { $0 += 1 }
                await gate.passed()
                if failing { throw CancellationError() }
                return ByteBuffer(bytes: [1, 2, 3])
            }
        }
        /// Opens `gate` once all `requests` wait for a read. (A bound on a hang, not a speed check.)
        func release(_ gate: Gate, once requests: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while cache.waitingRequests < requests, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            let waited = cache.waitingRequests
            gate.open()
            try #require(waited == requests, "only \(waited) requests waited")
        }

        let failedRead = Gate()
        let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    (try? await cache.bytes(of: "/a", version, reading: gatedRead(failing: true, until: failedRead)))
                        == nil
                }
            }
            try await release(failedRead, once: 20)
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 20)
        #expect(reads.count.withLock { $0 } == 1)

        // After a failure the next request reads again; its bytes are kept.
        let read = Gate()
        let answers = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try? await cache.bytes(of: "/a", version, reading: gatedRead(failing: false, until: read))
                }
            }
            try await release(read, once: 20)
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 20)
        #expect(answers.allSatisfy { $0 == ByteBuffer(bytes: [1, 2, 3]) })
        #expect(reads.count.withLock { $0 } == 2)
        #expect(cache.bytes(of: "/a", version) == ByteBuffer(bytes: [1, 2, 3]))
        #expect(cache.waitingRequests == 0)
    }

    /// Any client may ask for the images of a broken folder as fast as it likes: the log gets a
    /// line at its level once an interval (an hour here, so a loaded run cannot pass it).
    @Test("A broken image folder's problems are logged at their level once an interval each, the repeats at debug")
    func imageProblemsAreLoggedOnceAnInterval() async throws {
        try await withTemporaryDirectory { images in
            #expect(symlink("\(images)/boss_09.png", "\(images)/boss_09.png") == 0)  // a link to itself
            let bossImages = BossImages(directory: images, problemLogInterval: .seconds(3_600))
            let records = RecordedLogs()
            let logger = Logger(label: "test") { _ in records }
            for _ in 0..<3 {
                await #expect(throws: APIError.internalError) {
                    _ = try await bossImages.image(forBossIndex: 9, logger: logger)
                }
            }
            let levels = records.entries.filter { $0.message == "boss_image.unreadable" }.map(\.level)
            #expect(levels == [.error, .debug, .debug])
            // Another kind of problem has its own interval: logged at its level meanwhile.
            try Data(count: Int(BossImages.maxImageBytes) + 1).write(to: URL(fileURLWithPath: "\(images)/boss_07.png"))
            await #expect(throws: APIError.internalError) {
                _ = try await bossImages.image(forBossIndex: 7, logger: logger)
            }
            #expect(records.entries.filter { $0.message == "boss_image.too_large" }.map(\.level) == [.error])
        }
    }

    @Test("A boss image that cannot be served whole gets a JSON error, never a 200 cut short")
    func unservableBossImages() async throws {
        try await withTemporaryDirectory { images in
            // The same name as a folder, as a FIFO (opening it to read would block), and a file
            // past the size bound: each was answered 200 with a Content-Length and then no body.
            try FileManager.default.createDirectory(atPath: "\(images)/boss_05.png", withIntermediateDirectories: false)
            #expect(mkfifo("\(images)/boss_06.png", 0o644) == 0)
            let oversized = Data(count: Int(BossImages.maxImageBytes) + 1)
            try oversized.write(to: URL(fileURLWithPath: "\(images)/boss_07.png"))
            try Data().write(to: URL(fileURLWithPath: "\(images)/boss_08.png"))
            // A link to itself: no stat can follow it (ELOOP), which was a 404 with nothing logged.
            #expect(symlink("\(images)/boss_09.png", "\(images)/boss_09.png") == 0)

            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                for (index, status) in [
                    (5, HTTPResponse.Status.notFound), (6, .notFound), (7, .internalServerError),
                    (9, .internalServerError),
                ] {
                    let answer = try await client.execute(uri: "/api/bosses/images/\(index)", method: .get)
                    #expect(answer.status == status, "boss \(index)")
                    #expect(answer.headers[.contentType] == "application/json", "boss \(index)")
                    #expect(answer.headers[.cacheControl] == "no-cache, no-store, must-revalidate", "boss \(index)")
                    #expect(try answer.object()["detail"] as? String != nil, "boss \(index)")
                }
                let empty = try await client.execute(uri: "/api/bosses/images/8", method: .get)
                #expect(empty.status == .ok)
                #expect(empty.body.readableBytes == 0)
            }
            // A folder setting that names a file (ENOTDIR): no image in it, 404.
            try await withLiveApp(configure: { $0.bossImagesDirectory = "\(images)/boss_08.png" }) { client in
                let answer = try await client.execute(uri: "/api/bosses/images/3", method: .get)
                #expect(answer.status == .notFound)
            }
        }
    }
}

/// A store whose bosses are a legacy table's (as PersistenceTests' `legacyBossesAreKeptNotDuplicated`
/// keeps them): ids unlike their indexes, frames unlike each other. Only the bosses are asked for.
private struct LegacyBosses: ScoreStore, SavedGameStore, BossCatalog {
    func bosses() async throws -> [Boss] {
        [
            Boss(id: 7, bossIndex: 0, bossName: "Legacy One", notoriousTitle: "First", frameX: 10, frameY: 20),
            Boss(id: 3, bossIndex: 1, bossName: "Legacy Two", notoriousTitle: "Second", frameX: 30, frameY: 40),
        ]
    }

    func submit(_ score: ScoreSubmission) async throws -> StoredScore { throw PersistenceError.storageFailure }
    func leaderboard(limit: Int, gameMode: String?) async throws -> [StoredScore] { [] }
    func personalBest(playerName: String) async throws -> StoredScore? { nil }
    func rank(of score: Int64, gameMode: String?) async throws -> Int { 1 }
    func save(_ game: SavedGame) async throws { throw PersistenceError.storageFailure }
    func load(playerName: String) async throws -> SavedGame? { nil }
    func delete(playerName: String) async throws {}
}

/// A file read as a whole, then rewritten with other bytes and another size after each of the
/// next reads it is told of, as if a copy over it went on under each read.
private final class FileRewrittenAfterReads: Sendable {
    let path: String
    private struct State {
        var reads = 0
        var rewritesLeft = 0
        var version = 0
    }
    private let state = Mutex(State())

    init(path: String) throws {
        self.path = path
        try Self.write(version: 0, to: path)
    }

    var reads: Int { self.state.withLock { $0.reads } }

    func rewrite(afterReads count: Int) { self.state.withLock { $0.rewritesLeft = count } }

    func bytes() throws -> ByteBuffer { ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: self.path))) }

    func read(_ path: FilePath) async throws -> ByteBuffer {
        let bytes = try await BossImages.readWholeFile(path)
        let version = self.state.withLock { state -> Int? in
            state.reads += 1
            guard state.rewritesLeft > 0 else { return nil }
            state.rewritesLeft -= 1
            state.version += 1
            return state.version
        }
        if let version { try Self.write(version: version, to: self.path) }
        return bytes
    }

    private static func write(version: Int, to path: String) throws {
        try Data(repeating: UInt8(version), count: 1_000 + version).write(to: URL(fileURLWithPath: path))
    }
}

/// A gate that reads wait at until the test opens it; open, it lets everything through.
private final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func passed() async {
        await withCheckedContinuation { continuation in
            let isOpen = self.state.withLock { state in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func open() {
        let waiting = self.state.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}

import Foundation
import Testing

/// Every committed seed (Fuzz/Seeds/<name>/) through every fuzz check: none may be flagged. A
/// seed is laid out for its own check, but any bytes are input to any check.
@Suite("Fuzz checks over the committed seeds")
struct FuzzSeedTests {
    static let seedsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Seeds")
    static let names = ["json", "relays", "plugin", "frames", "http", "forwarded", "room"]

    /// Every seed, named `<name>/<file>`.
    static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        try Self.names.flatMap { name in
            let directory = Self.seedsDirectory.appendingPathComponent(name)
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { file in
                (name: "\(name)/\(file)", bytes: Array(try Data(contentsOf: directory.appendingPathComponent(file))))
            }
        }
    }

    @Test("Each check has seeds", arguments: Self.names)
    func seedsExist(name: String) throws {
        let files = try FileManager.default.contentsOfDirectory(
            atPath: Self.seedsDirectory.appendingPathComponent(name).path)
        #expect(!files.isEmpty)
    }

    @Test("No seed breaks a synchronous check", arguments: ["json", "relays", "plugin", "frames", "http", "forwarded"])
    func synchronousCheck(name: String) throws {
        let check: (UnsafeBufferPointer<UInt8>) throws -> Void =
            switch name {
            case "json": JSONCheck().run
            case "relays": RelaysCheck().run
            case "plugin": PluginCheck().run
            case "frames": FramesCheck().run
            case "http": HTTPCheck().run
            default: ForwardedCheck().run
            }
        for seed in try Self.seeds() {
            do {
                try seed.bytes.withUnsafeBufferPointer { try check($0) }
            } catch {
                Issue.record("\(seed.name): \(error)")
            }
        }
    }

    @Test("No seed breaks the room check")
    func roomCheck() async throws {
        let check = try RoomCheck()
        for seed in try Self.seeds() {
            do throws(FuzzViolation) {
                try await check.run(seed.bytes)
            } catch {
                Issue.record("\(seed.name): \(error)")
            }
        }
        try await check.shutdown()
    }
}

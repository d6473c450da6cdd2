import ChildProcess
import Foundation
import Testing

/// `Benchmarks/floor/room-driver.c`, the C load generator, built with the system's C compiler and
/// run at tiny scale against the real relay: it must get through the protocol (upgrade, create and
/// join, masked frames, pings) and time every `player_state_update` it is sent back.
@Suite("room-driver against the real relay")
struct RoomDriverTests {
    static let source = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Benchmarks/floor/room-driver.c").path

    @Test("every update sent comes back and is timed; the server's CPU is read")
    func relaysEveryUpdate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "room-driver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let driver = directory.appendingPathComponent("room-driver").path
        let compiler = try ChildProcess(
            path: "/usr/bin/cc", arguments: ["-O2", "-Wall", "-Werror", "-o", driver, Self.source, "-lm"])
        let compiled = try await Self.exitStatus(of: compiler, within: .seconds(60))
        try #require(compiled == 0, "cc failed:\n\(compiler.printed)")

        try await LiveRelay.with { relay in
            // 4 rooms × 2 players @ 30 Hz for 2 s: 60 sends per player. Up to 20 s for the last
            // to come back (a loaded full run held them 1.7 s, past the default second), ending
            // as soon as all have.
            let run = try ChildProcess(
                path: driver, arguments: ["\(relay.port)", "4", "30", "2", "\(relay.pid)"],
                environment: ["ROOM_DRIVER_DRAIN_SECONDS": "20"])
            let status = try await Self.exitStatus(of: run, within: .seconds(30))
            let printed = run.printed
            #expect(status == 0, "room-driver failed:\n\(printed)")
            let counts = try #require(printed.firstMatch(of: /sent (\d+), delivered (\d+), lost (\d+)/), "\(printed)")
            #expect(Int(counts.1) == 480)
            #expect(counts.1 == counts.2)
            #expect(counts.3 == "0")
            let p99 = try #require(printed.firstMatch(of: /p99 ([0-9.]+)/), "\(printed)")
            #expect((Double(p99.1) ?? 0) > 0)
            #expect(printed.contains(/server +CPU [0-9.]+ s, [0-9.]+ µs per delivery/), "\(printed)")
        }
    }

    /// The child's exit status once it has exited and its output ended; killed after `limit`
    /// (then SIGKILL's number).
    static func exitStatus(of child: ChildProcess, within limit: Duration) async throws -> Int32? {
        if try await !child.exited(within: limit) {
            child.send(SIGKILL)
            child.waitUntilExit()
        }
        return child.terminationStatus
    }
}

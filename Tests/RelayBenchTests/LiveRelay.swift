import ChildProcess
import Foundation
import Testing

@testable import RelayBenchKit

/// The real `relay` executable as a child process on an ephemeral loopback port, so the bench
/// reads a real server's /proc figures, as on the command line.
final class LiveRelay: Sendable {
    let process: ChildProcess
    let port: Int
    let dataDirectory: String

    var pid: Int32 { self.process.pid }

    /// A bench context aimed at this server. Joins get 30 s: with every suite starting at once, a
    /// CI run once had both of a scenario's rooms miss 5 s.
    var context: BenchContext {
        get throws {
            BenchContext(
                target: try BenchTarget(url: "ws://127.0.0.1:\(self.port)"), threads: 1, serverPID: self.pid,
                joinTimeoutSeconds: 30)
        }
    }

    /// Runs `body` against a fresh relay started with `arguments`, and stops it afterwards.
    static func with<T>(arguments: [String] = [], _ body: (LiveRelay) async throws -> T) async throws -> T {
        let relay = try await LiveRelay(arguments: arguments)
        defer { relay.stop() }
        return try await body(relay)
    }

    private init(arguments: [String]) async throws {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let path = testBinary.deletingLastPathComponent().appendingPathComponent("relay").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the relay product first: \(path)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relay-bench-test-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }  // else `stop()` does

        let environment = ["API_KEY": "bench-test", "BOSS_IMAGES_DIR": directory]
        let process = try ChildProcess(
            path: path, arguments: ["--port", "0", "--data-dir", directory] + arguments, environment: environment)

        // Looked for after every wait, the last one too: a test run that held this task past the
        // deadline (the relay had printed the line 38 s before) must not fail a relay that started.
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            if let match = process.printed.firstMatch(of: /listening on [0-9.]+:(\d+)/) { port = Int(match.1) }
            guard port == nil, process.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let port else {
            process.send(SIGTERM)
            Issue.record("relay did not start listening; output:\n\(process.printed)")
            throw CancellationError()
        }
        self.process = process
        self.port = port
        self.dataDirectory = directory
        started = true
    }

    /// Everything the relay printed so far.
    var printed: String { self.process.printed }

    func stop() {
        if self.process.isRunning {
            self.process.send(SIGKILL)
            self.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: self.dataDirectory)
    }
}

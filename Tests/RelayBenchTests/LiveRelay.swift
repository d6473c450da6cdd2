import Foundation
import Testing

@testable import RelayBenchKit

/// The real `relay` executable as a child process on an ephemeral loopback port, so the bench
/// reads a real server's /proc figures, as on the command line.
final class LiveRelay: Sendable {
    let process: Process
    let port: Int
    let dataDirectory: String
    private let output: Locked<String>

    var pid: Int32 { self.process.processIdentifier }

    /// A bench context aimed at this server.
    var context: BenchContext {
        get throws {
            BenchContext(
                target: try BenchTarget(url: "ws://127.0.0.1:\(self.port)"), threads: 1, serverPID: self.pid,
                joinTimeoutSeconds: 5)
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

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--port", "0", "--data-dir", directory] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["API_KEY"] = "bench-test"
        environment["BOSS_IMAGES_DIR"] = directory
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = Locked("")
        try process.run()
        // A blocking read on a thread of its own, not `readabilityHandler`: tearing down that
        // dispatch read source races the pipe's close and can crash libdispatch's event loop on
        // Linux (swift-corelibs-libdispatch#949; it crashed a CI run here).
        let reader = pipe.fileHandleForReading
        Thread {
            while case let data = reader.availableData, !data.isEmpty {
                output.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }.start()

        var port: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while port == nil, process.isRunning, ContinuousClock.now < deadline {
            if let match = output.value.firstMatch(of: /listening on [0-9.]+:(\d+)/) { port = Int(match.1) }
            if port == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let port else {
            process.terminate()
            Issue.record("relay did not start listening; output:\n\(output.value)")
            throw CancellationError()
        }
        self.process = process
        self.port = port
        self.dataDirectory = directory
        self.output = output
    }

    /// Everything the relay printed so far.
    var printed: String { self.output.value }

    func stop() {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: self.dataDirectory)
    }
}

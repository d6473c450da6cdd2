import Foundation
import Synchronization
import Testing

/// The `relay` executable run as a real child process, its output captured.
final class ChildRelay: Sendable {
    let process: Process
    private let output = CapturedOutput()

    /// A binary of this package built beside the test bundle (`relay` by default).
    static func executablePath(_ name: String = "relay") -> String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Starts `executable` (`relay`, or another server of this package) with `arguments` and
    /// extra `environment` (port 0: the OS picks one).
    init(executable: String = "relay", arguments: [String], environment: [String: String]) throws {
        let path = Self.executablePath(executable)
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the relay product first: \(path)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var fullEnvironment = ProcessInfo.processInfo.environment
        fullEnvironment.merge(environment) { $1 }
        process.environment = fullEnvironment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        try process.run()
        // A blocking read on a thread of its own, not `readabilityHandler`: tearing down that
        // dispatch read source races the pipe's close and can crash libdispatch's event loop on
        // Linux (swift-corelibs-libdispatch#949; it crashed a CI run here).
        let reader = pipe.fileHandleForReading
        Thread { [output] in
            while case let data = reader.availableData, !data.isEmpty {
                output.append(data)
            }
        }.start()
    }

    /// Everything the child printed so far.
    var printed: String { self.output.text.withLock { $0 } }

    /// Waits (bounded) until the server logs its listening port, and returns it.
    func listeningPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = self.printed.firstMatch(of: /listening on [0-9.]+:(\d+)/), let port = Int(match.1) {
                return port
            }
            guard self.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("relay did not start listening; output:\n\(self.printed)")
        throw CancellationError()
    }

    /// Waits (bounded) for the child to exit and returns its status.
    func exitStatus(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning {
            guard ContinuousClock.now < deadline else {
                self.process.terminate()
                Issue.record("relay did not exit in time; output:\n\(self.printed)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return self.process.terminationStatus
    }

    /// Sends `signal` (SIGKILL, SIGTERM, …).
    func send(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }
}

/// Text a child process printed, appended from its pipe's reader thread.
private final class CapturedOutput: Sendable {
    let text = Mutex("")

    func append(_ data: Data) {
        self.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
    }
}

import ChildProcess
import Foundation
import Synchronization
import Testing

/// The `relay` executable run as a real child process, its output captured.
final class ChildRelay: Sendable {
    let process: ChildProcess

    /// A binary of this package built beside the test bundle (`relay` by default).
    static func executablePath(_ name: String = "relay") -> String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Starts `executable` (`relay`, or another server of this package) with `arguments` and
    /// extra `environment` (port 0: the OS picks one), under `openFileLimit` (soft, hard) if given,
    /// printing to `logPath` if given (``printed`` then holds nothing of it). With a
    /// `processLimit`, as user `nobody` under that `ulimit -u` (root's is not enforced: call as root).
    init(
        executable: String = "relay", arguments: [String], environment: [String: String],
        openFileLimit: (soft: Int, hard: Int)? = nil, processLimit: Int? = nil, ignoringHangUp: Bool = false,
        asProcessOne: Bool = false, loggingTo logPath: String? = nil
    ) throws {
        let path = Self.executablePath(executable)
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the relay product first: \(path)")
        if let processLimit {
            // util-linux's `prlimit` sets the limit on itself and execs `setpriv`, which becomes
            // `nobody` (whose processes and threads the limit counts) and execs the relay.
            self.process = try ChildProcess(
                path: "/usr/bin/prlimit",
                arguments: [
                    "--nproc=\(processLimit):\(processLimit)", "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                    "--clear-groups", path,
                ] + arguments,
                environment: environment)
        } else if asProcessOne {
            // As a container without an init runs it: process 1 of a PID namespace of its own
            // (util-linux's `unshare`, as root; killed with `unshare` if it outlives it).
            self.process = try ChildProcess(
                path: "/usr/bin/unshare",
                arguments: ["--fork", "--pid", "--mount-proc", "--kill-child", path] + arguments,
                environment: environment)
        } else if ignoringHangUp {
            // As `nohup` starts it: SIGHUP ignored, which exec keeps.
            self.process = try ChildProcess(
                path: "/bin/sh", arguments: ["-c", #"trap "" HUP; exec "$0" "$@""#, path] + arguments,
                environment: environment)
        } else if let logPath {
            // Its stdout and stderr to `logPath` (a FIFO the test reads, or stops reading), not ours.
            self.process = try ChildProcess(
                path: "/bin/sh", arguments: ["-c", #"exec "$@" >"$0" 2>&1"#, logPath, path] + arguments,
                environment: environment)
        } else if let openFileLimit {
            // util-linux's `prlimit COMMAND` sets the limit on itself, then execs the command.
            let prlimit = try #require(
                ["/usr/bin/prlimit", "/bin/prlimit"].first(where: FileManager.default.isExecutableFile(atPath:)),
                "prlimit (util-linux) is needed")
            self.process = try ChildProcess(
                path: prlimit, arguments: ["--nofile=\(openFileLimit.soft):\(openFileLimit.hard)", path] + arguments,
                environment: environment)
        } else {
            self.process = try ChildProcess(path: path, arguments: arguments, environment: environment)
        }
    }

    /// Everything the child printed so far.
    var printed: String { self.process.printed }

    /// Waits (bounded) until the server logs its listening port, and returns it. The output is
    /// looked at once more after the deadline: a test starved of a core past it (two cores under
    /// three CPU hogs) would otherwise fail on a line that was there.
    func listeningPort(timeout: Duration = .seconds(60)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = self.printed.firstMatch(of: /listening on [0-9.]+:(\d+)/), let port = Int(match.1) {
                return port
            }
            guard self.process.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("relay did not start listening; output:\n\(self.printed)")
        throw CancellationError()
    }

    /// Waits (bounded) for the child to exit and for the end of its output (so that ``printed``
    /// holds its last words), and returns its status.
    func exitStatus(timeout: Duration = .seconds(30)) async throws -> Int32 {
        guard try await self.process.exited(within: timeout) else {
            self.process.send(SIGTERM)
            Issue.record("relay did not exit in time; output:\n\(self.printed)")
            throw CancellationError()
        }
        return self.process.terminationStatus ?? -1
    }

    /// The sockets the child has open (its listener, its accepted connections, its probes), from
    /// `/proc`: a test can tell its connections were accepted before it acts on them.
    var openSockets: Int {
        let descriptors = "/proc/\(self.process.pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? []
        return names.count { name in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(descriptors)/\(name)"))?
                .hasPrefix("socket:") ?? false
        }
    }

    /// The descriptors the child has open, from `/proc`.
    var openDescriptors: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(self.process.pid)/fd")) ?? []).count
    }

    /// Waits (bounded) until the child has at least `count` sockets open.
    func waitForOpenSockets(_ count: Int) async throws {
        try await eventually { self.openSockets >= count }
    }

    /// Sends `signal` (SIGKILL, SIGTERM, …).
    func send(_ signal: Int32) {
        self.process.send(signal)
    }

    /// Sends `signal` within microseconds of the child printing `text`, or `delay` after
    /// (``ChildProcess``).
    func send(_ signal: Int32, oncePrinted text: String, after delay: Duration = .zero) {
        self.process.send(signal, oncePrinted: text, after: delay)
    }

    /// Times the child's exit from `start` on a thread of its own, started now (a loaded run
    /// holds the test's tasks for seconds, which a wait there would add): send the signal, call
    /// this at once, and await ``ExitTimer/duration()`` when the test is ready to.
    func exitTimer(from start: ContinuousClock.Instant, limit: Duration = .seconds(60)) -> ExitTimer {
        ExitTimer(self.process, from: start, limit: limit)
    }

    /// Blocks until the child has `path` open, at most `limit`; whether it has. For a thread of
    /// the test's own: a loaded run held the tests' tasks for seconds.
    func blockUntilOpen(_ path: String, within limit: Duration = .seconds(60)) -> Bool {
        let deadline = ContinuousClock.now + limit
        while !self.hasOpen(path) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// Whether the child has the file at `path` open, from `/proc`.
    func hasOpen(_ path: String) -> Bool {
        let descriptors = "/proc/\(self.process.pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? []
        return names.contains {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(descriptors)/\($0)")) == path
        }
    }
}

/// Runs `body` against a `relay` process (port 0, a temporary data directory, the test API key,
/// `arguments` added), then stops it with SIGTERM and expects a clean exit.
///
/// For tests that time the server: one in this process shares its task pool with every suite
/// Swift Testing runs at once, and their work has held that pool for seconds, so that such a
/// server accepted connections and answered requests seconds late.
func withRelayProcess(
    arguments: [String], environment: [String: String] = [:], _ body: (_ port: Int) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        let relay = try ChildRelay(
            arguments: ["--port", "0", "--data-dir", directory] + arguments,
            environment: environment.merging(["API_KEY": testAPIKey]) { _, key in key })
        try await body(try await relay.listeningPort())
        relay.send(SIGTERM)
        #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
    }
}

/// How long after an instant a child exited, found by a thread of its own (``ChildRelay/exitTimer(from:limit:)``).
final class ExitTimer: Sendable {
    /// nil until the thread has looked its last; then the time, or nil if the child outlived the limit.
    private let result = Mutex<Duration??>(nil)

    fileprivate init(_ process: ChildProcess, from start: ContinuousClock.Instant, limit: Duration) {
        Thread { [self] in
            while process.isRunning, ContinuousClock.now - start < limit { usleep(5_000) }
            let took = process.isRunning ? nil : ContinuousClock.now - start
            self.result.withLock { $0 = .some(took) }
        }.start()
    }

    /// How long the child took to exit, once the thread knows; nil if it ran past the limit.
    func duration() async throws -> Duration? {
        while true {
            if let result = self.result.withLock({ $0 }) { return result }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

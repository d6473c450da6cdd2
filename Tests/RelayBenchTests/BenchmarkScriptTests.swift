import ChildProcess
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The benchmark scripts' failures: each says why and exits non-zero, leaving nothing behind.
/// (One runs a relay for a moment; none runs a load.)
@Suite("Benchmark scripts")
struct BenchmarkScriptTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `bash Benchmarks/<script> arguments`; its status and what it printed.
    static func run(
        _ script: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> (status: Int32?, printed: String) {
        let child = try ChildProcess(
            path: "/bin/bash", arguments: [Self.root.appendingPathComponent("Benchmarks/\(script)").path] + arguments,
            environment: environment)
        let status = try await RoomDriverTests.exitStatus(of: child, within: .seconds(60))
        return (status, child.printed)
    }

    @Test(
        "Asked for nothing, or for something they do not take, the scripts print their usage and run nothing",
        arguments: [
            ("relay/interleave.sh", [String]()), ("relay/interleave.sh", ["5", "1"]),
            ("reference/run-reference.sh", []), ("reference/run-reference.sh", ["elixir", "relay"]),
            ("run-relay-bench.sh", []),
            // A stray `--help` started minutes of load.
            ("run-http-bench.sh", ["--rooms", "5"]),
        ])
    func usage(_ script: String, arguments: [String]) async throws {
        let (status, printed) = try await Self.run(script, arguments)
        #expect(status == 64, "\(printed)")
        #expect(printed.contains("Environment"), "\(printed)")
    }

    /// Its line was empty, with the cause thrown away, and the script exited 0.
    @Test("interleave.sh shows why a run measured nothing, and exits 1 once all have run")
    func interleaveShowsAFailedRun() async throws {
        let port = try unusedLoopbackPort()
        // Its own lock: the shared one may be held by a benchmark running beside the tests.
        let lock = FileManager.default.temporaryDirectory.appendingPathComponent("bench-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: lock) }
        let (status, printed) = try await Self.run(
            "relay/interleave.sh", ["5", "1", "/nonexistent-build"],
            environment: ["PORT": "\(port)", "DURATION": "1s", "BENCH_LOCK": lock.path])
        #expect(status == 1, "\(printed)")
        #expect(printed.contains("NOT MEASURED: relay did not start on port \(port)"), "\(printed)")
        #expect(printed.contains("1 runs measured nothing"), "\(printed)")
    }

    @Test("run-relay-bench.sh refuses a port another server holds, and leaves no data folder behind")
    func takenPortLeavesNothing() async throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bench-script-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temporary) }
        let (listener, port) = try boundLoopbackSocket(listening: 8)
        defer { close(listener) }
        let (status, printed) = try await Self.run(
            "run-relay-bench.sh", ["relay", "--rooms", "1", "--duration", "1s"],
            environment: ["PORT": "\(port)", "SKIP_BUILD": "1", "TMPDIR": temporary.path])
        #expect(status == 1, "\(printed)")
        #expect(printed.contains("port \(port) is taken"), "\(printed)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.path).isEmpty)
    }

    /// Its log was deleted with its data folder, and the run exited 0.
    @Test("run-relay-bench.sh shows the end of the log of a relay that died during the run, and exits 1")
    func aRelayThatDiesIsShown() async throws {
        let build = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        let port = try unusedLoopbackPort()
        let run = try ChildProcess(
            path: "/bin/bash",
            arguments: [
                Self.root.appendingPathComponent("Benchmarks/run-relay-bench.sh").path, "relay", "--rooms", "1",
                "--duration", "8s",
            ],
            environment: ["PORT": "\(port)", "SKIP_BUILD": "1", "BUILD": build])
        // Killed once the bench measures (its rooms set up, so it does not fail for want of
        // them, and exits 0 with its losses): the failure is the script's, for the crash.
        let deadline = ContinuousClock.now + .seconds(60)
        while !run.printed.contains("[relay-bench] measuring for"), run.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let killer = try ChildProcess(path: "/usr/bin/pkill", arguments: ["-KILL", "-f", "relay --port \(port) "])
        _ = try await RoomDriverTests.exitStatus(of: killer, within: .seconds(10))
        let status = try await RoomDriverTests.exitStatus(of: run, within: .seconds(60))
        #expect(status == 1, "\(run.printed)")
        #expect(run.printed.contains("ended with status 137 before the end; the end of its log:"), "\(run.printed)")
        #expect(run.printed.contains("listening on 127.0.0.1:\(port)"), "\(run.printed)")
    }
}

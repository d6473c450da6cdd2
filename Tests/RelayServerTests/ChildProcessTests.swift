import ChildProcess
import Foundation
import Synchronization
import Testing

/// The helper every process test starts `relay` with.
///
/// ``ChildProcess/waitUntilExit()`` blocks its thread, so these tests call it on a thread of their
/// own (``onOwnThread(_:)``): not on one of the cooperative pool's threads, which every test shares.
@Suite("Child processes")
struct ChildProcessTests {
    @Test("Output on stdout and stderr is captured, and the exit code reported")
    func outputAndExitCode() async throws {
        let child = try ChildProcess(
            path: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo $GREETING; exit 3"],
            environment: ["GREETING": "hello"])
        try await onOwnThread { child.waitUntilExit() }
        #expect(child.terminationStatus == 3)
        // All of it once waitUntilExit returns: the last line too.
        #expect(child.hasOutputEnded)
        #expect(child.printed == "out\nerr\nhello\n")
    }

    @Test("A child ended by a signal reports the signal's number, and is not signalled once reaped")
    func signalled() async throws {
        let child = try ChildProcess(path: "/bin/sleep", arguments: ["30"])
        #expect(child.isRunning)
        #expect(child.terminationStatus == nil)
        child.send(SIGTERM)
        try await onOwnThread { child.waitUntilExit() }
        #expect(child.terminationStatus == SIGTERM)
        // Reaped: its pid may be another process's by now, so no kill(2) at all. One now would
        // fail with ESRCH (the pid is still free) and set this thread's errno (read on the same
        // thread: nothing between these two lines can suspend).
        errno = 0
        child.send(SIGKILL)
        #expect(errno == 0, "kill(2) on a reaped pid")
        #expect(child.terminationStatus == SIGTERM)
    }

    @Test("The child holds none of this process's other descriptors")
    func descriptorsNotInherited() async throws {
        let opened = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(opened > 2)
        defer { close(opened) }
        // Moved high, with no close-on-exec: clear of the descriptor `ls` opens for the listing.
        let inheritable = fcntl(opened, F_DUPFD, 300)
        try #require(inheritable >= 300)
        defer { close(inheritable) }
        let child = try ChildProcess(path: "/bin/ls", arguments: ["/proc/self/fd"])
        try await onOwnThread { child.waitUntilExit() }
        let descriptors = Set(child.printed.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        #expect(descriptors.contains(2), "the listing: \(child.printed)")
        #expect(!descriptors.contains(inheritable), "the child has \(descriptors)")
    }

    @Test("A child is set to be killed when this process ends (a crashed test run leaves no server behind)")
    func parentDeathSignal() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "util-linux's setpriv")
        let child = try ChildProcess(path: "/usr/bin/setpriv", arguments: ["--dump"])
        try await onOwnThread { child.waitUntilExit() }
        #expect(child.printed.contains("Parent death signal: KILL"), "setpriv --dump: \(child.printed)")
    }

    @Test("A child outlives the thread that started it")
    func outlivesItsStartingThread() async throws {
        let started = StartedChild()
        let starter = Thread {
            // An hour, killed below: this task, no longer holding its thread while it waits, may
            // be given one back late, and a loaded run saw a child of 30 s gone by then.
            let child = try? ChildProcess(path: "/bin/sleep", arguments: ["3600"])
            started.child.withLock { $0 = child }
            // The thread ends only once `sleep` runs, so setpriv has set the parent-death signal:
            // a signal tied to this thread would then come when it ends. (A bound on a hang.)
            let deadline = ContinuousClock.now + .seconds(30)
            while let child, !Self.commandLine(of: child.pid).hasPrefix("/bin/sleep"), ContinuousClock.now < deadline {
                usleep(1_000)
            }
        }
        starter.start()
        while !starter.isFinished { try await Task.sleep(for: .milliseconds(1)) }
        let child = try #require(started.child.withLock { $0 })
        // A parent-death signal tied to the ended thread would have come by now.
        try await Task.sleep(for: .milliseconds(200))
        #expect(child.isRunning)
        child.send(SIGKILL)
        try await onOwnThread { child.waitUntilExit() }
    }

    /// The command line of process `pid`, arguments separated by spaces.
    private static func commandLine(of pid: Int32) -> String {
        let raw = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        return raw.replacingOccurrences(of: "\0", with: " ")
    }

    /// Hands a child from the thread that started it to the test.
    private final class StartedChild: Sendable {
        let child = Mutex<ChildProcess?>(nil)
    }

    @Test("A path that cannot be run is an error")
    func missingExecutable() {
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(path: "/nonexistent/relay", arguments: [])
        }
    }
}

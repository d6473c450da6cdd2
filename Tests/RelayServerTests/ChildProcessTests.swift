import ChildProcess
import Foundation
import Testing

/// The helper every process test starts `relay` with.
@Suite("Child processes")
struct ChildProcessTests {
    @Test("Output on stdout and stderr is captured, and the exit code reported")
    func outputAndExitCode() throws {
        let child = try ChildProcess(
            path: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo $GREETING; exit 3"],
            environment: ["GREETING": "hello"])
        child.waitUntilExit()
        #expect(child.terminationStatus == 3)
        // All of it once waitUntilExit returns: the last line too.
        #expect(child.hasOutputEnded)
        #expect(child.printed == "out\nerr\nhello\n")
    }

    @Test("A child ended by a signal reports the signal's number, and is not signalled once reaped")
    func signalled() throws {
        let child = try ChildProcess(path: "/bin/sleep", arguments: ["30"])
        #expect(child.isRunning)
        #expect(child.terminationStatus == nil)
        child.send(SIGTERM)
        child.waitUntilExit()
        #expect(child.terminationStatus == SIGTERM)
        child.send(SIGKILL)  // reaped: no signal to a pid that may be reused
        #expect(child.terminationStatus == SIGTERM)
    }

    @Test("The child holds none of this process's other descriptors")
    func descriptorsNotInherited() throws {
        let opened = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(opened > 2)
        defer { close(opened) }
        // Moved high, with no close-on-exec: clear of the descriptor `ls` opens for the listing.
        let inheritable = fcntl(opened, F_DUPFD, 300)
        try #require(inheritable >= 300)
        defer { close(inheritable) }
        let child = try ChildProcess(path: "/bin/ls", arguments: ["/proc/self/fd"])
        child.waitUntilExit()
        let descriptors = Set(child.printed.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        #expect(descriptors.contains(2), "the listing: \(child.printed)")
        #expect(!descriptors.contains(inheritable), "the child has \(descriptors)")
    }

    @Test("A path that cannot be run is an error")
    func missingExecutable() {
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(path: "/nonexistent/relay", arguments: [])
        }
    }
}

import ChildProcess
import Foundation
import Testing

/// The helper every process test starts `relay` with.
@Suite("Child processes")
struct ChildProcessTests {
    @Test("Output on stdout and stderr is captured, and the exit code reported")
    func outputAndExitCode() throws {
        let child = try ChildProcess(path: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo $GREETING; exit 3"], environment: ["GREETING": "hello"])
        child.waitUntilExit()
        #expect(child.terminationStatus == 3)
        let printed = try Self.waitForOutput(of: child, containing: "hello")
        #expect(printed.contains("out") && printed.contains("err"))
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
        let inheritable = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)  // no close-on-exec
        try #require(inheritable > 2)
        defer { close(inheritable) }
        let child = try ChildProcess(path: "/bin/ls", arguments: ["/proc/self/fd"])
        child.waitUntilExit()
        let printed = try Self.waitForOutput(of: child, containing: "2")
        let descriptors = Set(printed.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        #expect(!descriptors.contains(inheritable), "the child has \(descriptors)")
    }

    @Test("A path that cannot be run is an error")
    func missingExecutable() {
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(path: "/nonexistent/relay", arguments: [])
        }
    }

    /// The output once it contains `text` (the reader thread may lag the exit), bounded.
    private static func waitForOutput(of child: ChildProcess, containing text: String) throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while !child.printed.contains(text), ContinuousClock.now < deadline { usleep(5_000) }
        return child.printed
    }
}

import Foundation
import Synchronization
import Testing

/// The relay's log on a pipe whose reader has stopped reading (a frozen log shipper): every write
/// to the log blocks, and with it whatever logs, the orderly stop too. An operator's second stop
/// signal must still end the process.
@Suite("The relay process with a log nobody reads", .serialized)
struct StuckLogTests {
    @Test("A second SIGTERM ends the process while the reader of its log has stopped reading")
    func secondSignalEndsTheProcessPastAFullLog() async throws {
        try await withTemporaryDirectory { directory in
            let log = try LogPipe(at: directory + "/log")
            defer { log.close() }
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory],
                environment: ["API_KEY": testAPIKey, "LOG_LEVEL": "trace"], loggingTo: log.path)
            defer { relay.send(SIGKILL) }
            let port = try await onOwnThread { try log.readUntilListening() }
            // Each connection closed before its first request is a line at trace: the pipe fills,
            // and the event loop logging the next one stops in its write.
            let unread = try await onOwnThread { try log.fill { close(try loopbackSocket(port: port)) } }
            try #require(unread > LogPipe.capacity - 512, "the log did not fill: \(unread) bytes unread")

            relay.send(SIGTERM)  // its line cannot be written, nor anything of the stop in order
            // Again every 1.5 s, past the window of a repeat: the window runs from when the first
            // was handled, which a loaded machine may delay.
            let resender = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(1_500))
                    relay.send(SIGTERM)
                }
            }
            defer { resender.cancel() }
            #expect(try await relay.exitStatus(timeout: .seconds(20)) == 128 + SIGTERM)
        }
    }
}

/// A FIFO holding one page, read by the test until it stops: a write that does not fit then blocks.
final class LogPipe: Sendable {
    static let capacity = 4_096

    let path: String
    private let descriptor: Int32
    private let isClosed = Mutex(false)

    init(at path: String) throws {
        try #require(mkfifo(path, 0o600) == 0, "mkfifo: errno \(errno)")
        self.path = path
        // Open for reading before any writer, without waiting for one: the relay's open then
        // does not wait either.
        self.descriptor = open(path, O_RDONLY | O_NONBLOCK)
        try #require(self.descriptor >= 0, "open: errno \(errno)")
        let setPipeSize: Int32 = 1_031  // F_SETPIPE_SZ (Linux), not exported to Swift
        try #require(fcntl(self.descriptor, setPipeSize, Int32(Self.capacity)) == Int32(Self.capacity))
    }

    /// Reads (bounded) until the relay logs its listening port; returns it.
    func readUntilListening(timeout: Duration = .seconds(60)) throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var text = ""
        var buffer = [UInt8](repeating: 0, count: Self.capacity)
        while ContinuousClock.now < deadline {
            let count = read(self.descriptor, &buffer, buffer.count)
            if count > 0 {
                text += String(decoding: buffer[..<count], as: UTF8.self)
                if let match = text.firstMatch(of: /listening on [0-9.]+:(\d+)/), let port = Int(match.1) {
                    return port
                }
            } else {
                usleep(10_000)
            }
        }
        Issue.record("the relay did not log its port: \(text)")
        throw CancellationError()
    }

    /// Has `writeALine` make the relay log, with nothing read, until the pipe is nearly full and
    /// takes no more lines; returns the bytes it holds then.
    func fill(by writeALine: () throws -> Void) throws -> Int {
        var unread = self.unread
        for _ in 0..<100 {
            for _ in 0..<20 { try writeALine() }
            usleep(500_000)
            let now = self.unread
            if now == unread, now > Self.capacity - 512 { break }  // 20 lines more, none taken
            unread = now
        }
        return unread
    }

    /// The bytes written to the pipe and not read.
    var unread: Int {
        var count: Int32 = 0
        return ioctl(self.descriptor, UInt(FIONREAD), &count) == 0 ? Int(count) : -1
    }

    func close() {
        self.isClosed.withLock { closed in
            if !closed { Glibc.close(self.descriptor) }
            closed = true
        }
    }
}

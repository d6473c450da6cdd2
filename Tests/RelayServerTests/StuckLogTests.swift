import Foundation
import Synchronization
import Testing

/// The relay's log on a pipe whose reader has stopped reading (a frozen log shipper): every write
/// to the pipe then blocks. The relay's lines wait in its queue (``QueuedStandardError``), so what
/// logs is not held up: rooms and requests are served, and one SIGTERM stops the server in order.
@Suite("The relay process with a log nobody reads", .serialized)
struct StuckLogTests {
    @Test(
        "With its log's reader stopped, the relay serves rooms and requests, and one SIGTERM stops it in order, its lines kept"
    )
    func aFullLogHoldsNothingUp() async throws {
        try await Self.withRelayOnAFullLog { relay, log, port in
            // More lines, each logged on an event loop while the pipe is full.
            let moreLines = 200
            try await onOwnThread { for _ in 0..<moreLines { close(try loopbackSocket(port: port)) } }

            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "stuck log")
            let guest = TestSocket.connect(port: port)
            guest.send(["type": "join_room", "room_id": code, "player_name": "Guest"])
            _ = try await guest.expect("player_joined")
            _ = try await guest.expect("room_joined")
            _ = try await host.expect("player_joined")
            guest.send(["type": "player_state", "state": ["x": 12.5, "y": 3]])
            let update = try await host.expect("player_state_update")
            #expect((update["state"] as? [String: Any])?["x"] as? Double == 12.5, "\(update)")
            let rooms = try await onOwnThread {
                let socket = try socketWithRequest(
                    port: port, "GET /api/rooms/all HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                defer { close(socket) }
                var answer: [UInt8] = []
                _ = readUntilClosed(socket) { answer += $0 }
                return String(decoding: answer, as: UTF8.self)
            }
            #expect(rooms.hasPrefix("HTTP/1.1 200") && rooms.contains(code), "\(rooms)")
            #expect(log.unread > LogPipe.capacity - 512, "the test read the log")

            relay.send(SIGTERM)
            // Read again: the lines queued while nobody read come out, in order, and the stop's
            // last lines with them. Only once the stop is most likely over (it takes a few ms):
            // the exit waits for the queue (up to a second) while its reader takes it.
            try await Task.sleep(for: .milliseconds(300))
            let text = try await onOwnThread { log.readToEnd() }
            #expect(try await relay.exitStatus(timeout: .seconds(30)) == 0, "\(text.suffix(2_000))")
            let closedBeforeRequest = text.components(separatedBy: "relay.connection.closed_before_request").count - 1
            #expect(closedBeforeRequest >= moreLines, "lines were lost:\n\(text.suffix(2_000))")
            #expect(!text.contains("log.lines_dropped"))
            for event in ["relay.stop.requested", "persistence.closed"] {
                #expect(text.contains("] \(event)"), "\(event) missing:\n\(text.suffix(2_000))")
            }
        }
    }

    @Test(
        "With its log's reader stopped for good, one SIGTERM still ends the relay: the exit waits for its lines only briefly"
    )
    func aFullLogDoesNotHoldTheExit() async throws {
        try await Self.withRelayOnAFullLog { relay, _, _ in
            relay.send(SIGTERM)
            let status = try await relay.exitStatus(timeout: .seconds(30))
            #expect(status == 0)
        }
    }

    /// Runs `body` with a relay (and its port) logging at trace to a ``LogPipe`` the test has
    /// stopped reading, once the pipe is full.
    private static func withRelayOnAFullLog(
        _ body: (ChildRelay, LogPipe, Int) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let log = try LogPipe(at: directory + "/log")
            defer { log.close() }
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory],
                environment: ["API_KEY": testAPIKey, "LOG_LEVEL": "trace"], loggingTo: log.path)
            defer { relay.send(SIGKILL) }
            let port = try await onOwnThread { try log.readUntilListening() }
            // Each connection closed before its first request is a line at trace, logged on its
            // event loop: the pipe fills.
            let unread = try await onOwnThread { try log.fill { close(try loopbackSocket(port: port)) } }
            try #require(unread > LogPipe.capacity - 512, "the log did not fill: \(unread) bytes unread")
            try await body(relay, log, port)
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

    /// Reads (bounded, 60 s) until the writers close the pipe; returns all it read.
    func readToEnd(timeout: Duration = .seconds(60)) -> String {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let count = read(self.descriptor, &buffer, buffer.count)
            if count > 0 {
                bytes += buffer[..<count]
            } else if count == 0 {
                break
            } else {
                usleep(10_000)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
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

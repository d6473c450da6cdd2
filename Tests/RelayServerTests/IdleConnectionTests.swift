import Foundation
import Synchronization
import Testing

@testable import RelayServer

/// Connections without a request in progress are closed after the idle timeout, so silent or
/// trickling sockets cannot pile up; room sockets stay open on their pings.
///
/// The server is a `relay` process (``withRelayProcess(arguments:_:)``): a CI run of an
/// in-process one measured 6.2 s for a 1 s deadline, its task pool held up by other suites.
@Suite("Idle connections")
struct IdleConnectionTests {
    /// Short here; 30 s by default (`--http-idle-timeout-seconds`, whole seconds). Not shorter:
    /// the deadline runs from the connection's accept, and a loaded machine's loop can read a
    /// request that came at once a few hundred milliseconds late.
    static let idleTimeout: Duration = .seconds(1)

    /// Without the timeout each of these would wait out `rawExchange`'s own 30 s.
    static let closedWithin: Duration = .seconds(5)

    /// How much later than a room socket's first ping (``FirstPing``), due as soon, an HTTP connection
    /// may be closed. Not an absolute bound: a loaded machine made a close 4 s late, and makes the
    /// ping, a timer of the same event loop (the relay is given one) due at the same time, late as
    /// well. A deadline of four timeouts would be 3 s late.
    static let lateBeyondThePing: Duration = Self.idleTimeout * 2

    /// Runs `body` against a `relay` process whose HTTP timeout is `idleTimeout`, and, if
    /// `pingInterval` is given, whose room sockets are pinged that often and which runs one event
    /// loop: the ping's timer and the HTTP deadline compared with it are then late alike.
    private func withChildRelay(
        idleTimeout: Duration = Self.idleTimeout, pingInterval: Duration? = nil, bossImages: String? = nil,
        _ body: (_ port: Int) async throws -> Void
    ) async throws {
        let images = bossImages.map { ["--boss-images-dir", $0] } ?? []
        let pings = pingInterval.map { ["--ping-interval-seconds", "\($0.components.seconds)"] } ?? []
        let oneLoop = pingInterval.map { _ in ["NIO_SINGLETON_GROUP_LOOP_COUNT": "1"] } ?? [:]
        try await withRelayProcess(
            arguments: ["--http-idle-timeout-seconds", "\(idleTimeout.components.seconds)"] + pings + images,
            environment: oneLoop, body)
    }

    @Test(
        "A connection that sends no request, or only part of its head, or idles after a request, is closed",
        arguments: [
            ("nothing", ""),
            ("part of a head", "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "),
            ("a whole request, then nothing", "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        ])
    func idleConnectionsAreClosed(_ what: String, request: String) async throws {
        try await self.withChildRelay(pingInterval: Self.idleTimeout) { port in
            let ping = FirstPing(port: port)  // the control, connected with the connection it is compared with
            let exchange = try await rawExchangeUntilClosed(port: port, request)
            // Closed by the server, not by the client's own 30 s without a byte: how long after the
            // timeout depends on the machine's load (a loaded CI run took 5.2 s), how long before
            // does not (the deadline runs from the accept, after the clock started).
            #expect(exchange.serverClosed, "\(what): \(exchange.elapsed)")
            #expect(exchange.elapsed >= Self.idleTimeout, "\(what): \(exchange.elapsed)")
            let answer = exchange.answer
            #expect(answer.hasSuffix("\r\n\r\n[]") == request.hasSuffix("\r\n\r\n"), "\(what): \(answer)")
            // How long after is bounded against the ping, as late as the load makes the relay's timers.
            let pinged = try #require(try await ping.delay(), "\(what): no ping came")
            #expect(
                exchange.elapsed < pinged + Self.lateBeyondThePing,
                "\(what): closed after \(exchange.elapsed), pinged after \(pinged)")
        }
    }

    /// The server's rules end these connections after their answer, where NIO's parser reads on (a
    /// stray `Upgrade`; HTTP/1.0 chunked and kept alive): the request pipelined behind was counted
    /// as unanswered, and held the server's socket with no deadline.
    @Test(
        "A connection ended after its answer is closed in time, though a request was pipelined behind",
        arguments: [
            "GET /api/rooms HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\nGET /api/rooms HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ])
    func pipelinedBehindAnEnd(_ request: String) async throws {
        try await self.withChildRelay { port in
            let (answer, heldFor) = try await onOwnThread { () throws -> (String, Duration?) in
                let descriptor = try socketWithRequest(port: port, request)
                defer { close(descriptor) }
                let (answer, _) = readTextUntilClosed(descriptor)  // the answer, then the server's FIN
                let start = ContinuousClock.now
                while peerHoldsSocket(descriptor) {
                    guard ContinuousClock.now - start < Self.closedWithin else { return (answer, nil) }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return (answer, ContinuousClock.now - start)
            }
            #expect(answer.components(separatedBy: "HTTP/1.1 200").count == 2, "one answer: \(answer)")
            #expect(heldFor != nil, "the server's socket is still open")
        }
    }

    @Test(
        "A request sent a byte at a time is cut off at the timeout, though every byte came sooner",
        arguments: [
            (
                "a first head", "",
                "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 300)
            ),
            (
                "a body", "POST /api/scores HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 300\r\n\r\n",
                String(repeating: " ", count: 300)
            ),
            (
                "a later head", "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 300)
            ),
        ])
    func tricklingRequestsAreCutOff(_ what: String, whole: String, trickled: String) async throws {
        // One byte every 50 ms: a twentieth of the timeout, so an idle timer alone never fires. The
        // trickle would take 15 s: cut off at 1 s, with room for a loaded machine to be late (a
        // loaded CI run closed an idle connection 5.2 s after its 1 s timeout), as late as a room
        // socket's first ping due at the same time is, and not much later.
        try await self.withChildRelay(pingInterval: Self.idleTimeout) { port in
            let ping = FirstPing(port: port)
            let exchange = try await trickleExchange(
                port: port, whole: whole, trickled: trickled, every: .milliseconds(50))
            #expect(exchange.closedBy == .server, "\(what)")
            #expect(exchange.sentBytes < trickled.utf8.count, "\(what): \(exchange.elapsed)")
            let pinged = try #require(try await ping.delay(), "\(what): no ping came")
            #expect(
                exchange.elapsed < pinged + Self.lateBeyondThePing,
                "\(what): cut off after \(exchange.elapsed) (\(exchange.sentBytes) bytes), pinged after \(pinged)")
        }
    }

    @Test("A request answered before its body ended still starts the wait for the next one")
    func earlyAnswersKeepTheDeadline() async throws {
        try await self.withChildRelay(pingInterval: Self.idleTimeout) { port in
            // POST / is answered (405) at its head, before its one body byte. Then a score's body
            // trickles a byte every 50 ms: 300 bytes, 15 s, were it not cut off (it was not, once:
            // the early answer left the server waiting for an answer to that request, with nothing
            // timed). Cut off at 1 s (from the score's head, 0.1 s in), with room for a loaded
            // machine to be late, as late as a room socket's first ping due at the same time is.
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(testAPIKey)\r\nContent-Length: 300\r\n\r\n"
            let chunks = ["x", head] + Array(repeating: " ", count: 300)
            let ping = FirstPing(port: port)
            let exchange = try await trickleExchange(
                port: port, whole: "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n",
                chunks: chunks, every: .milliseconds(50))
            #expect(exchange.received.hasPrefix("HTTP/1.1 405"), "\(exchange.received.prefix(40))")
            #expect(exchange.closedBy == .server)
            #expect(exchange.sentBytes < chunks.joined().utf8.count, "\(exchange.elapsed)")
            let pinged = try #require(try await ping.delay(), "no ping came")
            #expect(
                exchange.elapsed < pinged + Self.lateBeyondThePing,
                "cut off after \(exchange.elapsed) (\(exchange.sentBytes) bytes), pinged after \(pinged)")
        }
    }

    /// The time a kept-alive connection sat idle is not taken from the request that then uses it:
    /// a save sent over a slow link after most of the timeout idle was cut off mid-body.
    @Test("A head starts the wait for the request again: its body gets the whole timeout")
    func aHeadStartsTheWaitAgain() async throws {
        // 4 s: idle 1.8 s, then a head, then a body taking 3 s: cut off at 4 s from the answer if
        // the wait ran on (also with a head starting it again only in its second half), served with
        // 1 s to spare once the head starts it again.
        try await self.withChildRelay(idleTimeout: .seconds(4)) { port in
            let body = String(buffer: scoreBody(name: "late"))
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let fifth = body.utf8.count / 5
            let pieces = (0..<5).map { index in
                let start = body.utf8.index(body.startIndex, offsetBy: index * fifth)
                let end = index == 4 ? body.endIndex : body.utf8.index(body.startIndex, offsetBy: (index + 1) * fifth)
                return String(body[start..<end])
            }
            let exchange = try await trickleExchange(
                port: port, whole: "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                chunks: Array(repeating: "", count: 2) + [head] + pieces, every: .milliseconds(600))
            #expect(exchange.received.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(exchange.received)")
            #expect(exchange.received.contains(#""late""#))
        }
    }

    @Test("The timeout is per request: a kept-alive connection asking well within it is served for longer")
    func steadyRequestsAreServed() async throws {
        // A timeout long enough that a loaded machine's scheduling cannot eat the margin.
        try await self.withChildRelay(idleTimeout: .seconds(3)) { port in
            let request = "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            // Eight requests 500 ms apart (4 s in all), then two pipelined in one write: ten answers.
            let exchange = try await trickleExchange(
                port: port, whole: "", chunks: Array(repeating: request, count: 8) + [request + request],
                every: .milliseconds(500))
            #expect(exchange.sentBytes == request.utf8.count * 10)
            #expect(
                exchange.received.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 10, "\(exchange.received)")
        }
    }

    static let imageRequest = "GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    /// A late upgrade ends its connection once the answers before it have left (see
    /// `WebSocketProtocolTests`); a client that stops reading them is cut off all the same.
    @Test(
        "An HTTP client that stops reading its answers is closed once they stall for the timeout",
        arguments: [
            // 20 MB asked for, pipelined: what the kernel's and NIO's buffers held when the server
            // gave up is far from all of it.
            ("20 images", String(repeating: imageRequest, count: 20), 10),
            ("an image, then a late upgrade", imageRequest + rawUpgradeRequest(), 1),
        ])
    func stalledAnswersAreCutOff(_ what: String, requests: String, imagesAtMost: Int) async throws {
        try await withTemporaryDirectory { images in
            let imageBytes = 1_000_000
            try Data(count: imageBytes).write(to: URL(fileURLWithPath: "\(images)/boss_02.png"))
            try await self.withChildRelay(bossImages: images) { port in
                // The client reads nothing, and once both sides' buffers are full, waits 5 s more
                // (five timeouts: a loaded machine's loop runs late).
                let received = try await bytesReadAfterStalling(port: port, requests, for: .seconds(5))
                #expect(received < imageBytes * imagesAtMost, "\(what): \(received) bytes")
            }
        }
    }

    @Test("A room socket outlives the idle timeout")
    func roomSocketsStayOpen() async throws {
        // Long enough for the client's handshake to arrive on a loaded machine (it must, within the timeout).
        let idleTimeout: Duration = .seconds(1)
        try await self.withChildRelay(idleTimeout: idleTimeout) { port in
            let socket = TestSocket.connect(port: port)
            socket.send(["type": "ping"])
            try await socket.expect("pong")
            try await Task.sleep(for: idleTimeout * 2)  // waiting past the timeout is the point
            socket.send(["type": "ping"])
            try await socket.expect("pong")
        }
    }
}

/// A room socket's first ping, timed from before its connect on a thread of its own, started at once
/// (not when a task of the shared pool gets to it): a timer of the relay's, due a ping interval
/// after the upgrade, that the HTTP timeout does not set. A loaded machine makes it late as it makes
/// an HTTP deadline due at the same time late, in the relay (the same loop) and in the test (a
/// thread that reads a byte once it comes), so an HTTP close is bounded against it rather than
/// against the clock.
private final class FirstPing: Sendable {
    /// nil until the thread is done; then the time, or nil if no ping came.
    private let result = Mutex<Duration??>(nil)

    init(port: Int) {
        Thread { [self] in
            let took = Self.timeFirstPing(port: port)
            self.result.withLock { $0 = .some(took) }
        }.start()
    }

    /// The handshake's answer, then the first byte of the first frame, a ping's (FIN, opcode 9); nil
    /// for anything else, or nothing within ``rawClientPatienceSeconds``.
    private static func timeFirstPing(port: Int) -> Duration? {
        let start = ContinuousClock.now
        guard let descriptor = try? socketWithRequest(port: port, rawUpgradeRequest()) else { return nil }
        defer { close(descriptor) }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard read(descriptor, &byte, 1) == 1 else { return nil }
            head.append(byte)
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101"), read(descriptor, &byte, 1) == 1,
            byte == 0x89
        else { return nil }
        return ContinuousClock.now - start
    }

    /// How long after its connect the ping came, once the thread knows; nil if none came.
    func delay() async throws -> Duration? {
        while true {
            if let result = self.result.withLock({ $0 }) { return result }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

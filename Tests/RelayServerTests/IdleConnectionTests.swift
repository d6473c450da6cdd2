import Foundation
import Testing

@testable import RelayServer

/// Connections without a request in progress are closed after the idle timeout, so silent or
/// trickling sockets cannot pile up; room sockets stay open on their pings.
///
/// The server is a `relay` process (``withRelayProcess(arguments:environment:_:)``): a CI run of an
/// in-process one measured 6.2 s for a 1 s deadline, its task pool held up by other suites.
///
/// How soon a connection is closed is not measured against the clock (a loaded CI run closed one
/// 4–5 s late) but against a control (``pingRace(port:whole:chunks:every:pingFrom:lastChunkOnThePing:until:)``):
/// a room socket's first ping, due a second after the deadline, on the same event loop, where
/// timers fire in the order they are due however late the loop runs.
@Suite("Idle connections")
struct IdleConnectionTests {
    /// Short here; 30 s by default (`--http-idle-timeout-seconds`, whole seconds). Not shorter: the
    /// deadline runs from the connection's accept, and a loaded machine's loop can read a request
    /// that came at once a few hundred milliseconds late.
    static let idleTimeout: Duration = .seconds(2)

    /// The control's ping interval (`--ping-interval-seconds`, whole seconds): a second after the
    /// timeout, so that a close the timeout makes comes before the first ping, and one at twice
    /// the timeout (4 s) after it.
    static let pingInterval: Duration = .seconds(3)

    /// Runs `body` against a `relay` process whose HTTP timeout is `idleTimeout`, and, if
    /// `pingInterval` is given, whose room sockets are pinged that often and which runs one event
    /// loop: the ping's timer and the HTTP deadline raced against it fire in the order they are due.
    private func withChildRelay(
        idleTimeout: Duration = Self.idleTimeout, pingInterval: Duration? = nil, bossImages: String? = nil,
        arguments: [String] = [], _ body: (_ port: Int) async throws -> Void
    ) async throws {
        let images = bossImages.map { ["--boss-images-dir", $0] } ?? []
        let pings = pingInterval.map { ["--ping-interval-seconds", "\($0.components.seconds)"] } ?? []
        let oneLoop = pingInterval.map { _ in ["NIO_SINGLETON_GROUP_LOOP_COUNT": "1"] } ?? [:]
        try await withRelayProcess(
            arguments: ["--http-idle-timeout-seconds", "\(idleTimeout.components.seconds)"] + pings + images
                + arguments,
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
        try await self.withChildRelay(pingInterval: Self.pingInterval) { port in
            // The wait runs from the accept, or, after a whole request, from its answer's leaving.
            let isWhole = request.hasSuffix("\r\n\r\n")
            let race = try await pingRace(port: port, whole: request, pingFrom: isWhole ? .answer : .read(chunks: 0))
            // Closed by the server, not by the client's patience, and not before the timeout (the
            // deadline runs from the accept, after the clock started).
            let closed = try #require(race.ended, "\(what): not closed")
            #expect(closed >= Self.idleTimeout, "\(what): \(closed)")
            #expect(race.received.hasSuffix("\r\n\r\n[]") == isWhole, "\(what): \(race.received)")
            // Nor long after: before the ping, due a second after the deadline (not a duration: a
            // loaded machine makes the relay's timers late alike).
            let atThePing = try #require(race.atThePing, "\(what): no ping came")
            #expect(
                atThePing.serverHadClosed,
                "\(what): open when the ping came, \(atThePing.after) in (closed after \(closed))")
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
        try await self.withChildRelay(pingInterval: Self.pingInterval) { port in
            // The answer, then the server's FIN: its output is closed, and the timeout runs from
            // there. Its socket must be gone by the ping, due a second after that timeout.
            let race = try await pingRace(port: port, whole: request, pingFrom: .end)
            #expect(race.received.components(separatedBy: "HTTP/1.1 200").count == 2, "one answer: \(race.received)")
            #expect(race.ended != nil, "the server did not close its output")
            let atThePing = try #require(race.atThePing, "no ping came")
            #expect(
                !atThePing.serverHeld, "the server's socket was still open when the ping came, \(atThePing.after) in")
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
        // One byte every 50 ms: a fortieth of the timeout, so an idle timer alone never fires. The
        // trickle would take 15 s: cut off at 2 s, before the ping due a second later. The wait
        // runs from the accept, or the POST's head, or the first GET's answer.
        try await self.withChildRelay(pingInterval: Self.pingInterval) { port in
            let race = try await pingRace(
                port: port, whole: whole, chunks: trickled.map { String($0) }, every: .milliseconds(50),
                pingFrom: whole.hasPrefix("GET ") ? .answer : .read(chunks: 0))
            #expect(race.ended != nil, "\(what): not cut off")
            #expect(race.sentBytes < trickled.utf8.count, "\(what): \(race.sentBytes) bytes")
            let atThePing = try #require(race.atThePing, "\(what): no ping came")
            #expect(
                atThePing.serverHadClosed,
                "\(what): open when the ping came, \(atThePing.after) in (\(race.sentBytes) bytes sent)")
        }
    }

    @Test("A request answered before its body ended still starts the wait for the next one")
    func earlyAnswersKeepTheDeadline() async throws {
        try await self.withChildRelay(pingInterval: Self.pingInterval) { port in
            // POST / is answered (405) at its head, before its one body byte. Then a score's body
            // trickles a byte every 50 ms: 300 bytes, 15 s, were it not cut off (it was not, once:
            // the early answer left the server waiting for an answer to that request, with nothing
            // timed). Cut off 2 s after the score's head, before the ping due a second later.
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(testAPIKey)\r\nContent-Length: 300\r\n\r\n"
            let chunks = ["x", head] + Array(repeating: " ", count: 300)
            let race = try await pingRace(
                port: port, whole: "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\n",
                chunks: chunks, every: .milliseconds(50), pingFrom: .read(chunks: 2))
            #expect(race.received.hasPrefix("HTTP/1.1 405"), "\(race.received.prefix(40))")
            #expect(race.ended != nil, "not cut off")
            #expect(race.sentBytes < chunks.joined().utf8.count, "\(race.sentBytes) bytes")
            let atThePing = try #require(race.atThePing, "no ping came")
            #expect(
                atThePing.serverHadClosed,
                "open when the ping came, \(atThePing.after) in (\(race.sentBytes) bytes sent)")
        }
    }

    /// The time a kept-alive connection sat idle is not taken from the request that then uses it:
    /// a save sent over a slow link after most of the timeout idle was cut off mid-body.
    @Test("A head starts the wait for the request again: its body gets the whole timeout")
    func aHeadStartsTheWaitAgain() async throws {
        // An 8 s timeout. From the first answer: idle 3.5 s (in the wait's first half), then a
        // head, then its body a piece every 500 ms, the last once a room socket's first ping has
        // come, due 9 s after that answer: after the wait that began at the answer would end (8 s),
        // so, were that wait to run on, the relay (one loop) would have closed the connection
        // before writing the ping, however late it ran, and the save would get no answer. With the
        // head starting the wait again, the body ends 5.5 s into its 8 s: 2.5 s to spare.
        try await self.withChildRelay(idleTimeout: .seconds(8), pingInterval: .seconds(9)) { port in
            let body = Array(String(buffer: scoreBody(name: "late")).utf8)
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
            let pieces = (0..<11).map { index in
                String(decoding: body[index * body.count / 11..<(index + 1) * body.count / 11], as: UTF8.self)
            }
            let race = try await pingRace(
                port: port, whole: "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                chunks: Array(repeating: "", count: 6) + [head] + pieces, every: .milliseconds(500),
                pingFrom: .answer, lastChunkOnThePing: true, until: { $0.contains(#""late""#) })
            #expect(race.atThePing != nil, "no ping came: the body's last piece was not sent")
            #expect(race.received.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(race.received)")
            #expect(race.received.contains(#""late""#))
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
            // No minimum rate: what cuts the client off is the stall, however late a loaded relay is.
            try await self.withChildRelay(
                idleTimeout: .seconds(1), bossImages: images, arguments: ["--http-min-answer-bytes-per-second", "0"]
            ) { port in
                let received = try #require(try await bytesReadOnceReset(port: port, requests), "\(what): not cut off")
                #expect(received < imageBytes * imagesAtMost, "\(what): \(received) bytes")
            }
        }
    }

    @Test("A room socket outlives the idle timeout")
    func roomSocketsStayOpen() async throws {
        // The handshake must come within the timeout, as any request must: a raw client on a
        // thread of its own writes it with the connect. (`TestSocket`'s came 3 s after its connect
        // once, while the suite's start held the cooperative pool, and was rightly closed as idle.)
        let idleTimeout: Duration = .seconds(3)
        try await self.withChildRelay(idleTimeout: idleTimeout) { port in
            let ping = #"{"type":"ping"}"#
            let socket = try await StalledClient.connect(port: port, path: "/ws/room/new", early: [ping])
            #expect(try await Self.nextText(of: socket)?.contains(#""type":"pong""#) == true)
            try await Task.sleep(for: idleTimeout * 2)  // waiting past the timeout is the point
            try socket.send(ping)
            #expect(try await Self.nextText(of: socket)?.contains(#""type":"pong""#) == true)
        }
    }

    /// The next text message `socket` reads, its pings answered; nil once the server has closed it.
    private static func nextText(of socket: StalledClient) async throws -> String? {
        while let frame = try await socket.readFrameAnsweringPing() {
            if frame.opcode == 1 { return String(decoding: frame.payload, as: UTF8.self) }
            if frame.opcode == 8 { return nil }
        }
        return nil
    }
}

/// When an HTTP connection's wait for its request starts, which
/// ``pingRace(port:whole:chunks:every:pingFrom:lastChunkOnThePing:until:)`` waits for before it
/// connects the room socket, so that the ping is due at least a ping interval after the deadline's start.
private enum DeadlineStart: Sendable {
    /// At the accept, or at a head: once `chunks` chunks have been written and the server has read
    /// everything written (a connection not yet accepted is accepted before the room socket).
    case read(chunks: Int)
    /// When an answer has left the server: once its first bytes have come. The chunks then count
    /// from there too: they are what follows the answer.
    case answer
    /// When the server closed its output: once the end of the stream has come.
    case end

    var timesChunksFromTheAnswer: Bool {
        switch self {
        case .answer: true
        case .read, .end: false
        }
    }
}

/// An HTTP connection raced against a room socket's first ping.
private struct PingRace: Sendable {
    /// How the HTTP connection stood when the ping was read.
    struct AtThePing: Sendable {
        /// From before the HTTP connection's connect.
        let after: Duration
        /// Its end, or a reset, had been read.
        let endRead: Bool
        /// `/proc/net/tcp` still listed the server's socket as open (``peerHoldsSocket(_:)``), in
        /// either of two reads: a table read while it changes can miss a line, which would pass for
        /// a socket gone.
        let serverHeld: Bool

        /// The server had closed the connection: its end was there to read, or its socket was gone.
        var serverHadClosed: Bool { self.endRead || !self.serverHeld }
    }

    /// Everything the server sent on the HTTP connection.
    let received: String
    /// Bytes of the chunks written before the connection ended.
    let sentBytes: Int
    /// When the connection's end or a reset was read, or a write failed, from before its connect;
    /// nil if none of them came.
    let ended: Duration?
    /// nil if no ping came (the room socket was refused, or ``rawClientPatienceSeconds`` passed).
    let atThePing: AtThePing?
}

/// Writes `whole` to a plain socket at once, then `chunks` one at a time, the n-th `n × every` after
/// the connect (or after the answer, see ``DeadlineStart/answer``), reading whatever the server
/// sends; connects a room socket once the connection's wait has started (`deadlineStart`), and
/// notes how the connection stood when the room socket's first ping came. With
/// `lastChunkOnThePing`, the last chunk waits for the ping too.
///
/// Both sockets on one thread of its own, started at once: the relay, on one loop, closes a
/// connection whose deadline is due before the ping before it writes the ping, and what the thread
/// finds on the HTTP connection once it has read the ping is then in the relay's order, not in the
/// order two threads happened to run. Ends once the connection has ended and the ping has come, or
/// the ping has come, everything has been sent and `done` holds for what came; or after
/// ``rawClientPatienceSeconds``.
private func pingRace(
    port: Int, whole: String, chunks: [String] = [], every interval: Duration = .milliseconds(50),
    pingFrom deadlineStart: DeadlineStart, lastChunkOnThePing: Bool = false,
    until done: @escaping @Sendable (_ received: String) -> Bool = { _ in false }
) async throws -> PingRace {
    try await onOwnThread {
        let start = ContinuousClock.now
        let giveUp = start + .seconds(rawClientPatienceSeconds)
        let http = try socketWithRequest(port: port, whole)
        defer { close(http) }
        var room: Int32?
        defer { if let room { close(room) } }
        var received: [UInt8] = []
        var roomHead: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var (next, sentBytes) = (0, 0)
        var ended: Duration?
        var roomDone = false  // the ping came, or the room socket failed
        var atThePing: PingRace.AtThePing?
        var chunksFrom: ContinuousClock.Instant? = deadlineStart.timesChunksFromTheAnswer ? nil : start

        /// Reads what the HTTP connection holds; true once its end, or a reset, has been read.
        func readHTTP() -> Bool {
            while true {
                let count = recv(http, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { return count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) }
                received += buffer[..<count]
            }
        }
        /// Reads what the room socket holds: nil until its first frame begins, then whether that is
        /// a ping's (FIN, opcode 9) after a 101; false if the socket ends first.
        func readRoom(_ room: Int32) -> Bool? {
            var byte: UInt8 = 0
            while true {
                let count = recv(room, &byte, 1, Int32(MSG_DONTWAIT))
                guard count == 1 else { return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? nil : false }
                guard roomHead.suffix(4).elementsEqual([13, 10, 13, 10]) else {
                    roomHead.append(byte)
                    continue
                }
                return String(decoding: roomHead, as: UTF8.self).hasPrefix("HTTP/1.1 101") && byte == 0x89
            }
        }
        func deadlineStarted() -> Bool {
            guard ended == nil else { return true }
            switch deadlineStart {
            case .read(let chunks): return next >= chunks && peerHasReadEverything(http)
            case .answer: return !received.isEmpty
            case .end: return false
            }
        }

        while ContinuousClock.now < giveUp {
            if room == nil, !roomDone, deadlineStarted() {
                room = try? socketWithRequest(port: port, rawUpgradeRequest())
                roomDone = room == nil
            }
            // The next chunk, once due (the last, if so asked, once the ping has come as well).
            let waitsForThePing = lastChunkOnThePing && next == chunks.count - 1 && atThePing == nil
            let due = ended == nil && next < chunks.count && !waitsForThePing ? chunksFrom : nil
            let sendsAt = due.map { $0 + interval * (next + 1) }
            if let sendsAt, ContinuousClock.now >= sendsAt {
                let chunk = Array(chunks[next].utf8)
                guard send(http, chunk, chunk.count, Int32(MSG_NOSIGNAL)) == chunk.count else {
                    ended = ContinuousClock.now - start  // a reset answered an earlier write: the server closed
                    continue
                }
                (next, sentBytes) = (next + 1, sentBytes + chunk.count)
                continue
            }
            // Often while the room socket waits for the wait's start; else for a byte, or a chunk due.
            var wake = ContinuousClock.now + .milliseconds(room == nil && !roomDone ? 10 : 250)
            if let sendsAt { wake = min(wake, sendsAt) }
            var sockets = [
                pollfd(fd: ended == nil ? http : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: roomDone ? -1 : (room ?? -1), events: Int16(POLLIN), revents: 0),
            ]
            let milliseconds = max(0, (wake - ContinuousClock.now) / .milliseconds(1))
            _ = poll(&sockets, 2, Int32(milliseconds.rounded(.up)))
            if ended == nil, readHTTP() { ended = ContinuousClock.now - start }
            if chunksFrom == nil, !received.isEmpty { chunksFrom = ContinuousClock.now }
            if let room, !roomDone, let isPing = readRoom(room) {
                roomDone = true
                if isPing {
                    // A deadline due before the ping closed the connection before the relay wrote the
                    // ping: its end is there to read by now, and its socket gone from /proc.
                    if ended == nil, readHTTP() { ended = ContinuousClock.now - start }
                    atThePing = PingRace.AtThePing(
                        after: ContinuousClock.now - start, endRead: ended != nil,
                        serverHeld: peerHoldsSocket(http) || peerHoldsSocket(http))
                }
            }
            if roomDone, ended != nil || (next == chunks.count && done(String(decoding: received, as: UTF8.self))) {
                break
            }
        }
        return PingRace(
            received: String(decoding: received, as: UTF8.self), sentBytes: sentBytes, ended: ended,
            atThePing: atThePing)
    }
}

/// Writes `request` to a plain socket with a small receive buffer and reads nothing until the server
/// resets the connection, at most ``rawClientPatienceSeconds`` after the answer began (a loaded
/// machine can take seconds to begin it); then reads what the kernel had taken: how many bytes, or
/// nil if no reset came.
///
/// Not a fixed wait: read before the server's stall check has run, the transfer resumes and the
/// whole answer comes. Not ``peerHoldsSocket(_:)`` either: it is false before the accept, and a
/// `/proc` read can miss a line as connections come and go. A cut-off is a reset (a FIN would wait
/// behind what the server's kernel still held), which `poll` reports unasked (`POLLHUP`, `POLLERR`).
private func bytesReadOnceReset(port: Int, _ request: String) async throws -> Int? {
    try await onOwnThread {
        let descriptor = try socketWithRequest(port: port, request, receiveBuffer: 4096)
        defer { close(descriptor) }
        var socket = pollfd(fd: descriptor, events: 0, revents: 0)
        let answerDue = ContinuousClock.now + .seconds(60)
        while !hasBytesWaiting(descriptor), poll(&socket, 1, 50) < 1, ContinuousClock.now < answerDue {}
        let giveUp = ContinuousClock.now + .seconds(rawClientPatienceSeconds)
        while poll(&socket, 1, 100) < 1 {
            guard ContinuousClock.now < giveUp else { return nil }
        }
        var total = 0
        readUntilClosed(descriptor) { total += $0.count }
        return total
    }
}

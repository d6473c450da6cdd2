import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

@testable import RelayServer

/// Each client address's budget of HTTP requests: past it, its requests wait, in order.
@Suite("HTTP requests per address")
struct HTTPRequestPacerTests {
    /// Everything the pacer hands on, as text, and every read asked of the socket.
    private final class Recorder: ChannelDuplexHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundIn = Never
        var seen: [String] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head): self.seen.append("head \(head.uri)")
            case .body(let body): self.seen.append("body \(String(buffer: body))")
            case .end: self.seen.append("end")
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) { self.seen.append("complete") }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { self.seen.append("error") }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            self.seen.append((event as? ChannelEvent) == .inputClosed ? "half-closed" : "event")
        }

        /// Takes what was seen so far, leaving "complete" out unless `completes`.
        func take(completes: Bool = false) -> [String] {
            defer { self.seen = [] }
            return self.seen.filter { completes || $0 != "complete" }
        }
    }

    /// Counts the reads that reach the socket.
    private final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Never
        var reads = 0
        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    private struct Harness {
        let channel = EmbeddedChannel()
        let clock: ManualBudgetClock
        let recorder = Recorder()
        let reads = ReadCounter()
        let budget: HTTPRequestBudget

        /// A budget of 10 requests a second, in bursts of `burst`, read at `clock`'s time.
        static func budget(burst: Double, clock: ManualBudgetClock, maxBodyBytes: Int = 1_024) -> HTTPRequestBudget {
            var settings = RatePerAddress.Settings.requests(perSecond: 10)
            settings.burst = burst
            return HTTPRequestBudget(
                settings, clients: ClientAddressPolicy(), maxBodyBytes: maxBodyBytes, clock: clock.clock)
        }

        /// A connection from 203.0.113.7 with a pacer of its own budget…
        init(burst: Double, maxBodyBytes: Int = 1_024) throws {
            let clock = ManualBudgetClock()
            try self.init(budget: Self.budget(burst: burst, clock: clock, maxBodyBytes: maxBodyBytes), clock: clock)
        }

        /// …or of one it shares with other connections of that address.
        init(budget: HTTPRequestBudget, clock: ManualBudgetClock) throws {
            (self.budget, self.clock) = (budget, clock)
            let pacer = try #require(
                budget.pacer(
                    forPeer: try SocketAddress(ipAddress: "203.0.113.7", port: 50_000), logger: Logger(label: "test")))
            try self.channel.pipeline.syncOperations.addHandlers([
                self.reads, ByteToMessageHandler(HTTPRequestDecoder()), pacer, self.recorder,
            ])
            try self.channel.connect(to: try SocketAddress(ipAddress: "203.0.113.7", port: 50_000)).wait()
        }

        /// Moves the budget's clock and the loop's by `seconds`.
        func advance(seconds: Double) {
            self.clock.advance(by: .seconds(seconds))
            self.channel.embeddedEventLoop.advanceTime(by: .nanoseconds(Int64(seconds * 1e9)))
        }

        var hasToken: Bool { self.budget.requests.hasToken(key: "203.0.113.7", now: self.clock.clock.now()) }
    }

    private static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n" }

    @Test("Past its burst an address's requests are held, with all after them, and go on one per token")
    func holdingInOrder() throws {
        let harness = try Harness(burst: 2)
        let post = "POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        try harness.channel.writeInbound(
            ByteBuffer(string: Self.get("/a") + Self.get("/b") + Self.get("/c") + post + Self.get("/e")))
        struct Broken: Error {}
        harness.channel.pipeline.fireErrorCaught(Broken())
        harness.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        // A burst of 2: two tokens, and a third into debt; /d takes the turn after that debt.
        #expect(harness.recorder.take() == ["head /a", "end", "head /b", "end", "head /c", "end"])
        harness.channel.pipeline.read()
        #expect(harness.reads.reads == 0, "no read while requests are held")

        harness.advance(seconds: 0.05)
        #expect(harness.recorder.take().isEmpty, "half the debt repaid")
        harness.advance(seconds: 0.05)
        #expect(harness.recorder.take(completes: true) == ["head /d", "body body", "end", "complete"])
        #expect(harness.reads.reads == 0)

        harness.advance(seconds: 0.05)
        #expect(harness.recorder.take().isEmpty, "/e's turn is a tenth of a second after /d's")
        harness.advance(seconds: 0.05)
        #expect(
            harness.recorder.take(completes: true) == ["head /e", "end", "error", "half-closed", "complete"],
            "the error and the half-close stay behind the requests before them")
        #expect(harness.reads.reads == 1, "the read asked for meanwhile is made")
        harness.channel.pipeline.read()
        #expect(harness.reads.reads == 2)
        _ = try harness.channel.finish()
    }

    /// They arrived whole: dropped unanswered at a stop, a client could not tell whether a POST
    /// held was stored.
    @Test("At a stop, the requests held go on at once, in order, and then the stop")
    func heldRequestsGoOnAtAStop() throws {
        let harness = try Harness(burst: 1)
        try harness.channel.writeInbound(
            ByteBuffer(string: Self.get("/a") + Self.get("/b") + Self.get("/c") + Self.get("/d")))
        // A burst of 1: one token, and one request into debt; the rest wait their turns.
        #expect(harness.recorder.take() == ["head /a", "end", "head /b", "end"])
        harness.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(harness.recorder.take() == ["head /c", "end", "head /d", "end", "event"])
        harness.advance(seconds: 1)
        #expect(harness.recorder.take().isEmpty, "nothing goes on twice")
        _ = try harness.channel.finish()
    }

    /// The same in a `relay` process: the stop comes while the connection's third request waits
    /// its turn (~100 s away), and it is answered before the connection closes.
    @Test("A request held for the budget is answered when the server stops, not dropped")
    func heldRequestAnsweredAtAStop() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildRelay(
                arguments: [
                    "--port", "0", "--data-dir", directory, "--count-loopback", "--forwarded-allow-ips", "",
                    "--http-requests-per-second-per-address", "0.01",  // a token, one more into debt, then 100 s
                ], environment: ["API_KEY": testAPIKey])
            let port = try await relay.listeningPort()
            let answers = try await onOwnThread { () -> String in
                let request = String(repeating: "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n", count: 3)
                let descriptor = try socketWithRequest(port: port, request)
                defer { close(descriptor) }
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65_536)
                var stopped = false
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    guard count > 0 else { break }
                    received += buffer[..<count]
                    let text = String(decoding: received, as: UTF8.self)
                    if !stopped, text.components(separatedBy: "HTTP/1.1 200").count - 1 == 2 {
                        stopped = true
                        relay.send(SIGTERM)  // the third waits its turn
                    }
                }
                return String(decoding: received, as: UTF8.self)
            }
            #expect(answers.components(separatedBy: "HTTP/1.1 200").count - 1 == 3, "\(answers)")
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
        }
    }

    @Test("An address's connections held together take turns, each request once, in the order they came")
    func connectionsTakeTurns() throws {
        let clock = ManualBudgetClock()
        let budget = Harness.budget(burst: 1, clock: clock)
        let connections = try (0..<3).map { _ in try Harness(budget: budget, clock: clock) }
        try connections[0].channel.writeInbound(ByteBuffer(string: Self.get("/a") + Self.get("/b")))
        #expect(connections[0].recorder.take() == ["head /a", "end", "head /b", "end"])
        for (index, connection) in connections.enumerated() {
            try connection.channel.writeInbound(ByteBuffer(string: Self.get("/\(index)")))
        }
        // Debt of 1 after /b: connection 0's request goes at 0.1 s, 1's at 0.2 s, 2's at 0.3 s.
        for turn in 0..<3 {
            clock.advance(by: .seconds(0.1))
            for connection in connections { connection.channel.embeddedEventLoop.advanceTime(by: .milliseconds(100)) }
            let served = connections.map { $0.recorder.take() }
            #expect(served.map(\.isEmpty) == (0..<3).map { $0 != turn }, "turn \(turn): \(served)")
        }
        for connection in connections { _ = try connection.channel.finish() }
    }

    @Test("A room socket's upgrade is not counted, and the pacer leaves the pipeline; any other Upgrade is counted")
    func upgradeLeaves() throws {
        let upgrading = try Harness(burst: 1)
        #expect(upgrading.hasToken)
        try upgrading.channel.writeInbound(ByteBuffer(string: rawUpgradeRequest()))
        #expect(upgrading.recorder.take() == ["head /ws/room/new", "end"])
        #expect(throws: (any Error).self) {
            try upgrading.channel.pipeline.syncOperations.handler(type: HTTPRequestPacer.self)
        }
        #expect(upgrading.hasToken)
        _ = try upgrading.channel.finish()

        for request in [
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            rawUpgradeRequest(path: "/api/rooms"),
        ] {
            let other = try Harness(burst: 1)
            try other.channel.writeInbound(ByteBuffer(string: request))
            #expect(other.recorder.take().first == "head /api/rooms")
            #expect(!other.hasToken, "counted: \(request)")
            _ = try other.channel.finish()
        }
    }

    @Test("A connection that sends more than 32 requests, or a body's worth, while held is closed")
    func holdingTooMuchCloses() throws {
        let pipelining = try Harness(burst: 1)
        try pipelining.channel.writeInbound(ByteBuffer(string: (0..<34).map { Self.get("/\($0)") }.joined()))
        #expect(pipelining.recorder.take().count == 4)
        #expect(pipelining.channel.isActive, "32 held")
        try pipelining.channel.writeInbound(ByteBuffer(string: Self.get("/34")))
        #expect(!pipelining.channel.isActive, "33 held")
        pipelining.advance(seconds: 10)
        #expect(pipelining.recorder.take().isEmpty)
        _ = try? pipelining.channel.finish()

        // A body of 1,024 bytes at most, and a read more: 66,560 bytes.
        let posting = try Harness(burst: 1)
        try posting.channel.writeInbound(ByteBuffer(string: Self.get("/a") + Self.get("/b")))
        let head = "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
        try posting.channel.writeInbound(ByteBuffer(string: head + String(repeating: "x", count: 66_560)))
        #expect(posting.channel.isActive)
        try posting.channel.writeInbound(ByteBuffer(string: "x"))
        #expect(!posting.channel.isActive)
        _ = try? posting.channel.finish()
    }

    @Test("A connection closed while its request waits gives the turn back to its address")
    func droppedTurnIsGivenBack() throws {
        let clock = ManualBudgetClock()
        let budget = Harness.budget(burst: 1, clock: clock)
        let leaving = try Harness(budget: budget, clock: clock)
        try leaving.channel.writeInbound(ByteBuffer(string: Self.get("/a") + Self.get("/b") + Self.get("/c")))
        #expect(leaving.recorder.take() == ["head /a", "end", "head /b", "end"])
        try leaving.channel.close().wait()  // /c had the turn at 0.1 s

        let staying = try Harness(budget: budget, clock: clock)
        try staying.channel.writeInbound(ByteBuffer(string: Self.get("/d")))
        staying.advance(seconds: 0.1)
        #expect(staying.recorder.take() == ["head /d", "end"], "/d has the turn /c gave back")
        _ = try? leaving.channel.finish()
        _ = try staying.channel.finish()
    }

    @Test("Only the first error behind a held request is kept: NIO's decoder raises one a read after it")
    func oneHeldError() throws {
        let harness = try Harness(burst: 1)
        try harness.channel.writeInbound(ByteBuffer(string: Self.get("/a") + Self.get("/b") + Self.get("/c")))
        struct Broken: Error {}
        for _ in 0..<3 { harness.channel.pipeline.fireErrorCaught(Broken()) }
        harness.advance(seconds: 0.1)
        #expect(harness.recorder.take() == ["head /a", "end", "head /b", "end", "head /c", "end", "error"])
        _ = try harness.channel.finish()
    }

    @Test("A closed connection's held requests are dropped, and nothing goes on after")
    func closeDropsHeld() throws {
        let harness = try Harness(burst: 1)
        try harness.channel.writeInbound(ByteBuffer(string: Self.get("/a") + Self.get("/b") + Self.get("/c")))
        #expect(harness.recorder.take() == ["head /a", "end", "head /b", "end"])
        try harness.channel.close().wait()
        harness.advance(seconds: 10)
        #expect(harness.recorder.take().isEmpty)
        _ = try? harness.channel.finish()
    }

    @Test("Loopback and trusted proxies get no pacer; nor does anyone with the budget off")
    func whoIsPaced() throws {
        let logger = Logger(label: "test")
        let client = try SocketAddress(ipAddress: "203.0.113.7", port: 50_000)
        let budget = HTTPRequestBudget(.requests(perSecond: 100), clients: ClientAddressPolicy())
        #expect(budget.pacer(forPeer: client, logger: logger) != nil)
        #expect(budget.pacer(forPeer: try SocketAddress(ipAddress: "127.0.0.1", port: 1), logger: logger) == nil)
        let proxied = HTTPRequestBudget(
            .requests(perSecond: 100),
            clients: ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "203.0.113.0/24")))
        #expect(proxied.pacer(forPeer: client, logger: logger) == nil)
        let off = HTTPRequestBudget(.requests(perSecond: 0), clients: ClientAddressPolicy())
        #expect(off.pacer(forPeer: client, logger: logger) == nil)
    }

    @Test("--http-requests-per-second-per-address: 100 by default (bursts of 6,000), 0 for no limit")
    func option() throws {
        let defaults = try RelayCommand.parse([]).configuration(environment: [:]).limits.requestsPerAddress
        #expect(defaults.perSecond == 100 && defaults.burst == 6_000)
        let none = try RelayCommand.parse(["--http-requests-per-second-per-address", "0"])
            .configuration(environment: [:])
        #expect(none.limits.requestsPerAddress.perSecond == 0)
        #expect(throws: (any Error).self) {
            try RelayCommand.parse(["--http-requests-per-second-per-address", "-1"]).configuration(environment: [:])
        }
    }

    @Test("--count-loopback counts loopback clients, which stay trusted proxies unless --forwarded-allow-ips says not")
    func countLoopbackOption() throws {
        let loopback = try SocketAddress(ipAddress: "127.0.0.2", port: 50_000)
        let defaults = try RelayCommand.parse([]).configuration(environment: [:]).clientAddresses
        #expect(defaults.key(ofPeer: loopback) == nil)
        let counted = try RelayCommand.parse(["--count-loopback", "--forwarded-allow-ips", ""])
            .configuration(environment: [:]).clientAddresses
        #expect(counted.key(ofPeer: loopback) == "127.0.0.2")
        let proxied = try RelayCommand.parse(["--count-loopback"]).configuration(environment: [:]).clientAddresses
        #expect(proxied.key(ofPeer: loopback) == nil)
        #expect(proxied.key(ofPeer: loopback, forwardedFor: ["127.0.0.9"]) == "127.0.0.9")
    }

    // MARK: Over real sockets

    /// A server whose clients on loopback count, with `perSecond` requests an address and bursts of `burst`.
    private static func withPacedServer(
        perSecond: Double, burst: Double, trusting proxies: String = "",
        _ body: @escaping @Sendable (_ port: Int) async throws -> Void
    ) async throws {
        try await withRelayServer(configure: {
            $0.limits.requestsPerAddress = .requests(perSecond: perSecond)
            $0.limits.requestsPerAddress.burst = burst
            $0.clientAddresses = ClientAddressPolicy(
                trustedProxies: try! TrustedProxies(parsing: proxies), countsLoopback: true)
        }) { port, _ in try await body(port) }
    }

    /// `count` scores posted back to back on one connection, which the client then half-closes.
    private static func pipelinedScores(_ count: Int) -> String {
        (1...count).map { score in
            let body = String(buffer: scoreBody(name: "p\(score)", score: score))
            return "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }.joined()
    }

    @Test("A flood on one connection is answered in order at the budget's rate, and its half-close closes it last")
    func floodIsPaced() async throws {
        // 6 at once (a burst of 5, one more into debt), then 20 a second.
        try await Self.withPacedServer(perSecond: 20, burst: 5) { port in
            let start = ContinuousClock.now
            let answer = try await rawExchange(port: port, Self.pipelinedScores(30), from: "127.0.0.2", halfClose: true)
            let elapsed = ContinuousClock.now - start
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == Array(repeating: "200", count: 30), "\(answer.suffix(500))")
            let scores = answer.split(separator: #""score":"#).dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
            #expect(scores == Array(1...30), "each body went with its head, in order")
            // 24 waited their turn at 20 a second: 1.2 s at least (a lower bound: the pacer is never faster).
            #expect(elapsed >= .seconds(1.2), "\(elapsed)")
        }
    }

    /// Once the client half-closes, NIO reads all it sent, asked to or not: the pacer must not hold it all.
    @Test("A pipelined flood that half-closes while held has its connection closed at once")
    func pipelinedFloodIsClosed() async throws {
        try await Self.withPacedServer(perSecond: 0.001, burst: 1) { port in
            let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n"
            let (answer, serverClosed, elapsed) = try await onOwnThread {
                let start = ContinuousClock.now
                let descriptor = try socketWithRequest(
                    port: port, String(repeating: request, count: 5_000), from: "127.0.0.2")
                defer { close(descriptor) }
                shutdown(descriptor, Int32(SHUT_WR))
                let (answer, serverClosed) = readTextUntilClosed(descriptor)
                return (answer, serverClosed, ContinuousClock.now - start)
            }
            // The two requests of the burst may or may not be answered before the close.
            #expect(answer.components(separatedBy: "HTTP/1.1 200").count - 1 <= 2, "\(answer.prefix(300))")
            #expect(serverClosed && elapsed < closedAtOnce, "\(elapsed)")
            let other = try await rawExchange(
                port: port, request.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n"),
                from: "127.0.0.3")
            #expect(other.hasPrefix("HTTP/1.1 200"), "\(other)")
        }
    }

    @Test("An address in debt waits on every connection; other addresses and a trusted proxy are served")
    func onlyTheAddressWaits() async throws {
        let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n"
        // Two requests at once, then one each 1,000 s: nothing held is let through during the test.
        try await Self.withPacedServer(perSecond: 0.001, burst: 1, trusting: "127.0.0.4") { port in
            let flooder = try await onOwnThread {
                try socketWithRequest(port: port, String(repeating: request, count: 5), from: "127.0.0.2")
            }
            defer { close(flooder) }
            let firstTwo = try await onOwnThread { () -> String in
                var received = ""
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while received.components(separatedBy: "\r\n\r\n[]").count < 3 {
                    let count = read(flooder, &buffer, buffer.count)
                    guard count > 0 else { break }
                    received += String(decoding: buffer[..<count], as: UTF8.self)
                }
                return received
            }
            #expect(firstTwo.components(separatedBy: "HTTP/1.1 200").count == 3, "\(firstTwo)")

            let other = try await rawExchange(
                port: port, request + "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                from: "127.0.0.3")
            #expect(other.components(separatedBy: "HTTP/1.1 200").count == 3, "another address: \(other)")
            let proxied = try await rawExchange(
                port: port,
                String(repeating: request, count: 5)
                    + "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                from: "127.0.0.4")
            #expect(proxied.components(separatedBy: "HTTP/1.1 200").count == 7, "a trusted proxy: \(proxied)")
            #expect(!hasBytesWaiting(flooder), "the flooder's third request is still held")
        }
    }

    @Test(
        "A client behind a trusted proxy is counted by the address the proxy names, preflights too, and past its budget gets 429"
    )
    func proxiedClientsGet429() async throws {
        // Three requests at once (a burst of 3), then one each 1,000 s.
        try await Self.withPacedServer(perSecond: 0.001, burst: 3, trusting: "127.0.0.4") { port in
            func get(for client: String, closing: Bool = false) -> String {
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: \(client)\r\n"
                    + (closing ? "Connection: close\r\n" : "") + "\r\n"
            }
            let answers = try await rawExchange(
                port: port,
                String(repeating: get(for: "203.0.113.9"), count: 3) + get(for: "203.0.113.9", closing: true),
                from: "127.0.0.4")
            let statuses = answers.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200", "200", "429"], "\(answers)")
            #expect(answers.lowercased().contains("\r\nretry-after: 1000\r\n"), "\(answers)")
            #expect(answers.hasSuffix(#"{"detail":"Too many requests from this address, try again shortly"}"#))
            let other = try await rawExchange(port: port, get(for: "203.0.113.10", closing: true), from: "127.0.0.4")
            #expect(other.hasPrefix("HTTP/1.1 200"), "another client behind the proxy: \(other)")
            // Requests the guards refuse, and preflights, are counted too, not answered for free past the budget.
            let refusedByGuards = [
                "GET //api/rooms HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n",
                "OPTIONS /api/scores HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n"
                    + "Origin: http://localhost:5173\r\nAccess-Control-Request-Method: POST\r\n\r\n",
                "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nSec-Fetch-Site: cross-site\r\n"
                    + "Content-Length: 0\r\nConnection: close\r\n\r\n",
            ]
            let guarded = try await rawExchange(port: port, refusedByGuards.joined(), from: "127.0.0.4")
            let guardedStatuses = guarded.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            // Required: the preflight's answer is read below (an answer cut short trapped the whole run).
            try #require(guardedStatuses == ["429", "429", "429"], "\(guarded)")
            let refusedPreflight = guarded.components(separatedBy: "HTTP/1.1 ")[2].lowercased()
            #expect(refusedPreflight.contains("\r\nvary: origin\r\n"), "\(refusedPreflight)")
            #expect(!refusedPreflight.contains("access-control-allow-origin"), "\(refusedPreflight)")
            let preflight =
                "OPTIONS /api/scores HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.10\r\n"
                + "Origin: http://localhost:5173\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
            let answered = try await rawExchange(port: port, preflight, from: "127.0.0.4")
            #expect(answered.hasPrefix("HTTP/1.1 200"), "a preflight within its client's budget: \(answered)")
            #expect(answered.lowercased().contains("access-control-allow-origin: http://localhost:5173"), "\(answered)")
        }
    }

    @Test("An address in debt still opens a room socket, which the budget then leaves alone")
    func roomSocketOffTheBudget() async throws {
        try await Self.withPacedServer(perSecond: 0.001, burst: 1) { port in
            let spend = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n"
            let spent = try await rawExchange(
                port: port, spend + spend.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n"),
                from: "127.0.0.2")
            #expect(spent.components(separatedBy: "HTTP/1.1 200").count == 3, "\(spent)")

            let client = try await StalledClient.connect(port: port, path: "/ws/room/new", from: "127.0.0.2")
            for index in 0..<20 { try client.send(#"{"type":"ping","timestamp":\#(index)}"#) }
            var pongs = 0
            while pongs < 20, let frame = try await client.readFrameAnsweringPing() {
                if frame.opcode == 1, String(decoding: frame.payload, as: UTF8.self).contains(#""pong""#) { pongs += 1 }
            }
            #expect(pongs == 20)
        }
    }
}

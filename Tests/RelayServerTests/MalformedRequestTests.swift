import Foundation
import Testing

@testable import RelayServer

@Suite("Requests HTTP cannot parse, and HTTP/1.0")
struct MalformedRequestTests {
    /// The only timeout these connections could otherwise wait out: three times the 30 s that
    /// `rawExchangeUntilClosed` waits for a byte (``rawClientPatienceSeconds``), so a close the
    /// client sees is the server's own, at once. Not a bound on the time: a loaded run took 5.2 s
    /// for every one of them.
    static let idleTimeoutArguments = ["--http-idle-timeout-seconds", "\(3 * rawClientPatienceSeconds)"]

    @Test(
        "A first request that cannot be parsed gets 400 JSON and the connection closes at once",
        arguments: [
            "GARBAGE\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
            "GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            // Chunked twice (RFC 9112 §6.1 forbids it), on one line or two.
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "0\r\n\r\n",
            // Framing a proxy might read otherwise: two lengths, a folded line, a bare LF, a NUL.
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\nHost: x\n\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<1_001).map { "X-\($0): v\r\n" }.joined() + "\r\n",
        ])
    func unparsableFirstRequests(_ request: String) async throws {
        try await withRelayProcess(arguments: Self.idleTimeoutArguments) { port in
            let (answer, serverClosed, elapsed) = try await rawExchangeUntilClosed(port: port, request)
            #expect(serverClosed, "\(elapsed)")
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\n{\"detail\":\"Invalid HTTP request\"}"), "\(answer)")
            // The headers every answer carries (PROTOCOL.md §1), though no route ran.
            let head = answer.lowercased()
            for header in [
                "strict-transport-security: max-age=31536000", "x-content-type-options: nosniff",
                "permissions-policy: ",
                "cache-control: no-cache, no-store",
                // Those of `/api/` too: the path is not known, so the strictest.
                "pragma: no-cache", "expires: 0",
            ] {
                #expect(head.contains("\r\n" + header), "\(header) is missing: \(answer)")
            }
        }
    }

    /// Its head was whole, so the route ran; the body's error used to be answered as a body too large (413).
    @Test(
        "A score whose chunked framing breaks gets 400, not 413",
        arguments: ["0x10\r\n{\"player_name\":\r\n0\r\n\r\n", "5\r\n{\"a\":\r\nzz\r\n"])
    func brokenChunkedBodies(_ chunks: String) async throws {
        try await withRelayServer { port, _ in
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            let exchange = try await rawExchangeUntilClosed(port: port, head + chunks)
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            #expect(exchange.answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(exchange.answer)")
            #expect(exchange.answer.hasSuffix("\r\n\r\n{\"detail\":\"Invalid HTTP request\"}"), "\(exchange.answer)")
        }
    }

    @Test("A request head over 16 KiB, in its target or its headers, gets 400; one just under is served")
    func longHeads() async throws {
        try await withRelayServer { port, _ in
            let limit = RelayChildChannel.maxRequestHeadBytes
            let fits =
                "GET /api/rooms?pad=\(String(repeating: "a", count: limit - 200)) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            #expect(try await rawExchange(port: port, fits).hasSuffix("\r\n\r\n[]"))
            for request in [
                "GET /api/rooms?pad=\(String(repeating: "a", count: limit)) HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "a", count: limit))\r\n\r\n",
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\n"
                    + (0..<20).map { "X-Pad-\($0): \(String(repeating: "a", count: limit / 16))\r\n" }.joined()
                    + "\r\n",
            ] {
                let answer = try await rawExchange(port: port, request)
                #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(answer.prefix(100))")
            }
        }
    }

    @Test("An HTTP/1.0 request is answered and its connection closed, unless it asks for keep-alive")
    func http10ClosesAfterTheAnswer() async throws {
        try await withRelayProcess(arguments: Self.idleTimeoutArguments) { port in
            let (answer, serverClosed, elapsed) = try await rawExchangeUntilClosed(
                port: port, "GET /api/rooms HTTP/1.0\r\n\r\n")
            #expect(serverClosed, "\(elapsed)")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\n[]"), "\(answer)")
            #expect(!answer.lowercased().contains("keep-alive"), "\(answer)")

            // Kept alive, the connection serves the next request, which closes it. The answer
            // says it is kept (HTTP/1.0 keeps a connection only when both sides say so).
            let twice = try await rawExchangeUntilClosed(
                port: port, "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /api/rooms HTTP/1.0\r\n\r\n")
            #expect(twice.serverClosed, "\(twice.elapsed)")
            let answers = twice.answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").dropFirst()
            #expect(answers.count == 2, "\(twice.answer)")
            #expect(answers.map { $0.lowercased().contains("\r\nconnection: keep-alive\r\n") } == [true, false])
        }
    }

    @Test("An HTTP/1.1 answer says nothing of keep-alive, which HTTP/1.1 assumes")
    func http11AnswersDoNotSayKeepAlive() async throws {
        try await withRelayServer { port, _ in
            let answer = try await rawExchange(
                port: port,
                "GET /api/rooms HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"
                    + "GET /api/rooms HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            #expect(answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").count == 3, "\(answer)")
            #expect(!answer.lowercased().contains("keep-alive"), "\(answer)")
        }
    }

    /// A later request refused for its head went on being read, its body dropped as fast as it
    /// came, for as long as the answer before it took (here: an image its client does not read).
    @Test("A later request refused for its head, behind an answer that waits, stops the connection's reading")
    func refusedLaterRequestStopsTheReading() async throws {
        try await withTemporaryDirectory { images in
            _ = try SlowAnswerTests.image(3, bytes: Int(BossImages.maxImageBytes), in: images)
            let configure = { (configuration: inout ServerConfiguration) in
                configuration.bossImagesDirectory = images
                configuration.limits.idleTimeout = .seconds(3)  // and the stalled answer is cut off
                configuration.limits.slowAnswerGrace = .seconds(3)
            }
            try await withRelayServer(configure: configure) { port, _ in
                let refused = "POST /api/scores HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"  // no Host
                let (sent, _) = try await Self.sendPastTheParser(
                    port: port, SlowAnswerTests.request(3) + refused, receiveBuffer: 4096)
                #expect(sent < 8 * 1024 * 1024, "\(sent) bytes taken")
            }
        }
    }
    /// NIO's parser reads nothing after a request it takes for an upgrade, which the server answers
    /// as an ordinary one (it upgrades only room sockets), and its decoder kept what came next:
    /// 300 MiB in 0.7 s. Sent from a small buffer, so that what the kernels hold counts for little.
    @Test(
        "After a request NIO's parser stops at, the connection closes within a few MiB of bytes",
        arguments: [
            "GET /api/rooms HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n",
            // Behind a request the server answers first: an upgrade it does not act on, late.
            "GET /api/rooms HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /api/rooms HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        ])
    func bytesAfterTheParserStops(_ request: String) async throws {
        try await withRelayServer { port, _ in
            let (sent, error) = try await Self.sendPastTheParser(port: port, request)
            #expect(sent < 8 * 1024 * 1024, "\(sent) bytes taken")
            #expect(error == EPIPE || error == ECONNRESET, "errno \(error): the server closed")
        }
    }

    /// Writes `request`, then zeros (up to 64 MiB) until the server stops taking them: how many
    /// it took, and the error that stopped the writes (0 if none did).
    static func sendPastTheParser(
        port: Int, _ request: String, receiveBuffer: Int32? = nil
    ) async throws -> (sent: Int, error: Int32) {
        try await onOwnThread { () throws -> (Int, Int32) in
            let descriptor = try socketWithRequest(port: port, request, receiveBuffer: receiveBuffer)
            defer { close(descriptor) }
            var size: Int32 = 64 * 1024
            setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var timeout = timeval(tv_sec: 10, tv_usec: 0)  // a server that stops reading ends the loop
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let chunk = [UInt8](repeating: 0, count: 64 * 1024)
            var sent = 0
            while sent < 64 * 1024 * 1024 {
                let count = send(descriptor, chunk, chunk.count, Int32(MSG_NOSIGNAL))
                guard count > 0 else { return (sent, errno) }
                sent += count
            }
            return (sent, 0)
        }
    }
}

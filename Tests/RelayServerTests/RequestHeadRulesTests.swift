import NIOHTTP1
import Testing

@testable import RelayServer

@Suite("Each request head's Host, Transfer-Encoding and Connection (RFC 9112 §3.2, §6.1, §9.6)")
struct RequestHeadRulesTests {
    static let refusedDetail = #"{"detail":"Invalid HTTP request: it needs one Host header naming a host"}"#

    @Test(
        "A first request without Host on HTTP/1.1, with two, or with one that names no host gets 400 and is closed",
        arguments: [
            "GET /api/rooms HTTP/1.1\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nhost: 127.0.0.1\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: evil.example/x\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: user@game.example\r\n\r\n",
            "POST /api/scores HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        ])
    func refusedFirstRequests(_ request: String) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(port: port, request)
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            #expect(exchange.answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(exchange.answer)")
            #expect(exchange.answer.hasSuffix("\r\n\r\n" + Self.refusedDetail), "\(exchange.answer)")
        }
    }

    @Test(
        "A Host with a port, an IPv6 literal or nothing at all is served, and so is HTTP/1.0 without one",
        arguments: [
            "GET /api/rooms HTTP/1.1\r\nHost: localhost:8000\r\nConnection: close\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: my-game_server.example\r\nConnection: close\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\n\r\n",
        ])
    func servedHosts(_ request: String) async throws {
        try await withRelayServer { port, _ in
            let answer = try await rawExchange(port: port, request)
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\n[]"), "\(answer)")
        }
    }

    /// A score in `Transfer-Encoding: chunked` framing, after the given coding header.
    static func chunkedScore(_ transferEncoding: String) -> String {
        let body =
            #"{"player_name":"coded","score":5,"coins":1,"enemies_defeated":1,"distance":1,"level":1,"#
            + #""game_mode":"levels"}"#
        return "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
            + "Content-Type: application/json\r\n\(transferEncoding)\r\n\r\n"
            + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
    }

    static let bestScoreRequest =
        "GET /api/scores/player/coded HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nConnection: close\r\n\r\n"

    /// NIO's decoder passed such a head on before it failed: the GET was served, the POST told its
    /// body was too large, and a gzip-coded body framed in chunks was read as plain JSON.
    @Test(
        "A first request with a transfer coding other than chunked alone gets 400, is not acted on, and is closed",
        arguments: [
            Self.chunkedScore("Transfer-Encoding: gzip, chunked"),
            Self.chunkedScore("Transfer-Encoding: identity, chunked"),
            // NIO's decoder frames no chunks after a tab, though NIO's own trimming drops it.
            Self.chunkedScore("Transfer-Encoding: chunked\t"),
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n",
            Self.chunkedScore("Transfer-Encoding: \r\nTransfer-Encoding: chunked"),
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nTransfer-Encoding: gzip\r\n\r\nabc",
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n"
                + "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n",
        ])
    func refusedTransferCodings(_ request: String) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(port: port, request)
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            #expect(exchange.answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(exchange.answer)")
            let detail = #"{"detail":"Invalid HTTP request: only Transfer-Encoding: chunked is supported"}"#
            #expect(exchange.answer.hasSuffix("\r\n\r\n" + detail), "\(exchange.answer)")
            let bestScore = try await rawExchange(port: port, Self.bestScoreRequest)
            #expect(bestScore.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(bestScore)")
        }
    }

    @Test("A score framed in chunks is stored, whatever the case of chunked", arguments: ["chunked", "CHUNKED"])
    func servedChunkedBodies(_ coding: String) async throws {
        try await withRelayServer { port, _ in
            let request = Self.chunkedScore("Transfer-Encoding: \(coding)\r\nConnection: close")
            let answer = try await rawExchange(port: port, request)
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            let bestScore = try await rawExchange(port: port, Self.bestScoreRequest)
            #expect(bestScore.hasSuffix(#""score":5}"#) || bestScore.contains(#""score":5,"#), "\(bestScore)")
        }
    }

    @Test(
        "A later request refused for its Host or its coding gets 400 after the answers before it; nothing after served",
        arguments: [
            "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ])
    func refusedLaterRequest(_ refused: String) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(
                port: port,
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n" + refused
                    + "GET /api/rooms/all HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            // hummingbird answers a later request it cannot use as it answers one NIO cannot parse.
            let refusal = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            #expect(exchange.answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(exchange.answer)")
            #expect(exchange.answer.hasSuffix("\r\n\r\n[]" + refusal), "\(exchange.answer)")
            #expect(exchange.answer.components(separatedBy: "HTTP/1.1 ").count == 3, "\(exchange.answer)")
        }
    }

    @Test("A room socket's upgrade without Host, or with two, is refused with 400, not switched")
    func refusedUpgrades() async throws {
        try await withRelayServer { port, _ in
            for request in [
                rawUpgradeRequest().replacingOccurrences(of: "Host: 127.0.0.1\r\n", with: ""),
                rawUpgradeRequest(extraHeaders: "Host: game.example\r\n"),
            ] {
                let exchange = try await rawExchangeUntilClosed(port: port, request)
                #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
                #expect(exchange.answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(exchange.answer)")
                #expect(exchange.answer.hasSuffix(Self.refusedDetail), "\(exchange.answer)")
            }
        }
    }

    @Test(
        "Connection: close in any case or list, and HTTP/1.0 without keep-alive or with a coding, end after the answer, which says so",
        arguments: [
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n",
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\nGET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /api/rooms HTTP/1.0\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            // HTTP/1.0 asking for both: llhttp takes it as kept alive.
            "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            "GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n",
        ])
    func closingRequests(_ requests: String) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(port: port, requests)
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "left open: \(exchange.answer)")
            // The last answer says the connection ends (RFC 9112 §9.6, as uvicorn did), not that it is kept.
            let last = exchange.answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").last ?? ""
            #expect(!last.lowercased().contains("connection: keep-alive"), "\(exchange.answer)")
            #expect(last.lowercased().contains("connection: close\r\n"), "\(exchange.answer)")
            let answered = exchange.answer.components(separatedBy: "HTTP/1.1 200 OK\r\n").count - 1
            #expect(answered == requests.components(separatedBy: "GET ").count - 1, "\(exchange.answer)")
        }
    }

    @Test(
        "A CONNECT is answered, without a body as NIO frames it, and the connection closes at once",
        arguments: [
            ("CONNECT game.example:443 HTTP/1.1\r\nHost: game.example:443\r\n\r\n", "404 Not Found"),
            (
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
                "404 Not Found"
            ),
            // A path a route takes: its methods, as for any other method it does not take.
            ("CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", "405 Method Not Allowed"),
        ])
    func connectRequests(_ requests: String, status: String) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(port: port, requests)
            #expect(exchange.serverClosed, "left open: \(exchange.answer)")
            #expect(exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            let answer = exchange.answer
            #expect(answer.hasSuffix("\r\n\r\n"), "a body: \(answer)")
            #expect(answer.contains("HTTP/1.1 \(status)\r\n"), "\(answer)")
            #expect(answer.contains("\r\nAllow: GET, HEAD\r\n") == status.hasPrefix("405"), "\(answer)")
        }
    }

    @Test("Which heads are put in the form hummingbird and NIO act on")
    func normalizing() {
        func normalized(_ version: HTTPVersion, _ headers: [(String, String)]) -> (Bool, [String], [String]) {
            var head = HTTPRequestHead(version: version, method: .GET, uri: "/", headers: HTTPHeaders(headers))
            let changed = RequestHeadRules.normalize(&head)
            return (changed, head.headers["connection"], head.headers["expect"])
        }
        #expect(normalized(.http1_1, [("Connection", "close")]) == (false, ["close"], []))
        #expect(normalized(.http1_1, [("Connection", "Close")]) == (true, ["close"], []))
        #expect(normalized(.http1_1, [("Connection", "keep-alive"), ("Connection", "close")]) == (true, ["close"], []))
        #expect(normalized(.http1_1, [("Connection", "Upgrade")]) == (false, ["Upgrade"], []))
        var connect = HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "x:443", headers: ["Host": "x:443"])
        #expect(RequestHeadRules.normalize(&connect) && connect.headers["connection"] == ["close"])
        #expect(normalized(.http1_1, [("Expect", "100-continue")]) == (false, [], ["100-continue"]))
        #expect(normalized(.http1_0, []) == (true, ["close"], []))
        #expect(normalized(.http1_0, [("Connection", "keep-alive")]) == (false, ["keep-alive"], []))
        let expecting = normalized(.http1_0, [("Connection", "keep-alive"), ("Expect", "100-continue")])
        #expect(expecting == (true, ["keep-alive"], []))
    }

    @Test("Which heads are refused, and why")
    func refusals() {
        func refusal(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> RequestHeadRules.Refusal? {
            let head = HTTPRequestHead(version: version, method: .POST, uri: "/", headers: HTTPHeaders(headers))
            return RequestHeadRules.refusal(of: head)
        }
        #expect(refusal([("Host", "x")]) == nil)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "chunked")]) == nil)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "cHuNkEd")]) == nil)
        #expect(refusal([("Transfer-Encoding", "chunked")], version: .http1_0) == nil)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "gzip, chunked")]) == .transferCoding)
        let twoLines = [("Host", "x"), ("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
        #expect(refusal(twoLines) == .transferCoding)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "chunked;q=1")]) == .transferCoding)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "")]) == .transferCoding)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "chunked\t")]) == .transferCoding)
        #expect(refusal([("Host", "x"), ("Transfer-Encoding", "chunked  ")]) == nil)
        #expect(refusal([("Transfer-Encoding", "gzip")]) == .host)
        #expect(refusal([("Host", "a b")]) == .host)
        let marks = { (count: Int) in "a" + String(repeating: "\u{0301}", count: count) }
        #expect(refusal([("Host", "x"), ("User-Agent", marks(30))]) == nil)
        #expect(refusal([("Host", "x"), ("User-Agent", marks(31))]) == .headerText)
        #expect(refusal([("Host", "x"), ("Upgrade", marks(4_000))]) == .headerText)
    }

    /// NIO takes any byte over 0x7F in a value, and Swift compares such a string with any other
    /// only after sorting each run of combining marks: quadratic in the run.
    @Test(
        "A head with a value of more than 30 combining marks in a row gets 400, first or later",
        arguments: ["X-Note", "Upgrade", "Connection", "Expect", "Origin"])
    func refusedHeaderText(_ name: String) async throws {
        let value = "a" + String(repeating: "\u{0301}", count: 4_000) + String(repeating: "\u{0316}", count: 3_000)
        try await withRelayServer { port, _ in
            let first = try await rawExchangeUntilClosed(
                port: port, "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\(name): \(value)\r\n\r\n")
            #expect(first.serverClosed && first.elapsed < closedAtOnce, "\(first.elapsed)")
            #expect(first.answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(first.answer)")
            #expect(first.answer.hasSuffix("combining marks in a row\"}"), "\(first.answer)")
            let later = try await rawExchangeUntilClosed(
                port: port,
                "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\nGET /api/rooms HTTP/1.1\r\nHost: x\r\n\(name): \(value)\r\n\r\n"
            )
            #expect(later.serverClosed, "\(later.elapsed)")
            #expect(later.answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(later.answer)")
            #expect(later.answer.contains("HTTP/1.1 400 Bad Request\r\n"), "\(later.answer)")
        }
    }

    @Test("Header values are compared with ASCII words byte by byte, in any case")
    func asciiComparisons() {
        #expect("WebSocket".isASCII(caseInsensitively: "websocket"))
        #expect("websocket".isASCII(caseInsensitively: "websocket"))
        #expect(!"websocket ".isASCII(caseInsensitively: "websocket"))
        #expect(!"websockeT\u{0301}".isASCII(caseInsensitively: "websocket"))
        #expect(!"".isASCII(caseInsensitively: "websocket"))
        #expect(!"wEbsockeu".isASCII(caseInsensitively: "websocket"))
        #expect("keep-alive, Upgrade".listsASCII(caseInsensitively: "upgrade"))
        #expect(" upgrade\t,x".listsASCII(caseInsensitively: "upgrade"))
        #expect("UPGRADE".listsASCII(caseInsensitively: "upgrade"))
        #expect(!"upgraded, keep-alive".listsASCII(caseInsensitively: "upgrade"))
        #expect(!"up grade".listsASCII(caseInsensitively: "upgrade"))
        #expect(!",".listsASCII(caseInsensitively: "upgrade"))
        #expect(!"".listsASCII(caseInsensitively: "upgrade"))
        // NIO splits by characters: to it, a comma with a combining mark after it is no comma.
        #expect(!"websocket,\u{0301}".listsASCII(caseInsensitively: "websocket"))
        #expect(!"\u{0600},websocket".listsASCII(caseInsensitively: "websocket"))
    }

    /// Were the check and NIO's upgrade handler to read the list apart, the head would go on as an
    /// upgrade that NIO does not make: answered by no one, timed by no one.
    @Test("A WebSocket handshake whose Upgrade list NIO would read otherwise is answered and closed")
    func upgradeListsWithMarks() async throws {
        try await withRelayServer { port, _ in
            let request = rawUpgradeRequest().replacingOccurrences(
                of: "Upgrade: websocket\r\n", with: "Upgrade: websocket,\u{0301}\r\n")
            let exchange = try await rawExchangeUntilClosed(port: port, request)
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange.elapsed)")
            #expect(exchange.answer.hasPrefix("HTTP/1.1 426"), "\(exchange.answer)")
        }
    }

    @Test("Which heads have a valid Host")
    func validity() {
        func head(_ version: HTTPVersion, _ hosts: [String]) -> HTTPRequestHead {
            HTTPRequestHead(version: version, method: .GET, uri: "/", headers: HTTPHeaders(hosts.map { ("Host", $0) }))
        }
        #expect(RequestHeadRules.hasValidHost(head(.http1_1, ["game.example:8000"])))
        #expect(RequestHeadRules.hasValidHost(head(.http1_1, ["[2001:db8::1]"])))
        #expect(RequestHeadRules.hasValidHost(head(.http1_1, ["xn--caf-dma.example"])))
        #expect(RequestHeadRules.hasValidHost(head(.http1_1, ["caf%C3%A9.example"])))  // RFC 3986 pct-encoded
        #expect(RequestHeadRules.hasValidHost(head(.http1_0, [])))
        #expect(!RequestHeadRules.hasValidHost(head(.http1_1, [])))
        #expect(!RequestHeadRules.hasValidHost(head(HTTPVersion(major: 2, minor: 0), [])))
        #expect(!RequestHeadRules.hasValidHost(head(.http1_1, ["a", "a"])))
        #expect(!RequestHeadRules.hasValidHost(head(.http1_1, ["café.example"])))
        #expect(!RequestHeadRules.hasValidHost(head(.http1_1, ["a\tb"])))
        #expect(!RequestHeadRules.hasValidHost(head(.http1_1, ["a\"b"])))
    }
}

import Testing

@testable import RelayServer

/// The server's answer to a raw request: status, headers, body.
private typealias RawAnswer = StalledClient.Refusal

/// Paths with a trailing slash, answered as FastAPI's router (Starlette, `redirect_slashes`)
/// answers them: 307 to the path without the slashes when a route takes it, after the middleware
/// (CORS, headers, fetch-metadata guard) and before any route's key check; else 404.
@Suite("Trailing slashes as FastAPI answers them")
struct TrailingSlashRedirectTests {
    /// `method target` on a connection of its own, with `headers` (a `Host` by default).
    private func answer(
        _ port: Int, _ method: String, _ target: String, headers: String = "Host: game.example:8000\r\n",
        version: String = "HTTP/1.1"
    ) async throws -> RawAnswer {
        RawAnswer(
            text: try await rawExchange(
                port: port, "\(method) \(target) \(version)\r\n\(headers)Connection: close\r\n\r\n"))
    }

    @Test(
        "A path a route takes without its trailing slashes is 307 to it, query kept, whatever the method, no key asked",
        arguments: [
            ("GET", "/api/bosses/", "/api/bosses"),
            ("GET", "/api/bosses//", "/api/bosses"),
            ("GET", "/api/scores/leaderboard/?limit=5&game_mode=a+b", "/api/scores/leaderboard?limit=5&game_mode=a+b"),
            ("GET", "/api/scores/player/al%20ice/", "/api/scores/player/al%20ice"),
            ("GET", "/api/load_game/a%2Fb/", "/api/load_game/a%2Fb"),  // Starlette: /api/load_game/a/b
            ("GET", "/api/bosses/images/3/", "/api/bosses/images/3"),
            ("GET", "/api/rooms/all/?", "/api/rooms/all"),
            ("POST", "/api/scores/", "/api/scores"),
            ("DELETE", "/api/bosses/", "/api/bosses"),  // the route takes GET only: Starlette redirects all the same
            ("PUT", "/api/save_game/", "/api/save_game"),
        ])
    func redirects(method: String, target: String, location: String) async throws {
        try await withRelayServer { port, _ in
            let answer = try await self.answer(port, method, target)
            #expect(answer.status == 307, "\(answer.text)")
            #expect(answer.header("Location") == "http://game.example:8000\(location)")
            // Starlette's RedirectResponse: an empty body, no content type.
            #expect(answer.header("Content-Length") == "0")
            #expect(answer.header("Content-Type") == nil)
            #expect(answer.body.isEmpty)
            #expect(answer.header("Strict-Transport-Security") != nil)
            #expect(answer.header("Cache-Control") == "no-cache, no-store, must-revalidate")
        }
    }

    @Test("A trailing-slash path no route takes is 404, like an empty segment; the root is the root")
    func notFound() async throws {
        try await withRelayServer { port, _ in
            // The room socket's route is not an HTTP route in FastAPI: no redirect to it.
            for target in ["/nothing/", "/api/bosses/images/", "/ws/room/ABCDEF/", "/api//bosses/", "//"] {
                let answer = try await self.answer(port, "GET", target)
                #expect(answer.status == 404, "\(target)")
                #expect(answer.body == #"{"detail":"Not Found"}"#, "\(target)")
            }
            #expect(try await self.answer(port, "GET", "/").status == 200)
        }
    }

    @Test("The redirect comes after FastAPI's middleware: CORS headers on it, the fetch-metadata guard before it")
    func middlewareFirst() async throws {
        try await withRelayServer { port, _ in
            let host = "Host: game.example:8000\r\n"
            let cors = try await self.answer(
                port, "GET", "/api/bosses/", headers: host + "Origin: http://localhost:5173\r\n")
            #expect(cors.status == 307)
            #expect(cors.header("Access-Control-Allow-Origin") == "http://localhost:5173")
            #expect(cors.header("Access-Control-Allow-Credentials") == "true")
            let crossSite = try await self.answer(
                port, "POST", "/api/scores/", headers: host + "Sec-Fetch-Site: cross-site\r\n")
            #expect(crossSite.status == 403)
            let navigation = try await self.answer(
                port, "GET", "/api/bosses/", headers: host + "Sec-Fetch-Mode: navigate\r\n")
            #expect(navigation.status == 403)
            // The key is a route's dependency in FastAPI: a wrong one is never looked at.
            let wrongKey = try await self.answer(port, "GET", "/api/bosses/", headers: host + "X-API-Key: wrong\r\n")
            #expect(wrongKey.status == 307)
        }
    }

    @Test("Without a Host header the location is the path alone")
    func withoutHost() async throws {
        try await withRelayServer { port, _ in
            let answer = try await self.answer(port, "GET", "/api/rooms/?all=1", headers: "", version: "HTTP/1.0")
            #expect(answer.status == 307)
            #expect(answer.header("Location") == "/api/rooms?all=1")
        }
    }

    @Test("The location is escaped as Python's quote with Starlette's safe characters")
    func locationEscaping() {
        let query = #"a=<b>&c="d"|e^f{g}\h`i&j=%41&k='()*+,;!$:@[]~_.-&l=é"#
        #expect(
            StarletteLocation.of(host: "h:1", path: "/api/x", query: query)
                == "http://h:1/api/x?a=%3Cb%3E&c=%22d%22%7Ce%5Ef%7Bg%7D%5Ch%60i&j=%41&k='()*+,;!$:@[]~_.-&l=%C3%A9")
        #expect(StarletteLocation.of(host: nil, path: "/a", query: "") == "/a")
        #expect(StarletteLocation.of(host: nil, path: "/a", query: nil) == "/a")
    }
}

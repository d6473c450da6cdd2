import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import RelayServer

private let apiKeyHeader = HTTPField.Name("X-API-Key")!
private let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
private let secFetchMode = HTTPField.Name("Sec-Fetch-Mode")!

@Suite("API key, CSRF guard, CORS and headers")
struct SecurityTests {
    @Test(
        "Keyed routes refuse a missing or wrong key with 403 JSON",
        arguments: [
            ("/api/scores", HTTPRequest.Method.post), ("/api/scores/leaderboard", .get), ("/api/scores/player/a", .get),
            ("/api/scores/rank/5", .get), ("/api/save_game", .post), ("/api/load_game/a", .get),
            ("/api/save_game/a", .delete), ("/api/bosses", .get),
        ])
    func apiKeyRequired(path: String, method: HTTPRequest.Method) async throws {
        try await withLiveApp { client in
            for headers: HTTPFields in [[:], [apiKeyHeader: "wrong"], [apiKeyHeader: testAPIKey + "x"]] {
                let response = try await client.execute(uri: path, method: method, headers: headers, body: scoreBody())
                #expect(response.status == .forbidden)
                #expect(try response.detailMessage() == "Invalid or missing API key")
            }
        }
    }

    @Test(
        "A routed path asked with another method gets 405 JSON with Allow; an unknown path 404",
        arguments: [
            ("/api/scores", HTTPRequest.Method.put, "POST"), ("/api/scores", .get, "POST"),
            ("/api/scores", .head, "POST"),
            ("/api/save_game/a%2Fb", .get, "DELETE"), ("/api/save_game", .delete, "POST"),
            ("/api/bosses", .post, "GET, HEAD"), ("/", .post, "GET, HEAD"), ("/api/rooms/all", .delete, "GET, HEAD"),
            ("/ws/room/ABCDEF", .post, "GET, HEAD"),
            ("/api/nothing", .get, nil), ("/api/scores/player", .get, nil), ("/api/load_game/a/b", .get, nil),
        ] as [(String, HTTPRequest.Method, String?)])
    func wrongMethods(path: String, method: HTTPRequest.Method, allow: String?) async throws {
        try await withLiveApp { client in
            let response = try await client.execute(uri: path, method: method, headers: [apiKeyHeader: testAPIKey])
            #expect(response.status == (allow == nil ? .notFound : .methodNotAllowed), "\(method) \(path)")
            #expect(response.headers[.allow] == allow, "\(method) \(path)")
            if method == .head {
                #expect(response.body.readableBytes == 0, "a HEAD answer has no body")
            } else {
                #expect(try response.detailMessage() == (allow == nil ? "Not Found" : "Method Not Allowed"))
            }
            #expect(response.headers[.xContentTypeOptions] == "nosniff")
        }
    }

    @Test("The root and boss images need no key")
    func openRoutes() async throws {
        try await withLiveApp { client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(root.status == .ok)
            #expect(try root.object()["message"] as? String == "JumpJumpJump API is running!")
            let image = try await client.execute(uri: "/api/bosses/images/1", method: .get)
            #expect(image.status == .notFound)  // no image folder here, but not a 403
        }
    }

    @Test("Security headers on every answer; no-store caching, with Pragma/Expires under /api/")
    func securityHeaders() async throws {
        try await withLiveApp { client in
            let responses = [
                try await client.execute(uri: "/", method: .get),
                try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: keyed),
                try await client.execute(uri: "/api/scores/leaderboard", method: .get),
                try await client.execute(
                    uri: "/api/scores", method: .post, headers: keyed, body: ByteBuffer(string: "x")),
            ]
            for response in responses {
                #expect(response.headers[.strictTransportSecurity] == "max-age=31536000; includeSubDomains; preload")
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(
                    response.headers[HTTPField.Name("Permissions-Policy")!]
                        == "camera=(), microphone=(), geolocation=(), interest-cohort=()")
                #expect(response.headers[.cacheControl] == "no-cache, no-store, must-revalidate")
                #expect(response.headers[.contentType] == "application/json")
            }
            #expect(responses[0].headers[HTTPField.Name("Pragma")!] == nil)
            for response in responses.dropFirst() {
                #expect(response.headers[HTTPField.Name("Pragma")!] == "no-cache")
                #expect(response.headers[.expires] == "0")
            }
        }
    }

    @Test("Cross-site state-changing requests get 403 JSON; same-site and none pass")
    func csrfGuard() async throws {
        try await withLiveApp { client in
            var headers = keyed
            headers[secFetchSite] = "cross-site"
            let blocked = try await client.execute(
                uri: "/api/scores", method: .post, headers: headers, body: scoreBody())
            #expect(blocked.status == .forbidden)
            #expect(try blocked.detailMessage() == "Cross-site request blocked")
            let saved = try await client.execute(
                uri: "/api/save_game", method: .post, headers: keyed, body: saveBody(name: "a"))
            #expect(saved.status == .ok)
            let blockedDelete = try await client.execute(uri: "/api/save_game/a", method: .delete, headers: headers)
            #expect(blockedDelete.status == .forbidden)
            #expect(try blockedDelete.detailMessage() == "Cross-site request blocked")
            let kept = try await client.execute(uri: "/api/load_game/a", method: .get, headers: keyed)
            #expect(kept.status == .ok)
            #expect(try kept.object()["player_name"] as? String == "a", "the blocked delete removed the save")
            // A cross-site GET is not state-changing.
            let read = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(read.status == .ok)

            for site in ["same-origin", "same-site", "none"] {
                headers[secFetchSite] = site
                let allowed = try await client.execute(
                    uri: "/api/scores", method: .post, headers: headers, body: scoreBody())
                #expect(allowed.status == .ok)
            }
            let stored = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: keyed)
            #expect(try stored.objects().count == 3)  // the blocked one was not stored
        }
    }

    @Test("Navigations into /api/ get 403")
    func navigationGuard() async throws {
        try await withLiveApp { client in
            var headers = keyed
            headers[secFetchMode] = "navigate"
            let response = try await client.execute(uri: "/api/bosses", method: .get, headers: headers)
            #expect(response.status == .forbidden)
            #expect(try response.detailMessage() == "Navigation requests to the API are not allowed")
            let root = try await client.execute(uri: "/", method: .get, headers: headers)
            #expect(root.status == .ok)
        }
    }

    // Not "/api/bosses//": FastAPI redirects trailing slashes, however many (TrailingSlashRedirectTests).
    @Test(
        "A path with an empty segment is 404, not the route it would merge into",
        arguments: [
            "//api/bosses", "/api//bosses", "/api//bosses/", "//", "//api/rooms",
        ])
    func emptyPathSegments(path: String) async throws {
        try await withLiveApp { client in
            var headers = keyed
            headers[secFetchMode] = "navigate"
            let navigation = try await client.execute(uri: path, method: .get, headers: headers)
            #expect(navigation.status == .notFound)
            let plain = try await client.execute(uri: path, method: .get, headers: keyed)
            #expect(plain.status == .notFound)
            #expect(try plain.detailMessage() == "Not Found")
        }
    }

    @Test("CORS preflight from an allowed origin: the origin, credentials, all methods, the asked headers")
    func corsPreflightAllowed() async throws {
        try await withLiveApp { client in
            let response = try await client.execute(
                uri: "/api/scores", method: .options,
                headers: [
                    .origin: "http://localhost:5173", .accessControlRequestMethod: "POST",
                    .accessControlRequestHeaders: "x-api-key, content-type",
                ])
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowOrigin] == "http://localhost:5173")
            #expect(response.headers[.accessControlAllowCredentials] == "true")
            #expect(response.headers[.accessControlAllowHeaders] == "x-api-key, content-type")
            #expect(response.headers[.accessControlAllowMethods]?.contains("DELETE") == true)
            #expect(response.headers[.strictTransportSecurity] != nil)
        }
    }

    @Test("CORS: a disallowed origin gets no allow-origin header, and its preflight fails")
    func corsDisallowed() async throws {
        try await withLiveApp { client in
            let preflight = try await client.execute(
                uri: "/api/scores", method: .options,
                headers: [.origin: "http://evil.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .badRequest)
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
            #expect(try preflight.detailMessage() == "Disallowed CORS origin")

            // Starlette's "*" means the standard methods only, spelled in capitals.
            for (origin, method, refusal) in [
                ("http://localhost:5173", "FOO", "Disallowed CORS method"),
                ("http://localhost:5173", "post", "Disallowed CORS method"),
                ("http://evil.example", "FOO", "Disallowed CORS origin, method"),
            ] {
                let refused = try await client.execute(
                    uri: "/api/scores", method: .options,
                    headers: [.origin: origin, .accessControlRequestMethod: method])
                #expect(refused.status == .badRequest, "\(origin) \(method)")
                #expect(try refused.detailMessage() == refusal, "\(origin) \(method)")
                #expect(refused.headers[.vary] == "Origin", "\(origin) \(method)")
            }

            var headers = keyed
            headers[.origin] = "http://evil.example"
            let simple = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(simple.status == .ok)
            #expect(simple.headers[.accessControlAllowOrigin] == nil)

            headers[.origin] = "http://localhost:3000"
            let allowed = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(allowed.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            // Errors carry CORS headers too, so the browser can read them.
            headers[apiKeyHeader] = "wrong"
            let refused = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(refused.status == .forbidden)
            #expect(refused.headers[.accessControlAllowOrigin] == "http://localhost:3000")
        }
    }

    @Test("Every answer varies by Origin while origins are a list: none sent, refused, allowed, an error")
    func corsVaryOrigin() async throws {
        try await withLiveApp { client in
            let origins: [String?] = [nil, "http://evil.example", "http://localhost:5173"]
            for origin in origins {
                var headers = keyed
                headers[.origin] = origin
                let answer = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
                #expect(answer.status == .ok, "\(origin ?? "no origin")")
                #expect(answer.headers[values: .vary] == ["Origin"], "\(origin ?? "no origin")")
                headers[apiKeyHeader] = "wrong"
                let refused = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
                #expect(refused.status == .forbidden)
                #expect(refused.headers[values: .vary] == ["Origin"], "\(origin ?? "no origin")")
            }
        }
        let allowAll = try CORSPolicy(environment: ["ALLOW_ALL_ORIGINS": "true"])
        try await withLiveApp(configure: { $0.cors = allowAll }) { client in
            let answer = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: keyed)
            #expect(answer.headers[.vary] == nil)  // "*" for every origin: nothing varies
        }
    }

    @Test("An answer's own Vary keeps its names, and gets Origin once")
    func corsVaryOriginAppended() async throws {
        let router = Router()
        let policy = CORSPolicy(allowedOrigins: ["http://a.example"], allowAllOrigins: false)
        router.add(middleware: CORSPolicyMiddleware(policy: policy))
        for vary in ["Accept-Encoding", "accept-encoding, ORIGIN", "*"] {
            router.get("/\(vary.count)") { _, _ in Response(status: .ok, headers: [.vary: vary]) }
        }
        try await Application(router: router).test(.router) { client in
            for (vary, expected) in [
                ("Accept-Encoding", "Accept-Encoding, Origin"), ("accept-encoding, ORIGIN", "accept-encoding, ORIGIN"),
                ("*", "*"),
            ] {
                let answer = try await client.execute(uri: "/\(vary.count)", method: .get)
                #expect(answer.headers[values: .vary] == [expected], "\(vary)")
            }
        }
    }

    @Test("ALLOW_ALL_ORIGINS answers * without credentials")
    func corsAllowAll() async throws {
        let allowAll = try CORSPolicy(environment: ["ALLOW_ALL_ORIGINS": "true"])
        try await withLiveApp(configure: { $0.cors = allowAll }) { client in
            var headers = keyed
            headers[.origin] = "https://anywhere.example"
            let response = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(response.headers[.accessControlAllowOrigin] == "*")
            #expect(response.headers[.accessControlAllowCredentials] == nil)
        }
    }

    @Test("A preflight allows Starlette's standard methods, PATCH included, for 600 seconds")
    func corsPreflightMethodsAndMaxAge() async throws {
        try await withLiveApp { client in
            let response = try await client.execute(
                uri: "/api/scores", method: .options,
                headers: [.origin: "http://localhost:5173", .accessControlRequestMethod: "PATCH"])
            #expect(response.status == .ok)
            #expect(response.headers[.accessControlAllowMethods] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
            #expect(response.headers[.accessControlMaxAge] == "600")
        }
    }

    @Test("Only an OPTIONS with an Origin and Access-Control-Request-Method is a preflight")
    func corsNotAPreflight() async throws {
        try await withLiveApp { client in
            // Without an Origin it is an ordinary OPTIONS, which no route takes.
            let noOrigin = try await client.execute(
                uri: "/api/scores", method: .options, headers: [.accessControlRequestMethod: "POST"])
            #expect(noOrigin.status == .methodNotAllowed)
            #expect(noOrigin.headers[.allow] == "POST")
            // A GET with both headers is served as a GET.
            var headers = keyed
            headers[.origin] = "http://localhost:5173"
            headers[.accessControlRequestMethod] = "GET"
            let get = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: headers)
            #expect(get.status == .ok)
            #expect(get.headers[.accessControlMaxAge] == nil)
            #expect(get.headers[.contentType] == "application/json")
            #expect(get.headers[.accessControlAllowOrigin] == "http://localhost:5173")
        }
    }

    @Test("Fetch metadata is read whatever its case; a cross-site PATCH is refused as any other write")
    func fetchMetadataCaseAndPatch() async throws {
        try await withLiveApp { client in
            var headers = keyed
            headers[secFetchSite] = "SAME-ORIGIN"
            let sameOrigin = try await client.execute(
                uri: "/api/scores", method: .post, headers: headers, body: scoreBody())
            #expect(sameOrigin.status == .ok)
            headers[secFetchSite] = "Cross-Site"
            let patch = try await client.execute(
                uri: "/api/scores", method: .patch, headers: headers, body: scoreBody())
            #expect(patch.status == .forbidden)
            #expect(try patch.detailMessage() == "Cross-site request blocked")
            var navigation = keyed
            navigation[secFetchMode] = "Navigate"
            let navigate = try await client.execute(uri: "/api/bosses", method: .get, headers: navigation)
            #expect(navigate.status == .forbidden)
        }
    }

    @Test("Where a literal route and a parameter route both match a path, Allow names the literal one's methods")
    func wrongMethodLiteralRouteWins() {
        let router = Router()
        router.post("/api/save_game/{player_name}") { _, _ in Response(status: .ok) }
        router.get("/api/save_game/all") { _, _ in Response(status: .ok) }
        let middleware = WrongMethodMiddleware(routes: router.routes)
        #expect(middleware.methods(forPath: "/api/save_game/all") == [.get, .head])
        #expect(middleware.methods(forPath: "/api/save_game/ann") == [.post])
    }

    @Test("An answer's Vary naming Origin after a tab gets no second Origin")
    func corsVaryOriginAfterATab() async throws {
        let router = Router()
        let policy = CORSPolicy(allowedOrigins: ["http://a.example"], allowAllOrigins: false)
        router.add(middleware: CORSPolicyMiddleware(policy: policy))
        router.get("/") { _, _ in Response(status: .ok, headers: [.vary: "Accept-Encoding,\tOrigin"]) }
        try await Application(router: router).test(.router) { client in
            let answer = try await client.execute(uri: "/", method: .get)
            #expect(answer.headers[values: .vary] == ["Accept-Encoding,\tOrigin"])
        }
    }
}

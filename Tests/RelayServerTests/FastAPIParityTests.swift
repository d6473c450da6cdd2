import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import RelayServer

private let apiKeyHeader = HTTPField.Name("X-API-Key")!

/// What the FastAPI backend answered or accepted, byte for byte where it matters to a client or
/// a developer reading a 422. Expected bodies were taken from FastAPI 0.165 with pydantic 2.13.
@Suite("HTTP answers and inputs as FastAPI's")
struct FastAPIParityTests {
    private func post(
        _ client: any TestClientProtocol, _ body: String, to uri: String = "/api/scores",
        contentType: String? = "application/json"
    ) async throws -> TestResponse {
        var headers: HTTPFields = [apiKeyHeader: testAPIKey]
        if let contentType { headers[.contentType] = contentType }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Starlette adds HEAD to every GET route; uvicorn sends its headers, GET's `content-length`
    /// included, and no body. Before, HEAD got 405 everywhere.
    @Test("HEAD is answered wherever GET is: the same status and headers, no body")
    func headRequests() async throws {
        try await withTemporaryDirectory { images in
            let png = [UInt8](repeating: 7, count: 300)
            try writeSettledImage(Data(png), to: "\(images)/boss_03.png")
            try await withLiveApp(configure: { $0.bossImagesDirectory = images }) { client in
                for (uri, keyed) in [
                    ("/api/rooms", false), ("/api/bosses", true), ("/api/scores/leaderboard", true), ("/", false),
                ] {
                    let headers: HTTPFields = keyed ? [apiKeyHeader: testAPIKey] : [:]
                    let get = try await client.execute(uri: uri, method: .get, headers: headers)
                    let head = try await client.execute(uri: uri, method: .head, headers: headers)
                    #expect(head.status == get.status, "\(uri)")
                    #expect(head.headers[.contentLength] == "\(get.body.readableBytes)", "\(uri)")
                    #expect(head.headers[.contentType] == get.headers[.contentType], "\(uri)")
                    #expect(head.body.readableBytes == 0, "\(uri)")
                }
                let image = try await client.execute(uri: "/api/bosses/images/3", method: .head)
                #expect(image.status == .ok)
                #expect(image.headers[.contentLength] == "300")
                #expect(image.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(image.body.readableBytes == 0)

                let withoutKey = try await client.execute(uri: "/api/bosses", method: .head)
                #expect(withoutKey.status == .forbidden)
                #expect(withoutKey.body.readableBytes == 0)
            }
        }
    }

    /// NIO leaves out the body of any answer to HEAD, errors included: one sent would be read as
    /// the start of the next answer.
    @Test("A HEAD answer leaves a kept-alive connection ready for the next answer")
    func headThenGetOnOneConnection() async throws {
        try await withRelayServer { port, _ in
            let answer = try await rawExchange(
                port: port,
                "HEAD /api/nothing HTTP/1.1\r\nHost: x\r\n\r\nHEAD /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let statusLines = answer.components(separatedBy: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }
            #expect(statusLines == ["HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"], "\(answer)")
            #expect(answer.hasSuffix("\r\n\r\n[]"), "\(answer)")
            #expect(!answer.contains("Not Found\"}"), "the 404's body is not sent: \(answer)")
        }
    }

    @Test("A 422 lists type, loc, msg and input in pydantic's order, the same bytes as FastAPI")
    func issueBytes() async throws {
        try await withLiveApp { client in
            let body =
                #"{"coins":0,"distance":1.5,"enemies_defeated":"1 2","game_mode":"m","level":null,"player_name":7,"score":"7"}"#
            let response = try await self.post(client, body)
            #expect(response.status == .unprocessableContent)
            #expect(
                String(buffer: response.body)
                    == #"{"detail":[{"type":"string_type","loc":["body","player_name"],"msg":"Input should be a valid string","input":7},"#
                    + #"{"type":"int_parsing","loc":["body","enemies_defeated"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"1 2"},"#
                    + #"{"type":"int_from_float","loc":["body","distance"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5},"#
                    + #"{"type":"int_type","loc":["body","level"],"msg":"Input should be a valid integer","input":null}]}"#
            )
        }
    }

    @Test("Every missing field's input is the whole body, also around issues with inputs of their own")
    func severalMissingFields() async throws {
        try await withLiveApp { client in
            let body = #"{"level":-1,"zeta":[1,{"b":2,"a":1}],"alpha":true}"#
            let sorted = #"{"alpha":true,"level":-1,"zeta":[1,{"a":1,"b":2}]}"#
            let response = try await self.post(client, body, to: "/api/save_game")
            #expect(response.status == .unprocessableContent)
            let issues = String(buffer: response.body).components(separatedBy: #"{"type":"#).dropFirst()
            let missing = issues.filter { $0.hasPrefix(#""missing""#) }
            #expect(missing.count >= 3)
            #expect(missing.allSatisfy { $0.contains(#""input":\#(sorted)}"#) }, "\(missing)")
            #expect(issues.contains { $0.contains(#""input":-1,"#) })  // the level's own, in between
        }
    }

    @Test("A missing field's input is the whole body; a rule with parameters names them in ctx")
    func missingAndContext() async throws {
        try await withLiveApp { client in
            let body = #"{"coins":0,"health":0,"level":-1,"lives":0,"player_name":" ","score":0}"#
            let response = try await self.post(client, body, to: "/api/save_game")
            #expect(response.status == .unprocessableContent)
            #expect(
                String(buffer: response.body)
                    == #"{"detail":[{"type":"string_too_short","loc":["body","player_name"],"msg":"String should have at least 1 character","input":" ","ctx":{"min_length":1}},"#
                    + #"{"type":"greater_than_equal","loc":["body","level"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}},"#
                    + #"{"type":"missing","loc":["body","weapon"],"msg":"Field required","input":\#(body)}]}"#)
        }
    }

    @Test("Body integers are taken as FastAPI took them: true, 2.0, numeric strings")
    func laxBodyIntegers() async throws {
        try await withLiveApp { client in
            let body =
                #"{"player_name":"lax","score":true,"coins":" 1_000.0 ","enemies_defeated":"7","distance":false,"level":2.0,"game_mode":"m"}"#
            let response = try await self.post(client, body)
            #expect(response.status == .ok)
            let stored = try response.object()
            #expect(
                ["score", "coins", "enemies_defeated", "distance", "level"].map { stored[$0] as? Int } == [
                    1, 1000, 7, 0, 2,
                ])

            let refused = try await self.post(client, body.replacingOccurrences(of: #""7""#, with: #""7.5""#))
            #expect(try refused.issues().map(\.type) == ["int_parsing"])
        }
    }

    @Test("Query and path integers are read the same way")
    func laxQueryAndPathIntegers() async throws {
        try await withLiveApp { client in
            let leaderboard = try await client.execute(
                uri: "/api/scores/leaderboard?limit=%201_0%20", method: .get, headers: keyed)
            #expect(leaderboard.status == .ok)
            let rank = try await client.execute(uri: "/api/scores/rank/12.0", method: .get, headers: keyed)
            #expect(try rank.object()["score"] as? Int == 12)
            let refused = try await client.execute(uri: "/api/scores/rank/1e3", method: .get, headers: keyed)
            #expect(refused.status == .unprocessableContent)
            #expect(
                String(buffer: refused.body)
                    == #"{"detail":[{"type":"int_parsing","loc":["path","score"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"1e3"}]}"#
            )
        }
    }

    @Test("Only a JSON Content-Type, or none, is read as JSON: a form or text post is not")
    func contentType() async throws {
        try await withLiveApp { client in
            let body = String(buffer: scoreBody(name: "typed"))
            for type in ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json", nil] {
                let response = try await self.post(client, body, contentType: type)
                #expect(response.status == .ok, "\(type ?? "none")")
            }
            // `application/geojson`: a subtype ending in `json` but not `+json` is not JSON to FastAPI;
            // nor is a type with two `/` (`email.message` reads it as `text/plain`).
            let notJSON = [
                "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json",
                "application/geojson", "application/x/+json",
            ]
            for type in notJSON {
                let response = try await self.post(client, #"{"coins":0}"#, contentType: type)
                #expect(response.status == .unprocessableContent, "\(type)")
                #expect(
                    String(buffer: response.body)
                        == #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"{\"coins\":0}"}]}"#,
                    "\(type)")
            }
        }
    }

    /// Starlette reads the first of repeated `Content-Type` lines; joined, as HTTP's field list
    /// reads them, `application/json, application/json` was no media type, and a good body got 422.
    @Test("Of two Content-Type lines the first decides, as in Starlette")
    func repeatedContentType() async throws {
        try await withLiveApp { client in
            for (first, second, expected) in [
                ("application/json", "application/json", HTTPResponse.Status.ok),
                ("application/json", "text/plain", .ok),
                ("text/plain", "application/json", .unprocessableContent),
            ] {
                var headers: HTTPFields = [apiKeyHeader: testAPIKey]
                headers.append(HTTPField(name: .contentType, value: first))
                headers.append(HTTPField(name: .contentType, value: second))
                let response = try await client.execute(
                    uri: "/api/scores", method: .post, headers: headers, body: scoreBody(name: "twice"))
                #expect(response.status == expected, "\(first), \(second)")
            }
            // One line listing two is refused, as FastAPI refuses it.
            let listed = try await self.post(
                client, String(buffer: scoreBody(name: "listed")), contentType: "application/json, application/json")
            #expect(listed.status == .unprocessableContent)
        }
    }

    @Test("A JSON null body is a missing body, as FastAPI answers an empty one; as text it is not an object")
    func nullBody() async throws {
        try await withLiveApp { client in
            for uri in ["/api/scores", "/api/save_game"] {
                for body in ["null", " null\n", ""] {
                    let response = try await self.post(client, body, to: uri)
                    #expect(response.status == .unprocessableContent, "\(uri) \(body)")
                    #expect(
                        String(buffer: response.body)
                            == #"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#,
                        "\(uri) \(body)")
                }
            }
            let text = try await self.post(client, "null", contentType: "text/plain")
            #expect(
                String(buffer: text.body)
                    == #"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"null"}]}"#
            )
        }
    }

    @Test("A UTF-8 byte-order mark before the JSON is skipped, as Python skips it")
    func byteOrderMark() async throws {
        try await withLiveApp { client in
            let response = try await self.post(client, "\u{FEFF}" + String(buffer: scoreBody(name: "marked")))
            #expect(response.status == .ok)
        }
    }

    @Test("Invalid JSON names its offset in characters, not bytes")
    func invalidJSONOffset() async throws {
        try await withLiveApp { client in
            for name in ["e", "é", "日"] {
                let response = try await self.post(client, #"{"player_name":"\#(name)",}"#)
                let issue = try #require((try response.object()["detail"] as? [[String: Any]])?.first)
                #expect(issue["type"] as? String == "json_invalid")
                #expect(issue["loc"] as? [AnyHashable] == ["body", 19], "\(name)")
                #expect((issue["input"] as? [String: Any])?.isEmpty == true)
                #expect((issue["ctx"] as? [String: Any])?["error"] is String)
            }
        }
    }

    @Test("Of two X-API-Key headers the first counts, as in Starlette")
    func firstAPIKeyCounts() async throws {
        try await withLiveApp { client in
            for (keys, status) in [
                ([testAPIKey, "wrong"], HTTPResponse.Status.ok), (["wrong", testAPIKey], .forbidden),
            ] {
                var headers = HTTPFields()
                for key in keys { headers.append(HTTPField(name: apiKeyHeader, value: key)) }
                let response = try await client.execute(uri: "/api/scores/rank/1", method: .get, headers: headers)
                #expect(response.status == status, "\(keys)")
            }
        }
    }

    /// HEAD reads as GET does: it takes nothing from the write budget.
    @Test("HEAD requests are not writes: they leave the write budget whole")
    func headIsNotAWrite() async throws {
        try await withLiveApp(configure: {
            $0.limits.writesPerAddress = .writes(perSecond: 0.001)  // no refill on a slow machine
            $0.limits.writesPerAddress.burst = 1
        }) { client in
            // The test's client is a trusted proxy (loopback), whose own address is not budgeted.
            var headers = keyed
            headers[.xForwardedFor] = "203.0.113.9"
            for _ in 1...3 {
                let head = try await client.execute(uri: "/api/scores/leaderboard", method: .head, headers: headers)
                #expect(head.status == .ok)
            }
            let post = try await client.execute(uri: "/api/scores", method: .post, headers: headers, body: scoreBody())
            #expect(post.status == .ok)
        }
    }
}

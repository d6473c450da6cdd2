import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import RelayServer

@Suite("Request validation")
struct ValidationTests {
    private func post(_ client: any TestClientProtocol, _ uri: String, _ body: ByteBuffer) async throws -> TestResponse
    {
        try await client.execute(uri: uri, method: .post, headers: keyed, body: body)
    }

    @Test("A body that is not JSON, or not an object, is a 422 in FastAPI's shape")
    func unparsableBodies() async throws {
        try await withLiveApp { client in
            let garbage = try await self.post(client, "/api/scores", ByteBuffer(string: "{not json"))
            #expect(garbage.status == .unprocessableContent)
            #expect(try garbage.issues().map(\.type) == ["json_invalid"])

            let array = try await self.post(client, "/api/scores", ByteBuffer(string: "[1,2]"))
            #expect(array.status == .unprocessableContent)
            #expect(try array.issues().map(\.loc) == ["body"])

            let empty = try await self.post(client, "/api/save_game", ByteBuffer())
            #expect(empty.status == .unprocessableContent)
            #expect(try empty.issues().map(\.type) == ["missing"])
        }
    }

    @Test("A string with a run of over 30 combining marks is refused as the JSON decode error it costs")
    func longRunsOfCombiningMarks() async throws {
        try await withLiveApp { client in
            let name = "A" + String(repeating: "\u{0301}", count: 2_000) + String(repeating: "\u{0316}", count: 2_000)
            let response = try await self.post(
                client, "/api/save_game", ByteBuffer(string: #"{"player_name":"\#(name)"}"#))
            #expect(response.status == .unprocessableContent)
            let issue = try #require(try (response.object()["detail"] as? [[String: Any]])?.first)
            #expect(issue["type"] as? String == "json_invalid")
            #expect((issue["ctx"] as? [String: Any])?["error"] as? String == "more than 30 combining marks in a row")
        }
    }

    @Test("Every missing or mistyped field is listed")
    func fieldIssues() async throws {
        try await withLiveApp { client in
            let body = jsonBody(["player_name": 7, "score": "high", "coins": 1.5, "level": [1], "game_mode": "x"])
            let response = try await self.post(client, "/api/scores", body)
            #expect(response.status == .unprocessableContent)
            let issues = try response.issues()
            #expect(
                issues.map(\.loc) == [
                    "body.player_name", "body.score", "body.coins", "body.enemies_defeated", "body.distance",
                    "body.level",
                ])
            #expect(
                issues.map(\.type) == [
                    "string_type", "int_parsing", "int_from_float", "missing", "missing", "int_type",
                ])
        }
    }

    @Test("Each 422 issue carries FastAPI's msg beside loc and type")
    func issueMessages() async throws {
        try await withLiveApp { client in
            let response = try await self.post(client, "/api/save_game", jsonBody(["player_name": 7, "level": "x"]))
            #expect(response.status == .unprocessableContent)
            let detail = try #require(try response.object()["detail"] as? [[String: Any]])
            #expect(
                detail.map { $0["msg"] as? String } == [
                    "Input should be a valid string",
                    "Input should be a valid integer, unable to parse string as an integer",
                    "Field required", "Field required", "Field required", "Field required", "Field required",
                ])
        }
    }

    @Test("Integral floats are accepted as integers")
    func integralFloats() async throws {
        try await withLiveApp { client in
            let response = try await self.post(client, "/api/scores", scoreBody(extra: ["score": 250.0]))
            #expect(response.status == .ok)
            #expect(try response.object()["score"] as? Int == 250)
        }
    }

    @Test(
        "The stricter rules: names, counters, game_mode, 64-bit range",
        arguments: [
            ("player_name", "   "), ("player_name", String(repeating: "n", count: 33)),
            ("game_mode", ""), ("game_mode", String(repeating: "m", count: 33)),
            ("score", "-1"), ("coins", "-5"), ("distance", "-1"), ("enemies_defeated", "-2"), ("level", "-1"),
            ("score", "9223372036854775808"), ("score", "1e30"),
        ])
    func stricterRules(field: String, value: String) async throws {
        try await withLiveApp { client in
            var fields: [String: String] = [
                "player_name": "\"ok\"", "score": "1", "coins": "1", "enemies_defeated": "1", "distance": "1",
                "level": "1", "game_mode": "\"endless\"",
            ]
            fields[field] = Int64(value) != nil || Double(value) != nil ? value : "\"\(value)\""
            let json = "{" + fields.map { "\"\($0)\":\($1)" }.joined(separator: ",") + "}"
            let response = try await self.post(client, "/api/scores", ByteBuffer(string: json))
            #expect(response.status == .unprocessableContent, "\(json)")
            #expect(try response.issues().map(\.loc) == ["body.\(field)"])
            if ["9223372036854775808", "1e30"].contains(value) {
                #expect(try response.issues().map(\.type) == ["int_out_of_range"])
            }
        }
    }

    @Test("An integer past 64 bits is refused in the model's words, its input echoed as the nearest double")
    func integerPast64BitsBody() async throws {
        try await withLiveApp { client in
            let json =
                #"{"player_name":"ok","score":9223372036854775808,"coins":1,"enemies_defeated":1,"distance":1,"#
                + #""level":1,"game_mode":"endless"}"#
            let response = try await self.post(client, "/api/scores", ByteBuffer(string: json))
            #expect(response.status == .unprocessableContent)
            #expect(
                String(buffer: response.body)
                    == #"{"detail":[{"type":"int_out_of_range","loc":["body","score"],"#
                    + #""msg":"Input should be an integer between -9223372036854775808 and 9223372036854775807","#
                    + #""input":9.223372036854776e+18}]}"#)
        }
    }

    @Test("A lone surrogate escape in a body is invalid JSON, and nothing is stored")
    func loneSurrogateInABody() async throws {
        try await withLiveApp { client in
            let json =
                #"{"player_name":"\ud800","score":1,"coins":1,"enemies_defeated":1,"distance":1,"level":1,"#
                + #""game_mode":"endless"}"#
            let response = try await self.post(client, "/api/scores", ByteBuffer(string: json))
            #expect(response.status == .unprocessableContent)
            #expect(try response.issues().map(\.type) == ["json_invalid"])
            let board = try await client.execute(uri: "/api/scores/leaderboard", method: .get, headers: keyed)
            #expect(String(buffer: board.body) == "[]")
        }
    }

    @Test("On both routes a 32-character name is accepted, a 33-character one is not")
    func nameLengthBoundary() async throws {
        try await withLiveApp { client in
            // Characters, not bytes: "é" is two bytes in UTF-8.
            let (fits, tooLong) = (String(repeating: "é", count: 32), String(repeating: "é", count: 33))
            let routes: [(String, (String) -> ByteBuffer)] = [
                ("/api/scores", { scoreBody(name: $0) }), ("/api/save_game", { saveBody(name: $0) }),
            ]
            for (uri, body) in routes {
                let ok = try await self.post(client, uri, body(fits))
                #expect(ok.status == .ok, "\(uri)")
                let long = try await self.post(client, uri, body(tooLong))
                #expect(long.status == .unprocessableContent, "\(uri)")
                #expect(try long.issues().map(\.loc) == ["body.player_name"], "\(uri)")
            }
        }
    }

    @Test("A game cannot be saved under a name a browser cannot put in a path (. and ..); ... can")
    func dotSegmentNames() async throws {
        try await withLiveApp { client in
            for name in [".", "..", " .. "] {
                let refused = try await self.post(client, "/api/save_game", saveBody(name: name))
                #expect(refused.status == .unprocessableContent, "\(name)")
                #expect(try refused.issues().map(\.loc) == ["body.player_name"], "\(name)")
                #expect(try refused.issues().map(\.type) == ["value_error"], "\(name)")
            }
            // Listed in the field's place, before a later field's issue, as pydantic lists it.
            var fields: [String: Any] = [
                "player_name": ".", "level": "x", "score": 0, "lives": 0, "health": 0, "coins": 0, "weapon": "laser",
            ]
            let both = try await self.post(client, "/api/save_game", jsonBody(fields))
            #expect(try both.issues().map(\.loc) == ["body.player_name", "body.level"])
            fields["player_name"] = "a"
            #expect(
                try await self.post(client, "/api/save_game", jsonBody(fields)).issues().map(\.loc) == ["body.level"])
            let stored = try await client.execute(uri: "/api/load_game/%2E%2E", method: .get, headers: keyed)
            #expect(String(buffer: stored.body) == "null", "nothing was saved")
            // Not a dot segment: saved, loaded and deleted as any other name.
            #expect(try await self.post(client, "/api/save_game", saveBody(name: "...")).status == .ok)
            let loaded = try await client.execute(uri: "/api/load_game/...", method: .get, headers: keyed)
            #expect(String(buffer: loaded.body).contains(#""player_name":"...""#))
            let deleted = try await client.execute(uri: "/api/save_game/...", method: .delete, headers: keyed)
            #expect(deleted.status == .ok)
        }
    }

    @Test("Lengths count code points, as pydantic does: one letter with 40 combining accents is over 32")
    func lengthsCountCodePoints() async throws {
        try await withLiveApp { client in
            // One character of 42 code points: a combining grapheme joiner keeps each run within 30.
            let accents = String(repeating: "\u{0301}", count: 20)
            let stacked = "e" + accents + "\u{034F}" + accents
            for (uri, body) in [("/api/scores", scoreBody(name: stacked)), ("/api/save_game", saveBody(name: stacked))]
            {
                let refused = try await self.post(client, uri, body)
                #expect(refused.status == .unprocessableContent, "\(uri)")
                #expect(try refused.issues().map(\.loc) == ["body.player_name"], "\(uri)")
            }
        }
    }

    @Test(
        "Saved games: each negative counter is refused, zero is not",
        arguments: ["level", "score", "lives", "health", "coins"])
    func savedGameNegativeCounter(field: String) async throws {
        try await withLiveApp { client in
            var fields: [String: Any] = [
                "player_name": "a", "level": 0, "score": 0, "lives": 0, "health": 0, "coins": 0, "weapon": "laser",
            ]
            let zero = try await self.post(client, "/api/save_game", jsonBody(fields))
            #expect(zero.status == .ok)
            fields[field] = -1
            let negative = try await self.post(client, "/api/save_game", jsonBody(fields))
            #expect(negative.status == .unprocessableContent)
            #expect(try negative.issues().map(\.loc) == ["body.\(field)"])
            #expect(try negative.issues().map(\.type) == ["greater_than_equal"])
        }
    }

    @Test("Saved games: a negative level and a missing weapon are both listed")
    func savedGameIssues() async throws {
        try await withLiveApp { client in
            let body = jsonBody(["player_name": "a", "level": -1, "score": 0, "lives": 0, "health": 0, "coins": 0])
            let response = try await self.post(client, "/api/save_game", body)
            #expect(response.status == .unprocessableContent)
            #expect(try response.issues().map(\.loc) == ["body.level", "body.weapon"])
        }
    }

    @Test("Bodies over the limit get 413 JSON, and nothing is stored")
    func oversizedBody() async throws {
        try await withLiveApp { client in
            let huge = scoreBody(name: "big", extra: ["padding": String(repeating: "x", count: 20_000)])
            let response = try await self.post(client, "/api/scores", huge)
            #expect(response.status == .contentTooLarge)
            #expect(try response.detailMessage()?.contains("too large") == true)
            let best = try await client.execute(uri: "/api/scores/player/big", method: .get, headers: keyed)
            #expect(best.status == .notFound)
        }
    }

    /// The cap is on bodies over 16 KiB, not of 16 KiB: a declared length equal to it is read,
    /// and the score in it stored, as a client padding to the cap expects.
    @Test("A body of exactly the limit (16 KiB) is accepted; one byte more gets 413")
    func bodyOfExactlyTheLimit() async throws {
        try await withLiveApp { client in
            let limit = 16 * 1024
            let score = String(buffer: scoreBody(name: "exact"))
            let exact = score + String(repeating: " ", count: limit - score.utf8.count)
            let response = try await self.post(client, "/api/scores", ByteBuffer(string: exact))
            #expect(response.status == .ok)
            #expect(try response.object()["player_name"] as? String == "exact")
            let over = try await self.post(client, "/api/scores", ByteBuffer(string: exact + " "))
            #expect(over.status == .contentTooLarge)
        }
    }

    @Test("Unknown routes answer a JSON 404")
    func unknownRoute() async throws {
        try await withLiveApp { client in
            let response = try await client.execute(uri: "/api/nothing-here", method: .get, headers: keyed)
            #expect(response.status == .notFound)
            #expect(try response.detailMessage() == "Not Found")
        }
    }
}

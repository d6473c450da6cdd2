import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SeededRandom
import Testing

@testable import RelayServer

/// Random HTTP requests against the live server and its SQLite file, checked against a model
/// of what the API promises (PROTOCOL.md §1): scores submitted, saved games saved and deleted,
/// and every read (leaderboard, personal best, rank, load) answered from what was accepted.
/// Bad bodies, bad queries, wrong methods and missing keys get their documented status; no
/// answer is a 5xx, every answer is JSON with the security headers.
@Suite("HTTP API under random requests")
struct RandomRequestsTests {
    @Test(arguments: [20_261_130, 5] as [UInt64])
    func randomRequestsMatchTheModel(seed: UInt64) async throws {
        try await withLiveApp { client in
            var session = RandomAPISession(seed: seed)
            for step in 0..<400 {
                let request = session.nextRequest()
                let response = try await client.execute(
                    uri: request.uri, method: request.method, headers: request.headers, body: request.body)
                try session.check(response, for: request, context: "seed \(seed), step \(step): \(request)")
            }
            // Everything accepted is still there, read back in one go.
            for name in RandomAPISession.names {
                let request = session.load(name)
                let response = try await client.execute(
                    uri: request.uri, method: request.method, headers: request.headers)
                try session.check(response, for: request, context: "seed \(seed), final load of \(name)")
            }
            #expect(session.accepted > 100, "seed \(seed): the generator should mostly send valid requests")
        }
    }
}

/// One request and what the model says about it.
struct APIRequest: CustomStringConvertible {
    var method: HTTPRequest.Method
    var uri: String
    var headers: HTTPFields = keyed
    var body: ByteBuffer?
    var expectation: Expectation

    enum Expectation {
        case status(HTTPResponse.Status)
        case scoreStored(ScoreRow)
        case gameSaved(name: String, fields: [String: Any])
        case gameDeleted(name: String)
        case loaded(name: String)
        case personalBest(name: String)
        case rank(score: Int, mode: String?)
        case leaderboard(limit: Int, mode: String?)
    }

    var description: String {
        "\(self.method) \(self.uri) \(self.body.map { String(buffer: $0).prefix(200) } ?? "")"
    }
}

/// A stored score as the model keeps it; `order` breaks ties (the earlier ranks first).
struct ScoreRow {
    var fields: [String: Any]
    var order: Int
    var name: String { self.fields["player_name"] as! String }
    var score: Int { self.fields["score"] as! Int }
    var mode: String { self.fields["game_mode"] as! String }
}

struct RandomAPISession {
    /// Names the server stores as sent (no surrounding spaces): path-unsafe ones included.
    static let names = ["alice", "bob", "名前", "a/b", "a b", "x%y?", String(repeating: "z", count: 32)]
    static let modes = ["endless", "levels", "online_coop"]
    static let counters = ["score", "coins", "enemies_defeated", "distance", "level"]
    static let savedCounters = ["level", "score", "lives", "health", "coins"]

    private var random: SplitMix64
    private var scores: [ScoreRow] = []
    private var saves: [String: [String: Any]] = [:]
    /// Requests the server accepted (2xx).
    private(set) var accepted = 0

    init(seed: UInt64) { self.random = SplitMix64(seed: seed) }

    private mutating func index(_ count: Int) -> Int { Int(self.random.next() % UInt64(count)) }
    private mutating func chance(_ percent: UInt64) -> Bool { self.random.next() % 100 < percent }
    private mutating func pick<T>(_ items: [T]) -> T { items[self.index(items.count)] }

    mutating func nextRequest() -> APIRequest {
        switch self.index(20) {
        case 0..<5: return self.submitScore()
        case 5..<8: return self.saveGame()
        case 8:
            let name = self.pick(Self.names)
            return APIRequest(
                method: .delete, uri: "/api/save_game/\(pathSegment(name))", expectation: .gameDeleted(name: name))
        case 9..<11: return self.load(self.pick(Self.names))
        case 11..<13:
            let name = self.chance(90) ? self.pick(Self.names) : "nobody"
            return APIRequest(
                method: .get, uri: "/api/scores/player/\(pathSegment(name))", expectation: .personalBest(name: name))
        case 13..<15: return self.rank()
        case 15..<18: return self.leaderboard()
        default: return self.refused()
        }
    }

    func load(_ name: String) -> APIRequest {
        APIRequest(method: .get, uri: "/api/load_game/\(pathSegment(name))", expectation: .loaded(name: name))
    }

    private mutating func submitScore() -> APIRequest {
        var fields: [String: Any] = ["player_name": self.pick(Self.names), "game_mode": self.pick(Self.modes)]
        for key in Self.counters { fields[key] = self.index(1_000) }
        let row = ScoreRow(fields: fields, order: self.scores.count)
        guard self.chance(30) else {
            return APIRequest(method: .post, uri: "/api/scores", body: jsonBody(fields), expectation: .scoreStored(row))
        }
        let (body, status) = self.spoiled(fields, counters: Self.counters, texts: ["player_name": 32, "game_mode": 32])
        return APIRequest(method: .post, uri: "/api/scores", body: body, expectation: .status(status))
    }

    private mutating func saveGame() -> APIRequest {
        let name = self.pick(Self.names)
        var fields: [String: Any] = ["player_name": name, "weapon": self.pick(["laser", "sword", "raygun"])]
        for key in Self.savedCounters { fields[key] = self.index(100) }
        guard self.chance(30) else {
            return APIRequest(
                method: .post, uri: "/api/save_game", body: jsonBody(fields),
                expectation: .gameSaved(name: name, fields: fields))
        }
        let (body, status) = self.spoiled(
            fields, counters: Self.savedCounters, texts: ["player_name": 32, "weapon": 64])
        return APIRequest(method: .post, uri: "/api/save_game", body: body, expectation: .status(status))
    }

    /// A body made wrong in one of the ways PROTOCOL.md names, and the status it must get.
    private mutating func spoiled(
        _ fields: [String: Any], counters: [String], texts: [String: Int]
    )
        -> (ByteBuffer, HTTPResponse.Status)
    {
        var fields = fields
        switch self.index(7) {
        case 0: fields[self.pick(Array(fields.keys).sorted())] = nil  // a field missing
        case 1: fields[self.pick(counters)] = self.pick(["12.5", "1e3", "twelve"])  // text no integer ("12" would do)
        case 2: fields[self.pick(counters)] = -1 - self.index(5)  // a negative counter
        case 3: fields[self.pick(Array(texts.keys).sorted())] = self.pick(["", "   ", 7])  // empty, blank, not text
        case 4:
            let (key, limit) = self.pick(texts.sorted { $0.key < $1.key })
            fields[key] = String(repeating: "n", count: limit + 1)  // too long
        case 5: return (ByteBuffer(string: self.pick(["{", "[]", "null", "\"x\"", ""])), .unprocessableContent)
        default:
            fields["padding"] = String(repeating: "p", count: 20_000)
            return (jsonBody(fields), .contentTooLarge)
        }
        return (jsonBody(fields), .unprocessableContent)
    }

    private mutating func rank() -> APIRequest {
        let mode = self.chance(50) ? self.pick(Self.modes) : nil
        let query = mode.map { "?game_mode=\($0)" } ?? ""
        guard self.chance(90) else {
            return APIRequest(
                method: .get, uri: "/api/scores/rank/\(self.pick(["abc", "1.5", "9999999999999999999999"]))",
                expectation: .status(.unprocessableContent))
        }
        let score = self.index(1_100)
        return APIRequest(
            method: .get, uri: "/api/scores/rank/\(score)\(query)", expectation: .rank(score: score, mode: mode))
    }

    private mutating func leaderboard() -> APIRequest {
        let mode = self.chance(40) ? self.pick(Self.modes) : nil
        var query = mode.map { ["game_mode=\($0)"] } ?? []
        var limit = 10
        switch self.index(5) {
        case 0: break  // the default
        case 1:
            query.append("limit=\(self.pick(["abc", "1e3", "2.5", ""]))")  // FastAPI refuses an empty one too
            return APIRequest(
                method: .get, uri: "/api/scores/leaderboard?" + query.joined(separator: "&"),
                expectation: .status(.unprocessableContent))
        default:
            let requested = self.pick([-5, 0, 1, 3, 10, 25, 100, 101, 5_000])
            query.append("limit=\(requested)")
            limit = min(max(requested, 1), 100)
        }
        let uri = "/api/scores/leaderboard" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        return APIRequest(method: .get, uri: uri, expectation: .leaderboard(limit: limit, mode: mode))
    }

    /// Requests the server must refuse whatever its data: no key, a wrong key, a wrong method, no such route.
    private mutating func refused() -> APIRequest {
        switch self.index(4) {
        case 0: APIRequest(method: .get, uri: "/api/bosses", headers: [:], expectation: .status(.forbidden))
        case 1:
            APIRequest(
                method: .post, uri: "/api/scores", headers: [.init("X-API-Key")!: "guess"], body: jsonBody([:]),
                expectation: .status(.forbidden))
        case 2: APIRequest(method: .put, uri: "/api/scores", expectation: .status(.methodNotAllowed))
        default:
            APIRequest(
                method: .get, uri: "/api/\(self.pick(["score", "bosses/99/x", "nothing"]))",
                expectation: .status(.notFound))
        }
    }

    /// Checks `response` against the model, and records what the server accepted.
    mutating func check(_ response: TestResponse, for request: APIRequest, context: String) throws {
        let comment = Comment(rawValue: "\(context) → \(response.status) \(String(buffer: response.body).prefix(300))")
        #expect(response.status.code < 500, comment)
        #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff", comment)
        let body = try #require(try? response.body.json(), comment)  // every answer is JSON
        if (200..<300).contains(response.status.code) { self.accepted += 1 }

        switch request.expectation {
        case .status(let status):
            #expect(response.status == status, comment)
            if status == .forbidden {
                #expect((body as? [String: Any])?["detail"] as? String == "Invalid or missing API key", comment)
            }
        case .scoreStored(let row):
            try #require(response.status == .ok, comment)
            let stored = try #require(body as? [String: Any], comment)
            for (key, value) in row.fields { #expect("\(stored[key] ?? "nil")" == "\(value)", comment) }
            #expect(stored["id"] is Int && stored["created_at"] is String && stored["rank"] is NSNull, comment)
            self.scores.append(row)
        case .gameSaved(let name, let fields):
            #expect(response.status == .ok, comment)
            #expect((body as? [String: Any])?["message"] as? String == "Game saved successfully", comment)
            if response.status == .ok { self.saves[name] = fields }
        case .gameDeleted(let name):
            #expect(response.status == .ok, comment)
            #expect((body as? [String: Any])?["message"] as? String == "Save game deleted successfully", comment)
            self.saves[name] = nil
        case .loaded(let name):
            #expect(response.status == .ok, comment)
            guard let expected = self.saves[name] else {
                #expect(body is NSNull, comment)
                return
            }
            let loaded = try #require(body as? [String: Any], comment)
            for (key, value) in expected { #expect("\(loaded[key] ?? "nil")" == "\(value)", comment) }
        case .personalBest(let name):
            let best = self.scores.filter { $0.name == name }.map(\.score).max()
            guard let best else {
                #expect(response.status == .notFound, comment)
                #expect((body as? [String: Any])?["detail"] as? String == "Player not found", comment)
                return
            }
            #expect(response.status == .ok, comment)
            #expect((body as? [String: Any])?["score"] as? Int == best, comment)
            #expect((body as? [String: Any])?["player_name"] as? String == name, comment)
        case .rank(let score, let mode):
            let higher = self.scores.filter { $0.score > score && (mode == nil || $0.mode == mode) }.count
            #expect(response.status == .ok, comment)
            #expect((body as? [String: Any])?["rank"] as? Int == higher + 1, comment)
            #expect((body as? [String: Any])?["score"] as? Int == score, comment)
        case .leaderboard(let limit, let mode):
            let expected = self.scores.filter { mode == nil || $0.mode == mode }
                .sorted { ($0.score, -$0.order) > ($1.score, -$1.order) }.prefix(limit)
            #expect(response.status == .ok, comment)
            let rows = try #require(body as? [[String: Any]], comment)
            #expect(rows.map { $0["score"] as? Int } == expected.map(\.score), comment)
            #expect(rows.map { $0["player_name"] as? String } == expected.map(\.name), comment)
            #expect(rows.map { $0["rank"] as? Int } == rows.indices.map { $0 + 1 }, comment)
        }
    }
}

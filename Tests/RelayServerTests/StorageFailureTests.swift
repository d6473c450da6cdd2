import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Persistence
import Testing

@testable import RelayServer

/// A store double whose every call fails with `error`.
private struct FailingStore: ScoreStore, SavedGameStore, BossCatalog {
    let error: any Error & Sendable

    func submit(_ score: ScoreSubmission) async throws -> StoredScore { throw self.error }
    func leaderboard(limit: Int, gameMode: String?) async throws -> [StoredScore] { throw self.error }
    func personalBest(playerName: String) async throws -> StoredScore? { throw self.error }
    func rank(of score: Int64, gameMode: String?) async throws -> Int { throw self.error }
    func save(_ game: SavedGame) async throws { throw self.error }
    func load(playerName: String) async throws -> SavedGame? { throw self.error }
    func delete(playerName: String) async throws { throw self.error }
    func bosses() async throws -> [Boss] { throw self.error }
}

/// An error whose text names the database's internals, as an unexpected one from a store might.
private struct LeakyStoreError: Error, CustomStringConvertible {
    var description: String { "SQLITE_IOERR: INSERT INTO scores failed" }
}

@Suite("Storage failures become clear JSON errors")
struct StorageFailureTests {
    @Test(
        "Overload, shutdown, a full disk and another process's lock are 503; other failures a 500 without internals",
        arguments: [
            (PersistenceError.overloaded, 503, "Server busy, try again shortly"),
            (PersistenceError.shuttingDown, 503, "Server busy, try again shortly"),
            (PersistenceError.locked, 503, "Server busy, try again shortly"),
            (PersistenceError.readUnavailable, 503, "Server busy, try again shortly"),
            (PersistenceError.diskFull, 503, "Storage full, nothing was saved"),
            (PersistenceError.diskFullAfterWriting, 503, "Storage full, this write may or may not have been saved"),
            (PersistenceError.storageFailure, 500, "Internal server error"),
            (LeakyStoreError(), 500, "Internal server error"),
            // Hummingbird's own errors, as its helpers would throw them from a route: a 404 is the
            // router's "no route", a 400 bad input, and any other a fault of ours, never a 404.
            (HTTPError(.notFound), 404, "Not Found"),
            (HTTPError(.badRequest), 400, "Invalid HTTP request"),
            (HTTPError(.conflict), 500, "Internal server error"),
        ] as [(any Error & Sendable, Int, String)])
    func storageErrors(error: any Error & Sendable, status: Int, detail: String) async throws {
        let store = FailingStore(error: error)
        try await withLiveApp(scores: store, savedGames: store, bosses: store) { client in
            let requests: [(String, HTTPRequest.Method, ByteBuffer?)] = [
                ("/api/scores", .post, scoreBody()), ("/api/scores/leaderboard", .get, nil),
                ("/api/scores/player/a", .get, nil), ("/api/scores/rank/1", .get, nil),
                ("/api/save_game", .post, saveBody()), ("/api/load_game/a", .get, nil),
                ("/api/save_game/a", .delete, nil), ("/api/bosses", .get, nil),
            ]
            for (uri, method, body) in requests {
                let response = try await client.execute(uri: uri, method: method, headers: keyed, body: body)
                #expect(response.status.code == status, "\(uri)")
                #expect(try response.detailMessage() == detail, "\(uri)")
                // Busy is for a moment; a full disk or a fault has no time to try again at.
                let busy = detail == "Server busy, try again shortly"
                #expect(response.headers[.retryAfter] == (busy ? "1" : nil), "\(uri)")
            }
        }
    }
}

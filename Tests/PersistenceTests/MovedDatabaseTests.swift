import Foundation
import Testing

@testable import Persistence

/// The database file deleted or replaced under a running store (an operator's mistake).
@Suite("A database file moved away while the store runs")
struct MovedDatabaseTests {
    @Test(
        "Writes are refused, not acknowledged into a file nobody opens again",
        arguments: ["deleted", "replaced by a rename"])
    func writesAfterTheFileMovedAreRefused(_ how: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                #expect(try await store.submit(submission("before", 1)).submission.score == 1)
                if how == "deleted" {
                    try FileManager.default.removeItem(atPath: path)
                } else {
                    let other = databasePath(in: directory, "restored.db")
                    try Data().write(to: URL(fileURLWithPath: other))
                    #expect(rename(other, path) == 0)
                }
                await #expect(throws: PersistenceError.storageFailure) { try await store.submit(submission("after", 2)) }
                await #expect(throws: PersistenceError.storageFailure) { try await store.save(SavedGame(playerName: "a", level: 1, score: 1, lives: 1, health: 1, coins: 1, weapon: "w")) }
            }
        }
    }
}

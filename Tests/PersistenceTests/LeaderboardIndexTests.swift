import SeededRandom
import Testing

@testable import Persistence

private func row(_ id: Int64, _ score: Int64, mode: String = "classic") -> StoredScore {
    StoredScore(id: id, submission: submission("p\(id)", score, mode: mode), createdAt: "2026-01-01 00:00:00")
}

/// What `ORDER BY score DESC, id ASC LIMIT limit` returns, written out by brute force.
private func expectedBoard(_ rows: [StoredScore], limit: Int, mode: String?) -> [StoredScore] {
    let inMode = rows.filter { mode == nil || Array($0.submission.gameMode.utf8) == Array(mode!.utf8) }
    let sorted = inMode.sorted {
        $0.submission.score != $1.submission.score ? $0.submission.score > $1.submission.score : $0.id < $1.id
    }
    return Array(sorted.prefix(limit))
}

@Suite("LeaderboardIndex")
struct LeaderboardIndexTests {
    @Test(arguments: [0, 1, 5, 64])
    func boundedLeaderboardKeepsTheBestInOrder(capacity: Int) {
        var generator = SplitMix64(seed: UInt64(capacity) + 1)
        // Few distinct scores, so most comparisons are ties broken by id.
        let rows = (1...400).map { row(Int64($0), Int64.random(in: -5...20, using: &generator)) }
        var board = BoundedLeaderboard<StoredScore>(capacity: capacity)
        for row in rows.shuffled(using: &generator) { board.offer(row) }
        #expect(board.entries == expectedBoard(rows, limit: capacity, mode: nil))
    }

    @Test func answersFromMemoryOnlyWithinItsLength() {
        let index = LeaderboardIndex(length: 3)
        index.add([row(1, 10), row(2, 30), row(3, 20), row(4, 30, mode: "hardcore")])
        #expect(index.leaderboard(limit: 3, gameMode: nil)?.map(\.id) == [2, 4, 3])
        #expect(index.leaderboard(limit: 0, gameMode: nil) == [])
        #expect(index.leaderboard(limit: 2, gameMode: "classic")?.map(\.id) == [2, 3])
        #expect(index.leaderboard(limit: 3, gameMode: "nobody-plays-this") == [])
        // SQLite's answer is needed beyond the length and for a negative (unbounded) limit.
        #expect(index.leaderboard(limit: 4, gameMode: nil) == nil)
        #expect(index.leaderboard(limit: -1, gameMode: "classic") == nil)
    }

    @Test func gameModesAreComparedByteForByte() {
        let index = LeaderboardIndex(length: 5)
        index.add([row(1, 10, mode: "\u{E9}cole"), row(2, 20, mode: "e\u{301}cole")])
        #expect(index.leaderboard(limit: 5, gameMode: "\u{E9}cole")?.map(\.id) == [1])
        #expect(index.leaderboard(limit: 5, gameMode: "e\u{301}cole")?.map(\.id) == [2])
    }

    @Test func startUpSelectionThenLoadEqualsAddingEveryRow() {
        var generator = SplitMix64(seed: 42)
        let modes = ["classic", "hardcore", "\u{E9}cole", "e\u{301}cole"]
        let rows = (1...2_000).map {
            row(Int64($0), Int64.random(in: 0...300, using: &generator), mode: modes.randomElement(using: &generator)!)
        }
        let length = 25
        let positionsByMode = Dictionary(grouping: rows.shuffled(using: &generator)) {
            GameModeKey($0.submission.gameMode)
        }.mapValues { $0.map(\.position) }
        let held = GameModesInMemory(capacity: .max)
        held.load(rowCounts: positionsByMode.mapValues(\.count))
        let ids = LeaderboardIndex.rowIDsToLoad(from: positionsByMode, length: length, modes: held)
        #expect(ids.count == length * modes.count)  // every mode has more rows than the length

        let loaded = LeaderboardIndex(length: length)
        loaded.add([row(9_999, 1_000_000)])  // replaced by the load
        loaded.load(rows.filter { ids.contains($0.id) })
        for mode in [nil] + modes as [String?] {
            for limit in 0...length {
                let expected = expectedBoard(rows, limit: limit, mode: mode)
                #expect(loaded.leaderboard(limit: limit, gameMode: mode) == expected)
            }
        }
    }
}

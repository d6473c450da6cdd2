import SeededRandom
import Testing

@testable import Persistence

@Suite("ScoreGroupingByMode")
struct ScoreGroupingByModeTests {
    /// A few modes (compared by a linear search) and many (through the dictionary).
    @Test(arguments: [1, 6, 40])
    func groupsByTheExactBytesOfTheMode(plainModes: Int) {
        var generator = SplitMix64(seed: UInt64(plainModes))
        let modes = (0..<plainModes).map { "mode\($0)" } + ["\u{E9}cole", "e\u{301}cole", ""]
        let rows = (1...3_000).map { id in
            (
                mode: modes.randomElement(using: &generator)!,
                position: LeaderboardPosition(score: Int64.random(in: 0...9, using: &generator), id: Int64(id))
            )
        }
        var grouping = ScoreGroupingByMode()
        for row in rows {
            var mode = row.mode
            mode.withUTF8 { grouping.append(row.position, modeBytes: $0) }
        }
        let expected = Dictionary(grouping: rows) { GameModeKey($0.mode) }.mapValues { $0.map(\.position) }
        #expect(grouping.groups == expected)
        #expect(grouping.groups.count == modes.count)
    }

    /// Two invalid byte strings decode to the same `String`: each keeps its one entry however
    /// their rows alternate (once past the linear search), and their rows group together.
    @Test func invalidModesThatDecodeAlikeKeepOneEntryEach() {
        var grouping = ScoreGroupingByMode()
        for id in 1...9 {
            var mode = "mode\(id)"
            mode.withUTF8 { grouping.append(LeaderboardPosition(score: 1, id: Int64(id)), modeBytes: $0) }
        }
        for id in 10..<2_010 {
            let bytes: [UInt8] = id.isMultiple(of: 2) ? [0xFF] : [0xFE]
            bytes.withUnsafeBufferPointer {
                grouping.append(LeaderboardPosition(score: 2, id: Int64(id)), modeBytes: $0)
            }
        }
        #expect(grouping.distinctModes == 11)
        let groups = grouping.groups
        #expect(groups.count == 10)
        #expect(groups[GameModeKey("\u{FFFD}")]?.count == 2_000)
        #expect(groups[GameModeKey("mode3")] == [LeaderboardPosition(score: 1, id: 3)])
    }
}

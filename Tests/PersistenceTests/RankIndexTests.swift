import SeededRandom
import Testing

@testable import Persistence

@Suite("RankIndex")
struct RankIndexTests {
    private static let rows: [(mode: String, score: Int64)] = [
        ("classic", 100), ("classic", 300), ("classic", 300), ("classic", -5),
        ("hardcore", 250), ("hardcore", 100), ("hardcore", .max),
        ("speedrun", .min),
    ]

    private static func expectedRank(of score: Int64, mode: String?, in rows: [(mode: String, score: Int64)]) -> Int {
        1 + rows.filter { (mode == nil || $0.mode == mode) && $0.score > score }.count
    }

    private static let probes: [Int64] = [.min, -6, -5, 0, 99, 100, 101, 249, 250, 299, 300, 301, .max - 1, .max]

    @Test func perModeAndAllModeRanksAfterAdd() {
        let index = RankIndex()
        index.add(Self.rows.map { submission("p", $0.score, mode: $0.mode) })
        for mode in [nil, "classic", "hardcore", "speedrun"] as [String?] {
            for probe in Self.probes {
                #expect(
                    index.rank(of: probe, gameMode: mode) == Self.expectedRank(of: probe, mode: mode, in: Self.rows),
                    "rank of \(probe) in \(mode ?? "all modes")"
                )
            }
        }
        // Spot checks written out by hand.
        #expect(index.rank(of: 100, gameMode: "classic") == 3)  // 300, 300
        #expect(index.rank(of: 100, gameMode: "hardcore") == 3)  // max, 250
        #expect(index.rank(of: 100, gameMode: nil) == 5)  // 300, 300, 250, max
        #expect(index.rank(of: .min, gameMode: nil) == 8)
    }

    @Test func unknownModeRanksFirst() {
        let index = RankIndex()
        #expect(index.rank(of: 0, gameMode: "nobody-plays-this") == 1)
        index.add(Self.rows.map { submission("p", $0.score, mode: $0.mode) })
        for probe in Self.probes {
            #expect(index.rank(of: probe, gameMode: "nobody-plays-this") == 1)
        }
        // …and asking does not disturb the real modes.
        #expect(index.rank(of: .min, gameMode: nil) == 8)
    }

    /// As SQL's `game_mode = ?`: canonically equivalent spellings are different modes.
    @Test func gameModesAreComparedByteForByte() {
        let index = RankIndex()
        index.add([submission("p", 10, mode: "\u{E9}cole"), submission("p", 20, mode: "e\u{301}cole")])
        #expect(index.rank(of: 0, gameMode: "\u{E9}cole") == 2)
        #expect(index.rank(of: 0, gameMode: "e\u{301}cole") == 2)
        #expect(index.rank(of: 0, gameMode: nil) == 3)
        index.load([(mode: "\u{E9}cole", score: 5), (mode: "e\u{301}cole", score: 6), (mode: "e\u{301}cole", score: 7)])
        #expect(index.rank(of: 0, gameMode: "\u{E9}cole") == 2)
        #expect(index.rank(of: 0, gameMode: "e\u{301}cole") == 3)
    }

    @Test func loadReplacesEverythingAndLaterAddsAccumulate() {
        let index = RankIndex()
        index.add([submission("old", 1_000, mode: "classic"), submission("old", 2_000, mode: "legacy")])
        index.load(Self.rows)
        for mode in [nil, "classic", "hardcore", "speedrun", "legacy"] as [String?] {
            for probe in Self.probes {
                #expect(
                    index.rank(of: probe, gameMode: mode) == Self.expectedRank(of: probe, mode: mode, in: Self.rows))
            }
        }
        let extra: [(mode: String, score: Int64)] = [("classic", 200), ("newmode", 7)]
        index.add(extra.map { submission("q", $0.score, mode: $0.mode) })
        let all = Self.rows + extra
        for mode in [nil, "classic", "newmode"] as [String?] {
            for probe in Self.probes + [6, 7, 199, 200] {
                #expect(index.rank(of: probe, gameMode: mode) == Self.expectedRank(of: probe, mode: mode, in: all))
            }
        }
    }

    /// Past the modes memory holds, every other mode's scores share one counter (``ModeScore``),
    /// over several blocks here: each mode's ranks are still its own, added or loaded. They used to
    /// be counted by SQLite, through every index entry above the score.
    @Test func modesNotHeldShareOneCounterAndKeepTheirOwnRanks() {
        var generator = SplitMix64(seed: 11)
        let madeUp = (0..<6_000).map { _ in
            (
                mode: "mode\(Int.random(in: 0..<300, using: &generator))",
                score: Int64.random(in: -50...50, using: &generator)
            )
        }
        let rows = Self.rows + madeUp
        let modes = [nil, "classic", "hardcore", "speedrun", "mode0", "mode7", "mode299", "never-seen"] as [String?]
        func expectRanksMatch(_ index: RankIndex, _ comment: Comment) {
            for mode in modes.compactMap({ $0 }) {
                #expect(index.hasScores(inMode: mode) == rows.contains { $0.mode == mode }, "\(comment): \(mode)")
            }
            for mode in modes {
                for probe in Self.probes + [-51, -50, -1, 1, 49, 50] {
                    #expect(
                        index.rank(of: probe, gameMode: mode) == Self.expectedRank(of: probe, mode: mode, in: rows),
                        "\(comment): rank of \(probe) in \(mode ?? "all modes")")
                }
            }
        }
        let added = RankIndex(modes: GameModesInMemory(capacity: 1))
        added.add(rows.map { submission("p", $0.score, mode: $0.mode) })
        #expect(added.modeCount == 1)
        expectRanksMatch(added, "added")

        let loaded = RankIndex(modes: GameModesInMemory(capacity: 1))
        loaded.load(rows)
        #expect(loaded.modeCount == 1)
        expectRanksMatch(loaded, "loaded")
    }

    /// A mode's scores are a run of the shared counter, counted from the key before it: the first
    /// key (0) and the last included.
    @Test func scoresUnderEachModeKeyAreCounted() {
        var counter = SortedCounter<ModeScore>()
        for (key, score) in [(0, Int64.min), (0, 5), (1, .min), (UInt64.max, 3), (UInt64.max, .max), (7, 0)]
            as [(UInt64, Int64)]
        {
            counter.insert(ModeScore(modeKey: key, score: score))
        }
        #expect(
            [0, 1, 2, 6, 7, 8, UInt64.max - 1, UInt64.max].map(counter.count(withKey:)) == [2, 1, 0, 0, 1, 0, 0, 2])
    }
}

import SeededRandom
import Testing

@testable import Persistence

/// The reference answer: a plain linear count.
private func bruteForceGreater(_ values: [Int64], than probe: Int64) -> Int {
    values.reduce(0) { $0 + ($1 > probe ? 1 : 0) }
}

/// Probes around a sample of the distinct stored values (equal, one below, one above), the
/// values near block-size boundaries in sorted order, the small dense range, and the extremes.
/// (Probing every distinct value of thousands would make the brute force too slow in debug.)
private func probes(for values: [Int64]) -> [Int64] {
    var result: Set<Int64> = [.min, .min + 1, -1, 0, 1, .max - 1, .max]
    for value in Int64(-22)...22 { result.insert(value) }
    let distinct = Set(values).sorted()
    let step = max(1, distinct.count / 80)
    let half = ScoreCounter.maxBlockSize / 2
    for (index, value) in distinct.enumerated()
    where index % step == 0 || [0, 1, half - 1].contains(index % half) || index == distinct.count - 1 {
        result.insert(value)
        if value > .min { result.insert(value - 1) }
        if value < .max { result.insert(value + 1) }
    }
    return result.sorted()
}

/// Records an issue for every probe where `counter` disagrees with the brute-force count.
private func expectMatchesBruteForce(
    _ counter: ScoreCounter, _ values: [Int64], probes probeValues: [Int64]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(counter.count == values.count, sourceLocation: sourceLocation)
    var mismatches: [(probe: Int64, got: Int, expected: Int)] = []
    for probe in probeValues ?? probes(for: values) {
        let got = counter.countGreater(than: probe)
        let expected = bruteForceGreater(values, than: probe)
        if got != expected { mismatches.append((probe, got, expected)) }
    }
    #expect(
        mismatches.isEmpty,
        "\(mismatches.count) probes disagree (first: \(mismatches.prefix(3))) with \(values.count) values",
        sourceLocation: sourceLocation
    )
}

/// Draws scores that mix wide-range values, a small pool (many duplicates), negatives and Int64 extremes.
private func mixedScore(_ random: inout SplitMix64) -> Int64 {
    switch Int.random(in: 0..<10, using: &random) {
    case 0: [Int64.min, .max, 0, -1, 1].randomElement(using: &random)!
    case 1...4: Int64.random(in: -20...20, using: &random)
    case 5...7: Int64.random(in: -1_000_000...1_000_000, using: &random)
    default: Int64.random(in: .min ... .max, using: &random)
    }
}

@Suite("ScoreCounter")
struct ScoreCounterTests {
    @Test func emptyCounterCountsNothing() {
        let counter = ScoreCounter()
        #expect(counter.count == 0)
        for probe: Int64 in [.min, -1, 0, 1, .max] {
            #expect(counter.countGreater(than: probe) == 0)
        }
        #expect(ScoreCounter(bulk: []).countGreater(than: .min) == 0)
    }

    @Test func smallHandCheckedExample() {
        var counter = ScoreCounter()
        for score: Int64 in [5, 3, 5, -2, 9, 5] { counter.insert(score) }
        #expect(counter.count == 6)
        #expect(counter.countGreater(than: .min) == 6)
        #expect(counter.countGreater(than: -2) == 5)
        #expect(counter.countGreater(than: 3) == 4)
        #expect(counter.countGreater(than: 4) == 4)
        #expect(counter.countGreater(than: 5) == 1)
        #expect(counter.countGreater(than: 9) == 0)
        #expect(counter.countGreater(than: .max) == 0)
    }

    @Test func extremesAreCountedCorrectly() {
        var counter = ScoreCounter()
        for score: Int64 in [.max, .min, .max, 0, .min] { counter.insert(score) }
        #expect(counter.countGreater(than: .min) == 3)
        #expect(counter.countGreater(than: .min + 1) == 3)
        #expect(counter.countGreater(than: 0) == 2)
        #expect(counter.countGreater(than: .max - 1) == 2)
        #expect(counter.countGreater(than: .max) == 0)
    }

    @Test(arguments: [1 as UInt64, 42, 0xDEAD_BEEF])
    func randomInsertsMatchBruteForceAcrossSplits(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var counter = ScoreCounter()
        var values: [Int64] = []
        // Check around the first split (maxBlockSize) and at intervals up to well past 5,000 values.
        let checkpoints: Set<Int> = [
            1, 2, 100, ScoreCounter.maxBlockSize - 1, ScoreCounter.maxBlockSize, ScoreCounter.maxBlockSize + 1,
            3_000, 4_096, 5_001, 6_500,
        ]
        for _ in 0..<6_500 {
            let score = mixedScore(&random)
            counter.insert(score)
            values.append(score)
            if checkpoints.contains(values.count) {
                expectMatchesBruteForce(counter, values)
            }
        }
    }

    @Test func ascendingInsertsSplitTheLastBlock() {
        var counter = ScoreCounter()
        let values = (0..<6_000).map { Int64($0) * 3 - 9_000 }
        for value in values { counter.insert(value) }
        expectMatchesBruteForce(counter, values)
    }

    @Test func descendingInsertsSplitTheFirstBlock() {
        var counter = ScoreCounter()
        let values = (0..<6_000).reversed().map { Int64($0) * 3 - 9_000 }
        for value in values { counter.insert(value) }
        expectMatchesBruteForce(counter, values)
    }

    @Test func runsOfDuplicatesSpanningSeveralBlocks() {
        var counter = ScoreCounter()
        var values: [Int64] = []
        // 5,000 equal values force splits inside one run of duplicates; then neighbours either side.
        for _ in 0..<5_000 {
            counter.insert(7)
            values.append(7)
        }
        for index in 0..<300 {
            let value: Int64 = index.isMultiple(of: 2) ? 6 : 8
            counter.insert(value)
            values.append(value)
        }
        for _ in 0..<1_000 {
            counter.insert(7)
            values.append(7)
        }
        #expect(counter.countGreater(than: 7) == 150)
        #expect(counter.countGreater(than: 6) == 6_150)
        #expect(counter.countGreater(than: 5) == 6_300)
        expectMatchesBruteForce(counter, values)
    }

    @Test(arguments: [0, 1, 1_023, 1_024, 1_025, 2_048, 5_003])
    func bulkInitEqualsIncrementalInserts(size: Int) {
        var random = SplitMix64(seed: UInt64(size) + 7)
        let values = (0..<size).map { _ in mixedScore(&random) }
        let bulk = ScoreCounter(bulk: values)
        var incremental = ScoreCounter()
        for value in values { incremental.insert(value) }

        #expect(bulk.count == incremental.count)
        let probeValues = probes(for: values)
        let differing = probeValues.filter { bulk.countGreater(than: $0) != incremental.countGreater(than: $0) }
        #expect(differing.isEmpty, "bulk and incremental disagree at \(differing.prefix(5))")
        expectMatchesBruteForce(bulk, values, probes: probeValues)

        // A bulk-built counter must keep working as more scores arrive (and its blocks split).
        var grown = bulk
        var grownValues = values
        for _ in 0..<2_500 {
            let value = mixedScore(&random)
            grown.insert(value)
            grownValues.append(value)
        }
        expectMatchesBruteForce(grown, grownValues)
    }
}

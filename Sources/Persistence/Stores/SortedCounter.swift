/// A multiset of scores that answers "how many are strictly greater than x?" in
/// O(log n + n / blockSize) and inserts in O(log n + blockSize).
///
/// SQLite cannot count an index range without visiting every entry, so a rank
/// query for a low score at a million rows would read a million index entries.
/// This keeps sorted blocks of scores in memory instead (8 bytes a score).
typealias ScoreCounter = SortedCounter<Int64>

/// A sorted multiset in blocks: ``ScoreCounter`` for scores, and for the scores of game modes not
/// held in memory, ordered by mode (``ModeScore``).
struct SortedCounter<Element: Comparable & Sendable>: Sendable {
    /// Blocks are sorted ascending, each non-empty, and every value in a block
    /// is ≤ every value in the next block.
    private var blocks: [[Element]] = []
    private(set) var count = 0

    /// A block splits in two when it reaches this size.
    static var maxBlockSize: Int { 2_048 }

    init() {}

    /// Builds from any sequence of scores at once (start-up load).
    init(bulk scores: [Element]) {
        let sorted = scores.sorted()
        let half = Self.maxBlockSize / 2
        self.blocks = stride(from: 0, to: sorted.count, by: half).map {
            Array(sorted[$0..<min($0 + half, sorted.count)])
        }
        self.count = sorted.count
    }

    mutating func insert(_ score: Element) {
        self.count += 1
        guard !self.blocks.isEmpty else {
            self.blocks = [[score]]
            return
        }
        // The first block whose largest value is ≥ score, else the last block.
        var blockIndex = self.blocks.firstIndex(atOrAfter: score)
        if blockIndex == self.blocks.count { blockIndex -= 1 }
        let position = self.blocks[blockIndex].upperBound(of: score)
        self.blocks[blockIndex].insert(score, at: position)
        if self.blocks[blockIndex].count >= Self.maxBlockSize {
            let upperHalf = Array(self.blocks[blockIndex][(Self.maxBlockSize / 2)...])
            self.blocks[blockIndex].removeLast(upperHalf.count)
            self.blocks.insert(upperHalf, at: blockIndex + 1)
        }
    }

    /// The number of stored scores strictly greater than `score`.
    func countGreater(than score: Element) -> Int {
        // The first block holding a value > score; every later block is entirely greater.
        var low = 0
        var high = self.blocks.count
        while low < high {
            let middle = (low + high) / 2
            if self.blocks[middle].last! > score { high = middle } else { low = middle + 1 }
        }
        guard low < self.blocks.count else { return 0 }
        let block = self.blocks[low]
        var greater = block.count - block.upperBound(of: score)
        for index in (low + 1)..<self.blocks.count {
            greater += self.blocks[index].count
        }
        return greater
    }
}

extension Array {
    /// Index of the first block whose last element is ≥ `value` (`count` if none).
    fileprivate func firstIndex<Value: Comparable>(atOrAfter value: Value) -> Int where Element == [Value] {
        var low = 0
        var high = self.count
        while low < high {
            let middle = (low + high) / 2
            if self[middle].last! >= value { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

extension Array where Element: Comparable {
    /// Index of the first element > `value` in this ascending array.
    fileprivate func upperBound(of value: Element) -> Int {
        var low = 0
        var high = self.count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] > value { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

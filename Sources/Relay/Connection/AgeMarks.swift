/// A count (frames queued, bytes handed to the kernel) as it stood at each of the last
/// ``checksPerLimit`` age checks: what was counted by the oldest of them has waited the age limit
/// by now, if it still waits. Each check replaces the oldest mark with the count now.
public struct AgeMarks<Count: FixedWidthInteger & Sendable>: Sendable {
    private var marks = InlineArray<4, Count>(repeating: 0)
    private var oldest = 0

    /// Checks in one age limit: what waits is found between one limit and a quarter more.
    public static var checksPerLimit: Int { InlineArray<4, Count>.count }

    public init() {}

    /// The count at the latest check (0 before the first).
    public var latest: Count { self.marks[(self.oldest + Self.checksPerLimit - 1) % Self.checksPerLimit] }

    /// Records `count` at this check, and returns the count of ``checksPerLimit`` checks ago.
    public mutating func record(_ count: Count) -> Count {
        let then = self.marks[self.oldest]
        self.marks[self.oldest] = count
        self.oldest = (self.oldest + 1) % Self.checksPerLimit
        return then
    }
}

/// A bound on runs of combining marks in text the relay takes in.
///
/// Swift compares and hashes strings in their canonical (NFC) form, and puts each run of
/// combining marks in canonical order with an insertion sort: a run of n marks out of order costs
/// n² steps. One 64 KiB message whose key is 16,000 acute accents then 16,000 grave-below marks
/// took ~0.5 s of a core to hash. Unicode's Stream-Safe Text Format (UAX #15 §13) allows at
/// most 30 marks in a row; text within it hashes in linear time (~3 ms per 64 KiB, as any
/// non-ASCII text does), and no language needs more.
public enum CombiningMarkRuns {
    /// The Stream-Safe Text Format's bound.
    public static let limit = 30

    /// Whether no run of combining marks (non-starters) in `text` is longer than ``limit``.
    public static func areBounded(_ text: String) -> Bool {
        var run = 0
        for scalar in text.unicodeScalars {
            // No scalar below U+0300 is a non-starter, nor decomposes into one.
            guard scalar.value >= 0x300 else {
                run = 0
                continue
            }
            let marks = Self.nonStarters(in: scalar)
            if marks == 0 {
                run = 0
            } else {
                run += marks
                if run > Self.limit { return false }
            }
        }
        return true
    }

    /// How many non-starters `scalar` stands for: 1 for a combining mark, and 2 for the three
    /// Tibetan vowel signs of class 0 that decompose into two marks.
    private static func nonStarters(in scalar: Unicode.Scalar) -> Int {
        switch scalar.value {
        case 0x0F73, 0x0F75, 0x0F81: 2
        default: scalar.properties.canonicalCombiningClass == .notReordered ? 0 : 1
        }
    }
}

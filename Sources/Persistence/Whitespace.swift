/// Whitespace as the server trims it from player names, game modes and room names: Unicode
/// `White_Space` code points (which `Character.isWhitespace` tests) at either end.
///
/// Here, below both the HTTP routes and the relay's handlers (`String.trimmingWhitespace()`), so
/// that the migration trimming the names the old backend stored untrimmed
/// (``SQLiteConnection/trimStoredNames()``) trims exactly as every write and lookup does.
package enum Whitespace {
    /// `text` without leading and trailing whitespace.
    ///
    /// Walks code points, never characters backwards: breaking a string into characters from
    /// its end restarts at every step over a run of flag letters (regional indicators), so
    /// the old `reversed()` took a second for 64 KB of them.
    package static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}

extension Unicode.Scalar {
    /// `White_Space`, with ASCII decided without the property lookup (~100 ns a code point).
    fileprivate var isWhitespace: Bool {
        self.isASCII ? self == " " || (0x09...0x0D).contains(self.value) : self.properties.isWhitespace
    }
}

extension String {
    /// Equal code point for code point, as the old server (Python) and plugins compare strings.
    /// Swift's `==` also takes canonically equivalent spellings as equal ("\u{212A}ick", with a
    /// Kelvin sign, == "Kick").
    func isSpelled(as other: String) -> Bool { self.unicodeScalars.elementsEqual(other.unicodeScalars) }
}

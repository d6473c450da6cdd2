/// A game mode compared byte for byte, as SQLite's `game_mode = ?` compares it (BINARY
/// collation). Swift's `String ==` would also match canonically equivalent spellings, such as
/// "é" and "e\u{301}", which SQLite keeps apart.
struct GameModeKey: Hashable, Sendable {
    let mode: String

    init(_ mode: String) {
        self.mode = mode
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.mode.utf8.elementsEqual(rhs.mode.utf8)
    }

    func hash(into hasher: inout Hasher) {
        var mode = self.mode  // `withUTF8` is mutating: it may make a foreign string contiguous.
        mode.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

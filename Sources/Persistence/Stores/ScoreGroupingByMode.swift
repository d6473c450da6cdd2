/// Groups the start-up scan's rows by game mode straight from SQLite's bytes.
///
/// Games have a handful of modes, and comparing a row's bytes with each known mode is much
/// cheaper than making and hashing a `String` per row (that was a quarter of the start-up
/// time at 1M rows). Beyond a handful of modes it falls back to a dictionary.
struct ScoreGroupingByMode {
    private var modes: [(bytes: [UInt8], positions: [LeaderboardPosition])] = []
    private var indexByMode: [GameModeKey: Int] = [:]
    private static let linearSearchLimit = 8

    mutating func append(_ position: LeaderboardPosition, modeBytes: UnsafeBufferPointer<UInt8>) {
        let index = self.index(of: modeBytes)
        self.modes[index].positions.append(position)
    }

    /// The positions of each mode, by mode.
    var groups: [GameModeKey: [LeaderboardPosition]] {
        // Keys clash only for invalid UTF-8 (decoded to replacement characters): merged, as a String key would.
        Dictionary(
            self.modes.map { (GameModeKey(String(decoding: $0.bytes, as: UTF8.self)), $0.positions) },
            uniquingKeysWith: +
        )
    }

    private mutating func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int {
        if self.modes.count <= Self.linearSearchLimit {
            for (index, mode) in self.modes.enumerated() where Self.equal(mode.bytes, bytes) { return index }
        } else if let index = self.indexByMode[GameModeKey(String(decoding: bytes, as: UTF8.self))],
            Self.equal(self.modes[index].bytes, bytes)
        {
            return index
        }
        return self.add(bytes)
    }

    private mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        self.modes.append((Array(bytes), []))
        self.indexByMode[GameModeKey(String(decoding: bytes, as: UTF8.self))] = self.modes.count - 1
        return self.modes.count - 1
    }

    private static func equal(_ known: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        known.count == bytes.count && known.elementsEqual(bytes)
    }
}

/// Groups the start-up scan's rows by game mode straight from SQLite's bytes.
///
/// Games have a handful of modes, and comparing a row's bytes with each known mode is much
/// cheaper than making and hashing a `String` per row (that was a quarter of the start-up
/// time at 1M rows). Beyond a handful of modes it falls back to a dictionary.
struct ScoreGroupingByMode {
    private var modes: [(bytes: [UInt8], positions: [LeaderboardPosition])] = []
    /// The modes whose bytes decode to each key: more than one only for invalid UTF-8 (decoded
    /// to replacement characters), each still found by its own bytes. (With one index a key, two
    /// such modes took each other's place in turn, adding an entry a row: minutes at start-up.)
    private var indicesByMode: [GameModeKey: [Int]] = [:]
    private static let linearSearchLimit = 8

    /// The distinct byte strings met so far.
    var distinctModes: Int { self.modes.count }

    mutating func append(_ position: LeaderboardPosition, modeBytes: UnsafeBufferPointer<UInt8>) {
        let index = self.index(of: modeBytes)
        self.modes[index].positions.append(position)
    }

    /// The positions of each mode, by mode.
    var groups: [GameModeKey: [LeaderboardPosition]] {
        // Keys clash only for invalid UTF-8 (decoded to replacement characters): merged, as a
        // String key would, in place (`+` would copy the merged array at each clash).
        var groups: [GameModeKey: [LeaderboardPosition]] = [:]
        for mode in self.modes {
            groups[GameModeKey(String(decoding: mode.bytes, as: UTF8.self)), default: []]
                .append(contentsOf: mode.positions)
        }
        return groups
    }

    private mutating func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int {
        if self.modes.count <= Self.linearSearchLimit {
            for (index, mode) in self.modes.enumerated() where Self.equal(mode.bytes, bytes) { return index }
        } else if let indices = self.indicesByMode[GameModeKey(String(decoding: bytes, as: UTF8.self))],
            let index = indices.first(where: { Self.equal(self.modes[$0].bytes, bytes) })
        {
            return index
        }
        return self.add(bytes)
    }

    private mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        self.modes.append((Array(bytes), []))
        self.indicesByMode[GameModeKey(String(decoding: bytes, as: UTF8.self)), default: []].append(
            self.modes.count - 1)
        return self.modes.count - 1
    }

    private static func equal(_ known: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        known.count == bytes.count && known.elementsEqual(bytes)
    }
}

/// A score of a game mode that ``GameModesInMemory`` does not hold, ordered by its mode's key and
/// then by score: one ``SortedCounter`` holds the scores of every such mode, each mode's a run of
/// it, for 16 bytes a score and nothing a mode. A counter per mode costs ~200 bytes a mode, which a
/// client inventing a mode per score could grow without bound; leaving them to SQLite made each
/// rank count every index entry above the score, O(rows) a request.
struct ModeScore: Comparable, Sendable {
    /// The mode's 64-bit hash, seeded per process (Swift's `Hasher`): two modes share a key, and
    /// so their ranks, with odds of ~1 in 10⁷ even at a million modes, and a client cannot choose
    /// modes that collide without knowing the seed (unless the server runs with
    /// `SWIFT_DETERMINISTIC_HASHING` set, which makes the seed known).
    var modeKey: UInt64
    var score: Int64

    init(modeKey: UInt64, score: Int64) {
        (self.modeKey, self.score) = (modeKey, score)
    }

    init(_ mode: GameModeKey, score: Int64) {
        self.init(modeKey: UInt64(bitPattern: Int64(mode.hashValue)), score: score)
    }

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.modeKey, lhs.score) < (rhs.modeKey, rhs.score)
    }
}

extension SortedCounter<ModeScore> {
    /// The number of `mode`'s scores strictly greater than `score`.
    func countGreater(than score: Int64, in mode: GameModeKey) -> Int {
        let key = ModeScore(mode, score: .max).modeKey
        return self.countGreater(than: ModeScore(modeKey: key, score: score))
            - self.countGreater(than: ModeScore(modeKey: key, score: .max))
    }

    /// The number of `mode`'s scores.
    func count(in mode: GameModeKey) -> Int {
        self.count(withKey: ModeScore(mode, score: .max).modeKey)
    }

    /// The number of scores under mode key `key`: those above the last of the key before it, less
    /// those above its own last.
    func count(withKey key: UInt64) -> Int {
        let above = self.countGreater(than: ModeScore(modeKey: key, score: .max))
        guard key > 0 else { return self.count - above }
        return self.countGreater(than: ModeScore(modeKey: key - 1, score: .max)) - above
    }
}

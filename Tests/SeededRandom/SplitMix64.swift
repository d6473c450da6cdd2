/// A deterministic random number generator (SplitMix64), so a failing randomized test can be
/// replayed from its seed. Shared by the test targets.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes, eight from each `next()`: a byte at a time through the generic
    /// `random(in:using:)` made the fuzz suites' payloads most of their CPU in a debug build.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                let word = self.next()
                let length = min(8, count - offset)
                withUnsafeBytes(of: word) {
                    raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: length)
                }
                offset += length
            }
            initialized = count
        }
    }
}

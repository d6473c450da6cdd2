/// Masking keys from a cheap generator: a system random number per frame would cost a syscall.
struct MaskingKeys {
    private var state: UInt64

    init() { self.state = UInt64.random(in: 1 ... .max) }

    /// The next key, as the four bytes of a big-endian `UInt32`.
    mutating func next() -> UInt32 {
        // xorshift64
        self.state ^= self.state << 13
        self.state ^= self.state >> 7
        self.state ^= self.state << 17
        return UInt32(truncatingIfNeeded: self.state)
    }
}

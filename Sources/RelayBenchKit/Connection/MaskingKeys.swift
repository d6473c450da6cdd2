import NIOWebSocket

/// Masking keys from a cheap generator: a system random number per frame would cost a syscall.
struct MaskingKeys {
    private var state: UInt64

    init() { self.state = UInt64.random(in: 1 ... .max) }

    mutating func next() -> WebSocketMaskingKey {
        // xorshift64
        self.state ^= self.state << 13
        self.state ^= self.state >> 7
        self.state ^= self.state << 17
        let bits = UInt32(truncatingIfNeeded: self.state)
        return WebSocketMaskingKey([
            UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
            UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24),
        ])!
    }
}

import NIOWebSocket

extension WebSocketFrame {
    /// Calls `body` with the payload, unmasked into a temporary buffer (on the stack when small):
    /// the frame's own bytes stay as they are, for the reader if `body` declines.
    func withUnmaskedPayload<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        self.data.withUnsafeReadableBytes { (masked: UnsafeRawBufferPointer) -> Result in
            guard let key = self.maskKey else { return body(masked.assumingMemoryBound(to: UInt8.self)) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: masked.count) {
                (payload: UnsafeMutableBufferPointer<UInt8>) -> Result in
                Self.unmask(masked, with: key, into: UnsafeMutableRawBufferPointer(payload))
                return body(UnsafeBufferPointer(payload))
            }
        }
    }

    /// XORs `masked` with the repeating 4-byte `key` into `payload` (as long), 8 bytes at a time.
    static func unmask(
        _ masked: UnsafeRawBufferPointer, with key: WebSocketMaskingKey, into payload: UnsafeMutableRawBufferPointer
    ) {
        let keyBytes = (key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3])
        let wideKey = withUnsafeBytes(of: keyBytes) { $0.loadUnaligned(as: UInt64.self) }
        var index = 0
        while index + 8 <= masked.count {
            let word = masked.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ wideKey
            payload.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < masked.count {
            payload[index] = masked[index] ^ key[index & 3]
            index += 1
        }
    }
}

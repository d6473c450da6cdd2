/// RFC 6455 masking: every payload byte XORed with the key's bytes in turn, the key's most
/// significant byte first. Masking and unmasking are the same operation.
public enum WebSocketMask {
    /// XORs `source` with `key` into `destination` (as long as `source`; it may be the same
    /// memory), eight bytes at a time.
    public static func apply(
        _ key: UInt32, from source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
    ) {
        let keyBytes = key.bigEndian
        let wideKey = withUnsafeBytes(of: (keyBytes, keyBytes)) { $0.loadUnaligned(as: UInt64.self) }
        var index = 0
        while index + 8 <= source.count {
            let word = source.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ wideKey
            destination.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        withUnsafeBytes(of: keyBytes) { keyBytes in
            while index < source.count {
                destination[index] = source[index] ^ keyBytes[index & 3]
                index += 1
            }
        }
    }
}

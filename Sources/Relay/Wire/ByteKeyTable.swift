/// A fixed set of keys looked up by their raw UTF-8 bytes, for scanners that never make a
/// `String` of a key. One flat byte array: a lookup compares lengths first and retains nothing.
public struct ByteKeyTable: Sendable {
    private let bytes: [UInt8]
    private let spans: [Range<Int>]

    public init(_ keys: [String]) {
        var bytes: [UInt8] = []
        var spans: [Range<Int>] = []
        for key in keys {
            let start = bytes.count
            bytes.append(contentsOf: key.utf8)
            spans.append(start..<bytes.count)
        }
        self.bytes = bytes
        self.spans = spans
    }

    /// The position of `key` in the list the table was made from, or nil.
    public func index(of key: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        self.bytes.withUnsafeBufferPointer { table in
            self.spans.withUnsafeBufferPointer { spans in
                for (index, span) in spans.enumerated() where span.count == key.count {
                    if (0..<span.count).allSatisfy({ table[span.lowerBound + $0] == key[key.startIndex + $0] }) {
                        return index
                    }
                }
                return nil
            }
        }
    }

    /// Whether `key` is in the table.
    public func contains(_ key: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        self.index(of: key) != nil
    }
}

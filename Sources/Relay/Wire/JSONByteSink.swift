/// Writes JSON bytes into memory the caller lends it (a stack buffer, usually) or into memory of
/// its own, without `ByteBuffer`'s capacity and uniqueness checks on every byte: the writer under
/// ``JSONWriter`` and the relays that re-encode a message from its bytes. When lent memory is full
/// it sets ``overflowed`` and drops the rest; the caller then tries again with more room, or
/// declines the message. A sink over memory of its own (``withGrowingMemory(initialCapacity:limit:_:)``)
/// grows it instead, up to a limit.
public struct JSONByteSink {
    private var memory: UnsafeMutableBufferPointer<UInt8>
    /// The most bytes the sink's own memory may grow to; zero for lent memory, which never grows.
    private let growthLimit: Int
    /// Bytes written so far.
    public private(set) var count = 0
    /// Whether a write did not fit (what was written is then incomplete).
    public private(set) var overflowed = false

    /// A sink writing into `memory`, which must outlive it.
    public init(_ memory: UnsafeMutableBufferPointer<UInt8>) {
        self.memory = memory
        self.growthLimit = 0
    }

    /// Runs `body` with a sink over memory of its own, `initialCapacity` bytes to start and
    /// doubled whenever full, up to `limit` bytes (past them it overflows). What it wrote is
    /// valid only inside `body`.
    static func withGrowingMemory<Result>(
        initialCapacity: Int, limit: Int, _ body: (inout JSONByteSink) -> Result
    ) -> Result {
        var sink = JSONByteSink(growing: .allocate(capacity: max(1, min(initialCapacity, limit))), limit: limit)
        defer { sink.memory.deallocate() }
        return body(&sink)
    }

    private init(growing memory: UnsafeMutableBufferPointer<UInt8>, limit: Int) {
        self.memory = memory
        self.growthLimit = limit
    }

    /// Grows the sink's own memory to take `size` more bytes, within its limit; else (and for
    /// lent memory) marks the sink ``overflowed``. Returns whether they fit.
    private mutating func makeRoom(for size: Int) -> Bool {
        let needed = self.count + size
        guard needed <= self.growthLimit else {
            self.overflowed = true
            return false
        }
        let grown = UnsafeMutableBufferPointer<UInt8>.allocate(
            capacity: min(self.growthLimit, max(2 * self.memory.count, needed)))
        grown.baseAddress!.initialize(from: self.memory.baseAddress!, count: self.count)
        self.memory.deallocate()
        self.memory = grown
        return true
    }

    /// What has been written.
    public var written: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: self.memory[0..<self.count])
    }

    public mutating func writeByte(_ byte: UInt8) {
        guard self.count < self.memory.count || self.makeRoom(for: 1) else { return }
        self.memory[self.count] = byte
        self.count += 1
    }

    /// Raw bytes already known to be valid JSON.
    public mutating func writeRaw(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= self.memory.count - self.count || self.makeRoom(for: bytes.count) else { return }
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        (self.memory.baseAddress! + self.count).update(from: source, count: bytes.count)
        self.count += bytes.count
    }

    /// An ASCII fragment such as `,"key":`.
    public mutating func writeFragment(_ fragment: StaticString) {
        fragment.withUTF8Buffer { self.writeRaw($0) }
    }

    /// A JSON string literal, escaped as ``JSONWriter/writeString(_:)`` escapes it.
    public mutating func writeString(_ string: String) {
        self.writeByte(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            JSONStringEscapes.write(utf8, raw: { self.writeRaw($0) }, byte: { self.writeByte($0) })
        }
        self.writeByte(UInt8(ascii: "\""))
    }

    /// An integer in decimal, without a `String`.
    mutating func writeInteger(_ integer: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for Int64's 20 digits
        withUnsafeMutableBytes(of: &digits) { digits in
            var magnitude = integer.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if integer < 0 { self.writeByte(UInt8(ascii: "-")) }
            self.writeRaw(UnsafeBufferPointer(rebasing: digits.bindMemory(to: UInt8.self)[start...]))
        }
    }
}

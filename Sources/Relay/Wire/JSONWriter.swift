public import NIOCore

/// Writes JSON into a `ByteBuffer`: the one encoding step of every outbound message.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var buffer: ByteBuffer

    public init(capacity: Int = 256) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// A writer whose buffer keeps `headroom` zero bytes in front of what it writes.
    init(capacity: Int, headroom: Int) {
        self.buffer = ByteBufferAllocator().buffer(capacity: headroom + capacity)
        self.buffer.writeRepeatingByte(0, count: headroom)
        self.buffer.moveReaderIndex(forwardBy: headroom)
    }

    /// Puts the text-frame header for what is written so far in front of it (see ``TextFrameHeader``).
    mutating func writeTextFrameHeader() {
        TextFrameHeader.write(into: &self.buffer)
    }

    /// Writes `value`; with `roundingFloats`, non-integral numbers are rounded to 2 decimals
    /// (what the relay does to `state` objects before echoing them).
    public mutating func write(_ value: JSONValue, roundingFloats: Bool = false) {
        self.writeThroughSink(
            likelySize: value.writtenSizeBoundWithoutEscapes(), boundingSize: value.writtenSizeBound()
        ) { $0.write(value, roundingFloats: roundingFloats) }
    }

    /// Writes an integer in decimal.
    public mutating func writeInteger(_ integer: Int64) {
        self.writeThroughSink(likelySize: 20, boundingSize: 20) { $0.writeInteger(integer) }
    }

    /// Writes a finite number the shortest way that round-trips; non-finite ones as `null`
    /// (JSON has no NaN, and browsers cannot parse it).
    public mutating func writeNumber(_ number: Double) {
        let longest = JSONValue.longestNumber
        self.writeThroughSink(likelySize: longest, boundingSize: longest) { $0.writeNumber(number) }
    }

    /// Writes a JSON string literal with the escapes JSON requires.
    public mutating func writeString(_ string: String) {
        self.writeThroughSink(likelySize: string.utf8.count + 2, boundingSize: JSONValue.writtenSize(of: string)) {
            $0.writeString(string)
        }
    }

    /// Values that outgrow the buffer are written into memory of their own up to this size, then
    /// copied over; larger ones are sized first (``writeThroughSink(likelySize:boundingSize:_:)``).
    static let largestCopiedValue = 256 * 1024

    /// Runs `write` on a sink over the buffer's free memory and keeps what it wrote: one capacity
    /// check for a whole value, where writing into the `ByteBuffer` itself pays its capacity,
    /// uniqueness and exclusivity checks on every byte (most of the time a 64 KB value of small
    /// objects took to write). Tried first in the room there is, enough for most messages (a
    /// size bound counts each fraction as its longest, so reserving it would grow buffers the
    /// value fits in). When that runs out, into memory that grows as it fills, up to
    /// ``largestCopiedValue``, and copied over: walking a value to size it costs about as much as
    /// writing it. Past that (a full room's sync, megabytes, where growing memory pays page
    /// faults twice), again in the buffer with room for `likelySize` bytes, then for
    /// `boundingSize`, then twice that until it fits (a bound that was short).
    mutating func writeThroughSink(
        likelySize: @autoclosure () -> Int, boundingSize: @autoclosure () -> Int, _ write: (inout JSONByteSink) -> Void
    ) {
        guard !self.writeIntoFreeRoom(write) else { return }
        let copied = JSONByteSink.withGrowingMemory(
            initialCapacity: max(4096, 2 * self.buffer.writableBytes), limit: Self.largestCopiedValue
        ) { sink in
            write(&sink)
            guard !sink.overflowed else { return false }
            self.buffer.writeBytes(UnsafeRawBufferPointer(sink.written))
            return true
        }
        guard !copied else { return }
        var attempt = 1
        var room = likelySize()
        while !self.writeIntoFreeRoom(reserving: room, write) {
            attempt += 1
            room = attempt == 2 ? max(room + 1, boundingSize()) : 2 * room
        }
    }

    /// Runs `write` on a sink over the buffer's free memory, made at least `room` bytes, and
    /// keeps what it wrote if it all fitted; returns whether it did.
    private mutating func writeIntoFreeRoom(reserving room: Int = 0, _ write: (inout JSONByteSink) -> Void) -> Bool {
        var fitted = false
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { memory in
            var sink = JSONByteSink(memory.bindMemory(to: UInt8.self))
            write(&sink)
            fitted = !sink.overflowed
            return fitted ? sink.count : 0
        }
        return fitted
    }

    /// Raw bytes already known to be valid JSON.
    public mutating func writeRaw(_ bytes: ByteBuffer) {
        var bytes = bytes
        self.buffer.writeBuffer(&bytes)
    }

    /// Raw bytes already known to be valid JSON.
    public mutating func writeRaw(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.buffer.writeBytes(UnsafeRawBufferPointer(bytes))
    }

    /// Takes back the last byte written (a closing bracket about to be reopened).
    mutating func removeLastByte() {
        precondition(self.buffer.readableBytes > 0, "nothing to remove")
        self.buffer.moveWriterIndex(to: self.buffer.writerIndex - 1)
    }

    /// Appends a raw ASCII fragment such as `,"key":`.
    public mutating func writeFragment(_ fragment: StaticString) {
        self.buffer.writeStaticString(fragment)
    }

    /// `x` rounded to two decimals as the old backend's `round(x, 2)` rounds it: to the double
    /// nearest the two-decimal value nearest the double's exact value. From 2^52 every double is
    /// a whole number, which rounding leaves as it is.
    public static func roundedToHundredths(_ number: Double) -> Double {
        guard number.isFinite else { return number }
        // `n / 100`, an exact `n` divided once, is the double nearest the decimal.
        guard abs(number) >= 1e13 else { return Self.hundredths(of: number) / 100 }
        return Self.largeRoundedToHundredths(number)
    }

    /// ``roundedToHundredths(_:)`` from 10^13, where `x × 100` is no longer exact enough for
    /// ``hundredths(of:)``: the fraction is rounded alone (taking it off is exact, and the tie's
    /// even digit is the fraction's), and the decimal read back by `Double(String)`, which rounds
    /// correctly where `whole + n / 100` would round twice. Rare: no game position is that large.
    static func largeRoundedToHundredths(_ number: Double) -> Double {
        let magnitude = number.magnitude
        guard magnitude < 0x1p52 else { return number }
        var whole = magnitude.rounded(.down)
        var cents = Int(Self.hundredths(of: magnitude - whole))
        if cents == 100 { (whole, cents) = (whole + 1, 0) }
        guard let decimal = Double("\(Int64(whole)).\(cents < 10 ? "0" : "")\(cents)") else { return number }
        return Double(signOf: number, magnitudeOf: decimal)
    }

    /// `x × 100` rounded to an integer as Python's `round(x, 2)` rounds: the exact value of the
    /// double (not the decimal it was read from), ties to even. For
    /// `|x| < 10^13`. `(x * 100).rounded()` rounded a product already rounded once, and ties away
    /// from zero: 0.125 came out 0.13 and 2.675 (2.67499999…) 2.68, where Python says 0.12 and 2.67.
    static func hundredths(of number: Double) -> Double {
        let product = number * 100
        // On the magnitude, where subtracting the whole part is exact (below 1, `product + 1`
        // was not: -0.49999999999999994 made a fraction of exactly one half). Ties to even are
        // symmetric, so the sign goes back on at the end.
        let magnitude = product.magnitude
        let whole = magnitude.rounded(.down)
        // A multiple of the product's ulp (at most 1/8 here), where the product's rounding error
        // is at most half of one: only at exactly one half can the error decide. (A select, not a
        // branch: a random fraction mispredicts one half the time, ~5 ns a number.)
        let fraction = magnitude - whole
        guard fraction == 0.5 else { return Double(signOf: product, magnitudeOf: whole + (fraction > 0.5 ? 1 : 0)) }
        // Exact: number × 100 = product + error (a fused multiply-add rounds only its result,
        // which is the product's rounding error, representable).
        let error = (-product).addingProduct(number, 100)
        let outward = product < 0 ? -error : error
        let isOdd = whole.truncatingRemainder(dividingBy: 2) != 0
        let rounded = outward > 0 || (outward == 0 && isOdd) ? whole + 1 : whole  // a true tie: to even
        return Double(signOf: product, magnitudeOf: rounded)
    }

}

extension JSONWriter {
    /// `value` with every object's keys sorted, so that the same value is always the same bytes.
    public mutating func writeSorted(_ value: JSONValue) {
        switch value {
        case .array(let elements):
            self.writeFragment("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { self.writeFragment(",") }
                self.writeSorted(element)
            }
            self.writeFragment("]")
        case .object(let members):
            self.writeFragment("{")
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { self.writeFragment(",") }
                self.writeString(member.key)
                self.writeFragment(":")
                self.writeSorted(member.value)
            }
            self.writeFragment("}")
        default:
            self.write(value)
        }
    }
}

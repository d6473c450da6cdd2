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
        switch value {
        case .null: self.buffer.writeStaticString("null")
        case .bool(let flag): self.buffer.writeStaticString(flag ? "true" : "false")
        case .integer(let integer): self.writeInteger(integer)
        case .number(let number): self.writeNumber(roundingFloats ? Self.roundedToHundredths(number) : number)
        case .string(let string): self.writeString(string)
        case .array(let array):
            self.buffer.writeInteger(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { self.buffer.writeInteger(UInt8(ascii: ",")) }
                self.write(element, roundingFloats: roundingFloats)
            }
            self.buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            self.buffer.writeInteger(UInt8(ascii: "{"))
            var first = true
            for (key, element) in object {
                if !first { self.buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                self.writeString(key)
                self.buffer.writeInteger(UInt8(ascii: ":"))
                self.write(element, roundingFloats: roundingFloats)
            }
            self.buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// Writes an integer in decimal.
    public mutating func writeInteger(_ integer: Int64) {
        if integer >= 0 && integer < 10 {
            self.buffer.writeInteger(UInt8(ascii: "0") + UInt8(integer))
        } else {
            self.buffer.writeString(String(integer))
        }
    }

    /// Writes a finite number the shortest way that round-trips; non-finite ones as `null`
    /// (JSON has no NaN, and browsers cannot parse it).
    public mutating func writeNumber(_ number: Double) {
        guard number.isFinite else {
            self.buffer.writeStaticString("null")
            return
        }
        if number == number.rounded(), abs(number) < 1e15 {
            // Python prints integral floats as `3.0`; keep that so clients see a float.
            self.writeInteger(Int64(number))
            self.buffer.writeStaticString(".0")
        } else {
            self.buffer.writeString(number.description)
        }
    }

    /// Writes a JSON string literal with the escapes JSON requires.
    public mutating func writeString(_ string: String) {
        self.buffer.writeInteger(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            JSONStringEscapes.write(utf8, raw: { self.buffer.writeBytes($0) }, byte: { self.buffer.writeInteger($0) })
        }
        self.buffer.writeInteger(UInt8(ascii: "\""))
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

    /// `x` rounded half away from zero to two decimals, as the old backend's `round(x, 2)` (near enough).
    public static func roundedToHundredths(_ number: Double) -> Double {
        guard number.isFinite, abs(number) < 1e13 else { return number }
        return (number * 100).rounded() / 100
    }
}

/// Walks raw JSON bytes without building ``JSONValue``s, copying values into a ``JSONByteSink``
/// with non-integral numbers rounded to 2 decimals (the `player_state` hot path) or, for relays
/// that keep numbers as sent, written as the general path writes them.
///
/// It knows only the plain subset game clients send — ASCII strings without escapes, numbers
/// without exponents, literals, containers nested at most ``maxDepth`` deep — and gives up
/// (`nil` / `false`) on anything else. A caller that gets nothing falls back to ``JSONParser``,
/// which either accepts the message or says what is wrong with it, so the subset never
/// changes what is accepted. What it copies is the JSON the full path would write, up to
/// member order and whitespace.
public struct PlainJSONScanner {
    /// Deeper nesting is left to the full parser (which allows ``JSONParser/maxDepth``).
    public static let maxDepth = 8
    /// Longer number tokens are left to the full parser (they may be out of range).
    static let maxNumberLength = 24

    public let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    public private(set) var position = 0
    /// Whether copied non-integral numbers are rounded to 2 decimals.
    public let roundsFloats: Bool
    /// Values read so far, at every depth (keys aside), as ``JSONParser`` counts them.
    public private(set) var valueCount = 0

    public init(_ bytes: UnsafeBufferPointer<UInt8>, roundingFloats: Bool = true) {
        self.bytes = bytes
        self.roundsFloats = roundingFloats
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { self.position == self.bytes.count }

    private var current: UInt8? { self.position < self.bytes.count ? self.bytes[self.position] : nil }

    public mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            self.position += 1
        }
    }

    /// Consumes `byte` (after whitespace) if it comes next.
    public mutating func take(_ byte: UInt8) -> Bool {
        self.skipWhitespace()
        guard self.current == byte else { return false }
        self.position += 1
        return true
    }

    /// A string in the subset (after whitespace): the range of its content, between the quotes.
    public mutating func string() -> Range<Int>? {
        guard self.take(UInt8(ascii: "\"")) else { return nil }
        let start = self.position
        while let byte = self.current, byte != UInt8(ascii: "\"") {
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            self.position += 1
        }
        guard self.current != nil else { return nil }
        self.position += 1
        return start..<(self.position - 1)
    }

    /// The first byte of the next value (after whitespace), without consuming it.
    public mutating func peek() -> UInt8? {
        self.skipWhitespace()
        return self.current
    }

    /// Reads a whole message: an object, then nothing but whitespace. `member` gets each key (the
    /// range of its content) with the scanner just past the colon, and must read the value; its
    /// false, or anything outside the subset, makes this false.
    public mutating func readMessage(_ member: (inout PlainJSONScanner, Range<Int>) -> Bool) -> Bool {
        guard self.take(UInt8(ascii: "{")) else { return false }
        if !self.take(UInt8(ascii: "}")) {
            repeat {
                guard let key = self.string(), self.take(UInt8(ascii: ":")), member(&self, key) else { return false }
            } while self.take(UInt8(ascii: ","))
            guard self.take(UInt8(ascii: "}")) else { return false }
        }
        self.skipWhitespace()
        return self.isAtEnd
    }

    /// Reads past one value in the subset; false outside it.
    public mutating func skipValue() -> Bool {
        var nowhere = JSONByteSink(UnsafeMutableBufferPointer(start: nil, count: 0))
        return self.value(copyingTo: &nowhere, copy: false) != nil
    }

    /// Reads one value; with `copy`, also writes it to `writer` (floats rounded if ``roundsFloats``).
    /// Returns the range the value took in `bytes`, or nil outside the subset.
    public mutating func value(copyingTo writer: inout JSONByteSink, copy: Bool, depth: Int = 0) -> Range<Int>? {
        self.skipWhitespace()
        let start = self.position
        guard let byte = self.current, depth <= Self.maxDepth else { return nil }
        self.valueCount += 1
        switch byte {
        case UInt8(ascii: "{"):
            guard self.object(copyingTo: &writer, copy: copy, depth: depth) else { return nil }
        case UInt8(ascii: "["):
            guard self.array(copyingTo: &writer, copy: copy, depth: depth) else { return nil }
        case UInt8(ascii: "\""):
            guard self.string() != nil else { return nil }
            if copy { writer.writeRaw(UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            guard self.literal() else { return nil }
            if copy { writer.writeRaw(UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])) }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard let isInteger = self.number() else { return nil }
            guard copy else { break }
            let token = UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])
            let written =
                self.roundsFloats
                ? writer.writeRoundedNumber(token: token, isInteger: isInteger)
                : writer.writeCopiedNumber(token: token, isInteger: isInteger)
            if !written {
                guard let number = JSONParser.number(token, isInteger: isInteger) else { return nil }
                writer.write(number, roundingFloats: self.roundsFloats)
            }
        default:
            return nil
        }
        return start..<self.position
    }

    private mutating func object(copyingTo writer: inout JSONByteSink, copy: Bool, depth: Int) -> Bool {
        self.position += 1
        if copy { writer.writeByte(UInt8(ascii: "{")) }
        if self.take(UInt8(ascii: "}")) {
            if copy { writer.writeByte(UInt8(ascii: "}")) }
            return true
        }
        var first = true
        repeat {
            guard let key = self.string(), self.take(UInt8(ascii: ":")) else { return false }
            if copy {
                if !first { writer.writeByte(UInt8(ascii: ",")) }
                writer.writeRaw(UnsafeBufferPointer(rebasing: self.bytes[(key.lowerBound - 1)..<(key.upperBound + 1)]))
                writer.writeByte(UInt8(ascii: ":"))
            }
            first = false
            guard self.value(copyingTo: &writer, copy: copy, depth: depth + 1) != nil else { return false }
        } while self.take(UInt8(ascii: ","))
        guard self.take(UInt8(ascii: "}")) else { return false }
        if copy { writer.writeByte(UInt8(ascii: "}")) }
        return true
    }

    private mutating func array(copyingTo writer: inout JSONByteSink, copy: Bool, depth: Int) -> Bool {
        self.position += 1
        if copy { writer.writeByte(UInt8(ascii: "[")) }
        if self.take(UInt8(ascii: "]")) {
            if copy { writer.writeByte(UInt8(ascii: "]")) }
            return true
        }
        var first = true
        repeat {
            if copy && !first { writer.writeByte(UInt8(ascii: ",")) }
            first = false
            guard self.value(copyingTo: &writer, copy: copy, depth: depth + 1) != nil else { return false }
        } while self.take(UInt8(ascii: ","))
        guard self.take(UInt8(ascii: "]")) else { return false }
        if copy { writer.writeByte(UInt8(ascii: "]")) }
        return true
    }

    private mutating func literal() -> Bool {
        for literal: StaticString in ["true", "false", "null"] {
            let count = literal.utf8CodeUnitCount
            guard self.position + count <= self.bytes.count else { continue }
            let matches = (0..<count).allSatisfy { self.bytes[self.position + $0] == literal.utf8Start[$0] }
            if matches {
                self.position += count
                return true
            }
        }
        return false
    }

    /// A number token by JSON's grammar, without exponent: whether it is an integer, or nil.
    private mutating func number() -> Bool? {
        let start = self.position
        if self.current == UInt8(ascii: "-") { self.position += 1 }
        guard let first = self.current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        if first == UInt8(ascii: "0") { self.position += 1 } else { self.skipDigits() }
        var isInteger = true
        if self.current == UInt8(ascii: ".") {
            isInteger = false
            self.position += 1
            guard self.skipDigits() > 0 else { return nil }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") { return nil }
        guard self.position - start <= Self.maxNumberLength else { return nil }
        return isInteger
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = self.position
        while let byte = self.current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            self.position += 1
        }
        return self.position - start
    }
}

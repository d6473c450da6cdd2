/// A strict, allocation-light JSON parser for inbound WebSocket messages.
///
/// Stricter than Foundation where the relay needs it: lone UTF-16 surrogate escapes
/// (`"\ud800"`) are refused, because such a string could not be re-encoded when echoed; so are
/// strings with runs of combining marks past ``CombiningMarkRuns/limit``, which would cost
/// quadratic time to hash; nesting is bounded so a hostile message cannot exhaust the stack.
public struct JSONParser {
    /// Why a document was refused; `offset` is the byte position.
    public struct Failure: Error, Equatable, Sendable {
        public let reason: String
        public let offset: Int
        /// Why a well-formed document was refused, if it was.
        public var textProblem: TextProblem?
    }

    /// Well-formed JSON whose string the relay does not take.
    public enum TextProblem: Equatable, Sendable {
        /// A `\ud800`-style escape without its partner: the string is not Unicode text.
        case loneSurrogate
        /// More than ``CombiningMarkRuns/limit`` combining marks in a row.
        case longCombiningRun
    }

    /// Nesting deeper than this is refused.
    public static let maxDepth = 32
    /// Members an object is given room for before it has to grow (a `player_state` has about a dozen).
    static let typicalObjectMembers = 12

    /// Parses one complete JSON document, nested at most `maxDepth` deep.
    public static func parse(
        _ bytes: some Collection<UInt8>, maxDepth: Int = Self.maxDepth
    ) throws(Failure) -> JSONValue {
        var valueCount = 0
        return try self.parse(bytes, maxDepth: maxDepth, valueCount: &valueCount)
    }

    /// Parses the UTF-8 of `text`.
    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        try self.parse(text.utf8)
    }

    /// Parses one complete JSON document, and counts into `valueCount` the values parsed: itself
    /// and every member and element at any depth (keys aside), also when the document is then
    /// refused. Decoding, handling and freeing a message costs about so much per value.
    public static func parse(
        _ bytes: some Collection<UInt8>, maxDepth: Int = Self.maxDepth, valueCount: inout Int
    ) throws(Failure) -> JSONValue {
        // Most callers hand over contiguous bytes (a native String's UTF-8, a buffer): parse
        // them in place rather than copying them into an array first.
        let parsed = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(Failure) in try Self.parse(buffer, maxDepth: maxDepth, valueCount: &valueCount) }
        }
        if let parsed { return try parsed.get() }
        return try Array(bytes).withUnsafeBufferPointer { buffer throws(Failure) in
            try Self.parse(buffer, maxDepth: maxDepth, valueCount: &valueCount)
        }
    }

    private static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, valueCount: inout Int
    ) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
        defer { valueCount = parser.valueCount }
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == buffer.count else { throw parser.failure("trailing characters") }
        if let textProblem = parser.textProblem { throw textProblem }
        return value
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var position = 0
    /// Values parsed so far.
    private var valueCount = 0
    /// The first string the relay does not take, thrown once the document has parsed whole: a
    /// document that is not JSON at all is refused as such (`invalid_json`), as Python would.
    private var textProblem: Failure?

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func failure(_ reason: String) -> Failure { Failure(reason: reason, offset: self.position) }

    /// Notes a lone surrogate escape (the first text problem is the one thrown) and writes U+FFFD
    /// in its place, so that parsing goes on.
    private mutating func noteLoneSurrogate(in output: inout [UInt8]) {
        if self.textProblem == nil {
            self.textProblem = Failure(
                reason: "lone surrogate escape", offset: self.position, textProblem: .loneSurrogate)
        }
        output.append(contentsOf: [0xEF, 0xBF, 0xBD])
    }

    /// `string`, not ASCII, once its runs of combining marks are known to be short; else an empty
    /// string in its place (hashing the run as a key would cost the quadratic time the limit
    /// prevents), the problem noted.
    private mutating func bounded(_ string: String) -> String {
        guard CombiningMarkRuns.areBounded(string) else {
            if self.textProblem == nil {
                self.textProblem = Failure(
                    reason: "more than \(CombiningMarkRuns.limit) combining marks in a row", offset: self.position,
                    textProblem: .longCombiningRun)
            }
            return ""
        }
        return string
    }

    private var current: UInt8? { self.position < self.bytes.count ? self.bytes[self.position] : nil }

    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            self.position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= self.maxDepth else { throw self.failure("nesting too deep") }
        self.valueCount += 1
        guard let byte = self.current else { throw self.failure("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"): return try self.parseObject(depth: depth)
        case UInt8(ascii: "["): return try self.parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"):
            try self.expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.parseNumber()
        default: throw self.failure("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard self.position + count <= self.bytes.count else { throw self.failure("invalid literal") }
        for index in 0..<count where self.bytes[self.position + index] != literal.utf8Start[index] {
            throw self.failure("invalid literal")
        }
        self.position += count
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
        self.position += 1
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.position += 1
            return .object([:])
        }
        // Room for a typical message's members from the start: growing a dictionary reallocates.
        var object = [String: JSONValue](minimumCapacity: Self.typicalObjectMembers)
        while true {
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "\"") else { throw self.failure("expected a key") }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.current == UInt8(ascii: ":") else { throw self.failure("expected ':'") }
            self.position += 1
            self.skipWhitespace()
            object[key] = try self.parseValue(depth: depth + 1)
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.position += 1
            case UInt8(ascii: "}"):
                self.position += 1
                return .object(object)
            default: throw self.failure("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
        self.position += 1
        var array: [JSONValue] = []
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.position += 1
            return .array(array)
        }
        while true {
            self.skipWhitespace()
            array.append(try self.parseValue(depth: depth + 1))
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.position += 1
            case UInt8(ascii: "]"):
                self.position += 1
                return .array(array)
            default: throw self.failure("expected ',' or ']'")
            }
        }
    }

    private mutating func parseNumber() throws(Failure) -> JSONValue {
        let start = self.position
        var isInteger = true
        if self.current == UInt8(ascii: "-") { self.position += 1 }
        guard let first = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw self.failure("invalid number")
        }
        if first == UInt8(ascii: "0") {
            self.position += 1
        } else {
            self.skipDigits()
        }
        if self.current == UInt8(ascii: ".") {
            isInteger = false
            self.position += 1
            guard self.skipDigits() > 0 else { throw self.failure("invalid number") }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            isInteger = false
            self.position += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.position += 1 }
            guard self.skipDigits() > 0 else { throw self.failure("invalid number") }
        }
        let token = UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])
        guard let number = Self.number(token, isInteger: isInteger) else {
            throw Failure(reason: "number out of range", offset: start)  // where the number starts
        }
        return number
    }

    /// The value of a number token already checked against JSON's grammar (`isInteger`: no
    /// fraction or exponent); nil when it is out of range. Shared with the `player_state` fast path so
    /// both paths read numbers alike.
    public static func number(_ token: UnsafeBufferPointer<UInt8>, isInteger: Bool) -> JSONValue? {
        if let digits = DecimalDigits(token) {
            if isInteger { return .integer(digits.integerValue) }
            if let value = digits.exactValue { return .number(value) }
        }
        let text = String(decoding: token, as: UTF8.self)
        if isInteger, let integer = Int64(text) {
            return .integer(integer)
        }
        guard let double = Double(text), double.isFinite else { return nil }
        return .number(double)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = self.position
        while let byte = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            self.position += 1
        }
        return self.position - start
    }

    private mutating func parseString() throws(Failure) -> String {
        self.position += 1
        let start = self.position
        // Fast path: no escapes, so the bytes are the string (validated as UTF-8).
        var allBytes: UInt8 = 0
        while let byte = self.current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 {
            allBytes |= byte
            self.position += 1
        }
        if self.current == UInt8(ascii: "\"") {
            let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])
            self.position += 1
            // ASCII is valid UTF-8: `String(decoding:)` has nothing to repair, and costs less than
            // `String(validating:)`, which is not specialized for UTF-8 (a metadata lookup a string).
            if allBytes < 0x80 { return String(decoding: slice, as: UTF8.self) }
            guard let string = String(validating: slice, as: UTF8.self) else { throw self.failure("invalid UTF-8") }
            return self.bounded(string)
        }
        var scalars = Array(UnsafeBufferPointer(rebasing: self.bytes[start..<self.position]))
        while true {
            guard let byte = self.current else { throw self.failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                self.position += 1
                guard let string = String(validating: scalars, as: UTF8.self) else {
                    throw self.failure("invalid UTF-8")
                }
                return self.bounded(string)
            case UInt8(ascii: "\\"):
                self.position += 1
                try self.appendEscape(to: &scalars)
            case ..<0x20:
                throw self.failure("control character in string")
            default:
                scalars.append(byte)
                self.position += 1
            }
        }
    }

    private mutating func appendEscape(to output: inout [UInt8]) throws(Failure) {
        guard let byte = self.current else { throw self.failure("unterminated escape") }
        self.position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try self.parseHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard self.current == UInt8(ascii: "\\"), self.position + 1 < self.bytes.count,
                    self.bytes[self.position + 1] == UInt8(ascii: "u")
                else { return self.noteLoneSurrogate(in: &output) }
                self.position += 2
                let low = UInt32(try self.parseHex4())
                // (What the second escape was does not matter then: the document is refused.)
                guard (0xDC00...0xDFFF).contains(low) else { return self.noteLoneSurrogate(in: &output) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                return self.noteLoneSurrogate(in: &output)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw self.failure("invalid escape") }
            output.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw self.failure("invalid escape")
        }
    }

    private mutating func parseHex4() throws(Failure) -> UInt16 {
        guard self.position + 4 <= self.bytes.count else { throw self.failure("invalid \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.failure("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            self.position += 1
        }
        return value
    }
}

import NIOCore

@testable import Relay
@testable import RelayServer

/// What the HTTP side reads from text: request bodies (RequestBodyFields.parse), integers the way
/// pydantic reads them (LaxInteger), `Content-Type` (RequestBodyFields.declaresJSON), and the
/// scan that picks a WebSocket message's rate budget (MessageBudget.kind).
///
/// Input: byte 0 picks which (mod 4), the rest is the text. A body reads the same after a UTF-8
/// byte-order mark (one), and a JSON error points at a character inside it. LaxInteger agrees with a
/// plain reference written from pydantic's rules. declaresJSON agrees with FastAPI's rule, written
/// out apart, and ignores ASCII case. A message budgeted as a state message that parses is an
/// object whose `type` is a state type; and one that is, in the plain subset without doubt (see
/// ``surelyPlain(_:)``), is budgeted as a state message.
struct HTTPCheck {
    /// LaxInteger.parse; a seam for showing the check fails on a wrong reading.
    var laxInteger: (String) -> Result<Int64, LaxInteger.Failure> = { LaxInteger.parse($0) }
    /// RequestBodyFields.declaresJSON; a seam for showing the check fails on a wrong reading.
    var declaresJSON: (String?) -> Bool = { RequestBodyFields.declaresJSON($0) }
    /// MessageBudget.kind; a seam for showing the check fails on a wrong budget.
    var budgetKind: (UnsafeBufferPointer<UInt8>) -> MessageBudget.Kind = { MessageBudget.kind(of: $0) }

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        guard let mode = input.first else { return }
        let rest = UnsafeBufferPointer(rebasing: input[1...])
        switch mode % 4 {
        case 0: try Self.body(UnsafeRawBufferPointer(rest))
        case 1: try self.integer(String(decoding: rest, as: UTF8.self))
        case 2: try self.contentType(String(decoding: rest, as: UTF8.self))
        default: try withExactCopy(of: rest) { bytes throws(FuzzViolation) in try self.budget(bytes) }
        }
    }

    private static func body(_ body: UnsafeRawBufferPointer) throws(FuzzViolation) {
        let read = Self.read(body)
        if case .failure(let error) = read {
            guard case .validation(let issues) = error, issues.count == 1, issues[0].loc.count == 2,
                case .index(let characters) = issues[0].loc[1]
            else { throw FuzzViolation("a body that is no JSON refused with \(error)") }
            try require(
                characters >= 0 && characters <= body.count, "error at character \(characters) of \(body.count)")
        }
        let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
        guard !body.starts(with: byteOrderMark) else { return }  // only one is skipped
        let marked = byteOrderMark + Array(body)
        try require(
            marked.withUnsafeBytes { Self.read($0) } == read, "a byte-order mark changes what \(shown(body)) reads as")
    }

    private static func read(_ body: UnsafeRawBufferPointer) -> Result<JSONValue, APIError> {
        do throws(APIError) {
            return .success(try RequestBodyFields.parse(body))
        } catch {
            return .failure(error)
        }
    }

    private func integer(_ text: String) throws(FuzzViolation) {
        let result = self.laxInteger(text)
        switch (result, Self.referenceInteger(text)) {
        case (.success(let value), .integer(let expected)):
            try require(value == expected, "LaxInteger reads \(text.debugDescription) as \(value), not \(expected)")
        case (.failure(.outOfRange), .outOfRange): break
        case (.failure(.notAnInteger), .notAnInteger), (.failure(.tooLong), .tooLong): break
        case (_, let expected):
            throw FuzzViolation("LaxInteger reads \(text.debugDescription) as \(result), the reference as \(expected)")
        }
    }

    private enum Reference {
        case integer(Int64)
        case outOfRange, notAnInteger, tooLong
    }

    /// pydantic's lax integer: surrounding whitespace, a sign, ASCII digits with single `_`
    /// between them, a fraction of zeros only; nothing over 4,300 bytes.
    private static func referenceInteger(_ text: String) -> Reference {
        let scalars = Array(text.unicodeScalars)
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return .notAnInteger }
        var core = String(String.UnicodeScalarView(scalars[start...last]))
        guard core.utf8.count <= 4300 else { return .tooLong }
        if let dot = core.firstIndex(of: ".") {
            let fraction = core[core.index(after: dot)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0 == "0" }) else { return .notAnInteger }
            core = String(core[..<dot])
        }
        var body = Substring(core)
        let negative = body.first == "-"
        if negative || body.first == "+" { body = body.dropFirst() }
        let isDigit = { (c: Character) in c.isASCII && c.isNumber }
        guard let first = body.first, let last = body.last, isDigit(first), isDigit(last),
            !body.contains("__"), body.allSatisfy({ isDigit($0) || $0 == "_" })
        else { return .notAnInteger }
        let digits = body.filter { $0 != "_" }
        guard let value = Int64((negative ? "-" : "") + digits) else { return .outOfRange }
        return .integer(value)
    }

    private func contentType(_ text: String) throws(FuzzViolation) {
        let declared = self.declaresJSON(text)
        try require(
            declared == Self.fastAPIReadsAsJSON(text),
            "declaresJSON says \(declared) of \(text.debugDescription), FastAPI's rule the opposite")
        let upper = String(text.map { $0.isASCII ? Character($0.uppercased()) : $0 })
        try require(
            declared == self.declaresJSON(upper),
            "declaresJSON differs between \(text.debugDescription) and \(upper.debugDescription)")
    }

    /// FastAPI's rule, written out apart from the server's: no type, or an empty one, is JSON;
    /// else what comes before the first `;`, trimmed and lowercased, must be `application/json` or
    /// `application/…+json`, and `email.message` takes a type with other than one `/` for
    /// `text/plain`. (Header values hold no control characters but tab: NIO's parser refuses them.)
    static func fastAPIReadsAsJSON(_ value: String?) -> Bool {
        guard let value, !value.isEmpty else { return true }
        let beforeParameters = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let mediaType = beforeParameters.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "application" else { return false }
        return parts[1] == "json" || parts[1].hasSuffix("+json")
    }

    private func budget(_ bytes: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        let kind = self.budgetKind(bytes)
        try require(
            MessageBudget.kind(of: ByteBuffer(bytes: bytes)) == MessageBudget.kind(of: bytes),
            "budget kind differs in a ByteBuffer")
        guard let parsed = try? JSONParser.parse(bytes) else { return }
        let type = parsed.objectValue?["type"]?.stringValue
        let namesState = type == "player_state" || type == "enemy_state"
        if kind == .state { try require(namesState, "budgeted as a state message: \(shown(bytes))") }
        if namesState, Self.surelyPlain(bytes) {
            try require(kind == .state, "a state message budgeted as another: \(shown(bytes))")
        }
    }

    /// Whether JSON that parses is surely in the plain subset game clients send (printable ASCII
    /// without escapes; numbers without exponents, of at most ``PlainJSONScanner/maxNumberLength``
    /// bytes; nested at most ``PlainJSONScanner/maxDepth`` deep) with one `type`, judged from its
    /// bytes alone, erring towards no: `"type"` as a value makes it unsure.
    static func surelyPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        let numberBytes = Set(Array("0123456789.-+".utf8))
        var (depth, numberLength, inString) = (0, 0, false)
        for byte in bytes {
            guard (0x20...0x7E).contains(byte) || whitespace.contains(byte), byte != UInt8(ascii: "\\") else {
                return false
            }
            // Without escapes, every quote opens or closes a string; nothing inside one counts.
            if byte == UInt8(ascii: "\"") { inString.toggle() }
            guard !inString, byte != UInt8(ascii: "\"") else { continue }
            if byte | 0x20 == UInt8(ascii: "e"), numberLength > 0 { return false }  // an exponent
            numberLength = numberBytes.contains(byte) ? numberLength + 1 : 0
            if numberLength > PlainJSONScanner.maxNumberLength { return false }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
            if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") { depth -= 1 }
            if depth > PlainJSONScanner.maxDepth { return false }
        }
        return bytes.ranges(of: Array(#""type""#.utf8)).count == 1
    }
}

import NIOCore
import SeededRandom
import Testing

@testable import Relay

/// The UTF-8 text of an encoded frame.
func text(_ buffer: ByteBuffer) -> String {
    String(buffer: buffer)
}

/// Parses an encoded frame back into a value (failing the test if it is not valid JSON).
func decoded(_ buffer: ByteBuffer, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
    do {
        return try JSONParser.parse(Array(buffer.readableBytesView))
    } catch {
        Issue.record("frame is not valid JSON: \(error) — \(String(buffer: buffer))", sourceLocation: sourceLocation)
        throw error
    }
}

/// `value[key]` for an object value.
extension JSONValue {
    subscript(key: String) -> JSONValue? {
        self.objectValue?[key]
    }
}

/// Whether parsing `text` fails.
func refuses(_ text: String) -> Bool {
    (try? JSONParser.parse(text)) == nil
}

/// Whether parsing `bytes` fails.
func refuses(bytes: [UInt8]) -> Bool {
    (try? JSONParser.parse(bytes)) == nil
}

/// Writes `value` with a fresh writer and returns the text.
func written(_ value: JSONValue, roundingFloats: Bool = false) -> String {
    var writer = JSONWriter()
    writer.write(value, roundingFloats: roundingFloats)
    return String(buffer: writer.buffer)
}

/// What a number token means, read the slow and obvious way (`Int64(String)`, `Double(String)`):
/// the reference the digit-reading fast paths are checked against.
func referenceNumber(_ token: String, isInteger: Bool) -> JSONValue? {
    if isInteger, let integer = Int64(token) { return .integer(integer) }
    guard let double = Double(token), double.isFinite else { return nil }
    return .number(double)
}

/// Whether a fast number writer (`writeRoundedNumber` or `writeCopiedNumber`) took `token`; what it
/// wrote is checked against what ``JSONWriter`` writes for the token's value, and a decline must
/// have written nothing.
@discardableResult
func checkNumberWriter(
    _ token: String, roundingFloats: Bool, sourceLocation: SourceLocation = #_sourceLocation,
    _ write: (inout JSONByteSink, UnsafeBufferPointer<UInt8>, Bool) -> Bool
) -> Bool {
    let isInteger = !token.contains(".")
    var general = JSONWriter()
    var utf8 = Array(token.utf8)
    general.write(referenceNumber(token, isInteger: isInteger)!, roundingFloats: roundingFloats)
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { memory in
        var fast = JSONByteSink(memory)
        let written = utf8.withUnsafeMutableBufferPointer { write(&fast, UnsafeBufferPointer($0), isInteger) }
        if written {
            #expect(
                String(decoding: fast.written, as: UTF8.self) == String(buffer: general.buffer), "\(token)",
                sourceLocation: sourceLocation)
        } else {
            #expect(fast.count == 0, "declined \(token) but wrote", sourceLocation: sourceLocation)
        }
        return written
    }
}

/// A random JSON number token without exponent: up to `maxWholeDigits` digits before the point and
/// `maxFractionDigits` after; with `nearTies`, half of those with 3+ decimals end in a tie or near-tie
/// at the third decimal (…5, …49, …51, …50), where a different rounding would show.
func randomNumberToken(
    _ random: inout SplitMix64, maxWholeDigits: Int, maxFractionDigits: Int, nearTies: Bool = false
) -> String {
    let sign = random.next() % 3 == 0 ? "-" : ""
    let wholeDigits = Int(random.next() % UInt64(maxWholeDigits + 1))
    var whole = wholeDigits == 0 ? "0" : String(1 + random.next() % 9)
    for _ in 1..<max(1, wholeDigits) { whole.append(String(random.next() % 10)) }
    let fractionDigits = Int(random.next() % UInt64(maxFractionDigits + 1))
    var fraction = ""
    for _ in 0..<fractionDigits { fraction.append(String(random.next() % 10)) }
    if nearTies, fractionDigits >= 3, random.next() % 2 == 0 {
        let tie = ["5", "49", "51", "50"][Int(random.next() % 4)]
        fraction.replaceSubrange(fraction.index(fraction.startIndex, offsetBy: 2)..., with: tie)
    }
    return sign + whole + (fraction.isEmpty ? "" : "." + fraction)
}

private let stringPieces = [
    "", "a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{01}", "\u{1F}", "\u{7F}", "é", "中", "😀", "\u{2028}",
    "\u{0}", "key", "x y", "\u{10FFFF}",
]

/// A random string of pieces that exercise escaping and multi-byte UTF-8.
func randomJSONString(_ rng: inout SplitMix64) -> String {
    (0..<Int.random(in: 0...6, using: &rng)).map { _ in stringPieces.randomElement(using: &rng)! }.joined()
}

/// A random JSON value: every kind, nested up to 5 deep, with the integers and doubles that print
/// differently.
func randomJSONValue(_ rng: inout SplitMix64, depth: Int = 0) -> JSONValue {
    let kinds = depth >= 5 ? 6 : 8
    switch Int.random(in: 0..<kinds, using: &rng) {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &rng))
    case 2:
        let special: [Int64] = [0, 1, -1, .max, .min, 9, 10]
        return .integer(
            Bool.random(using: &rng)
                ? special.randomElement(using: &rng)! : Int64.random(in: .min ... .max, using: &rng))
    case 3: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 100)
    case 4:
        return .number(
            [0.1, -2.5e-7, 1e20, -1e300, .leastNonzeroMagnitude, 123456.789, 1e15, 3.0].randomElement(using: &rng)!)
    case 5: return .string(randomJSONString(&rng))
    case 6:
        return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomJSONValue(&rng, depth: depth + 1) })
    default:
        var object: [String: JSONValue] = [:]
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            object[randomJSONString(&rng)] = randomJSONValue(&rng, depth: depth + 1)
        }
        return .object(object)
    }
}

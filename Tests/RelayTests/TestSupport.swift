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

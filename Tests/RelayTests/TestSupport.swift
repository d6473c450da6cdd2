import NIOCore
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

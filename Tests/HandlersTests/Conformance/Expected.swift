@testable import Relay

/// What a reference model expects of one JSON value the server sends: exactly a value, an object
/// with exactly these keys, or any value passing a check.
indirect enum Expected: Sendable {
    /// This value; numbers compare by value, so `3` matches `3.0`.
    case value(JSONValue)
    /// An object with exactly these keys, each as expected.
    case object([String: Expected])
    /// An array of exactly these elements, in order.
    case array([Expected])
    /// Any value `check` accepts; `what` names it in a mismatch.
    case satisfying(_ what: String, @Sendable (JSONValue) -> Bool)

    /// A server message: `type` and exactly these other keys.
    static func message(_ type: String, _ fields: [String: Expected] = [:]) -> Expected {
        .object(fields.merging(["type": .value(.string(type))]) { field, _ in field })
    }

    /// An `error` with this code, and the old backend's text where PROTOCOL.md gives one.
    static func error(_ code: String) -> Expected {
        let text = TestClient.legacyErrorMessages[code].map(Expected.string) ?? .anyString
        return .message("error", ["code": .string(code), "message": text])
    }

    static func string(_ value: String) -> Expected { .value(.string(value)) }
    static func int(_ value: Int) -> Expected { .value(.integer(Int64(value))) }
    static func bool(_ value: Bool) -> Expected { .value(.bool(value)) }

    static let anyString = Expected.satisfying("a string") { $0.stringValue != nil }
    static let anyNumber = Expected.satisfying("a number") { $0.isNumber }

    /// Why `actual` is not as expected (with the path to the first difference), or nil if it is.
    func mismatch(_ actual: JSONValue, at path: String = "$") -> String? {
        switch self {
        case .value(let expected):
            return Self.same(expected, actual) ? nil : "\(path): expected \(expected.text), got \(actual.text)"
        case .satisfying(let what, let check):
            return check(actual) ? nil : "\(path): expected \(what), got \(actual.text)"
        case .array(let elements):
            guard let array = actual.arrayValue, array.count == elements.count else {
                return "\(path): expected \(elements.count) elements, got \(actual.text)"
            }
            return zip(elements, array).enumerated().lazy.compactMap { index, pair in
                pair.0.mismatch(pair.1, at: "\(path)[\(index)]")
            }.first
        case .object(let fields):
            guard let object = actual.objectValue else { return "\(path): expected an object, got \(actual.text)" }
            if let extra = object.keys.sorted().first(where: { fields[$0] == nil }) {
                return "\(path).\(extra): not expected (\(object[extra]!.text))"
            }
            for key in fields.keys.sorted() {
                guard let value = object[key] else { return "\(path).\(key): missing" }
                if let mismatch = fields[key]!.mismatch(value, at: "\(path).\(key)") { return mismatch }
            }
            return nil
        }
    }

    /// JSON equality with numbers by value.
    private static func same(_ expected: JSONValue, _ actual: JSONValue) -> Bool {
        switch (expected, actual) {
        case (.array(let left), .array(let right)):
            left.count == right.count && zip(left, right).allSatisfy { same($0, $1) }
        case (.object(let left), .object(let right)):
            left.count == right.count && left.allSatisfy { key, value in right[key].map { same(value, $0) } == true }
        default:
            if let left = expected.doubleValue, let right = actual.doubleValue {
                left == right
            } else {
                expected == actual
            }
        }
    }
}

extension JSONValue {
    /// The value as JSON text, for messages about it.
    var text: String {
        var writer = JSONWriter()
        writer.writeSorted(self)
        return String(buffer: writer.buffer)
    }
}

extension Expected: CustomStringConvertible {
    /// Close to JSON, what a check expects shown as `<what>`.
    var description: String {
        switch self {
        case .value(let value): value.text
        case .satisfying(let what, _): "<\(what)>"
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ",") + "]"
        case .object(let fields):
            "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

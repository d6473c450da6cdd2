import Foundation
import Hummingbird
import Relay

/// Reads a JSON object body field by field, collecting every problem as a FastAPI-style
/// 422 issue instead of stopping at the first.
struct RequestBodyFields {
    private let object: [String: JSONValue]
    private(set) var issues: [ValidationIssue] = []

    /// Collects the request body (413 past `limit` bytes) and parses it as a JSON object (else 422).
    static func read(_ request: Request, limit: Int) async throws(APIError) -> RequestBodyFields {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw .bodyTooLarge(limit: limit)
        }
        let value: JSONValue
        do {
            value = try buffer.withUnsafeReadableBytes { bytes throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
        } catch {
            throw .validation([ValidationIssue(loc: ["body", .index(0)], msg: "JSON decode error", type: "json_invalid")])
        }
        guard case .object(let object) = value else {
            throw .validation([
                ValidationIssue(
                    loc: ["body"], msg: "Input should be a valid dictionary or object to extract fields from",
                    type: "model_attributes_type"
                )
            ])
        }
        return RequestBodyFields(object: object)
    }

    private init(object: [String: JSONValue]) {
        self.object = object
    }

    /// A string field, trimmed of surrounding whitespace, `length` characters long.
    mutating func string(_ key: String, length: ClosedRange<Int>) -> String {
        guard let value = self.required(key) else { return "" }
        guard case .string(let raw) = value else {
            self.issue(key, "Input should be a valid string", type: "string_type")
            return ""
        }
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // Code points, as pydantic counts: a character may carry any number of combining marks.
        let count = text.unicodeScalars.count
        if count < length.lowerBound {
            self.issue(
                key, "String should have at least \(length.lowerBound) character\(length.lowerBound == 1 ? "" : "s")",
                type: "string_too_short")
        } else if count > length.upperBound {
            self.issue(key, "String should have at most \(length.upperBound) characters", type: "string_too_long")
        }
        return text
    }

    /// A 64-bit integer field no smaller than `minimum`. Integral floats such as `3.0` are accepted.
    mutating func integer(_ key: String, minimum: Int64 = 0) -> Int64 {
        guard let value = self.required(key) else { return 0 }
        let number: Int64
        switch value {
        case .integer(let exact):
            number = exact
        case .number(let double) where double.rounded(.towardZero) != double:
            self.issue(
                key, "Input should be a valid integer, got a number with a fractional part", type: "int_from_float")
            return 0
        case .number(let double):
            guard let exact = Int64(exactly: double) else {
                self.issue(
                    key, "Input should be an integer between \(Int64.min) and \(Int64.max)", type: "int_out_of_range")
                return 0
            }
            number = exact
        default:
            self.issue(key, "Input should be a valid integer", type: "int_type")
            return 0
        }
        if number < minimum {
            self.issue(key, "Input should be greater than or equal to \(minimum)", type: "greater_than_equal")
        }
        return number
    }

    /// Throws the collected issues, if any.
    func validate() throws(APIError) {
        if !self.issues.isEmpty { throw .validation(self.issues) }
    }

    private mutating func required(_ key: String) -> JSONValue? {
        guard let value = self.object[key] else {
            self.issue(key, "Field required", type: "missing")
            return nil
        }
        return value
    }

    private mutating func issue(_ key: String, _ message: String, type: String) {
        self.issues.append(ValidationIssue(loc: ["body", .key(key)], msg: message, type: type))
    }
}

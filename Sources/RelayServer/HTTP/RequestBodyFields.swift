import Foundation
import Handlers
import Hummingbird
import NIOCore
import Relay

/// Reads a JSON object body field by field, collecting every problem as a FastAPI-style
/// 422 issue instead of stopping at the first, and accepting what FastAPI's pydantic models
/// accepted: integers also as `true`/`false`, integral floats and numeric strings.
struct RequestBodyFields {
    private let object: [String: JSONValue]
    private(set) var issues: [ValidationIssue] = []

    /// Collects the request body (413 past `limit` bytes) and parses it as a JSON object (else 422).
    static func read(_ request: Request, limit: Int) async throws(APIError) -> RequestBodyFields {
        var request = request
        // As `UInt64`, as HTTP's parser takes it: a length past `Int.max` is too large too.
        if let declared = request.headers[.contentLength].flatMap({ UInt64($0) }), declared > limit {
            throw .bodyTooLarge(limit: limit)  // before reading: a client expecting 100 Continue need not send it
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: limit)
        } catch {
            throw .unreadableBody  // answered with 400, as NIO's decoder failing at a head is
        }
        guard buffer.readableBytes > 0 else { throw .validation([Self.missingBody]) }
        // The first `Content-Type` line, as Starlette reads it: the subscript joins repeated lines
        // with commas, which no media type parses from.
        guard Self.declaresJSON(request.headers[values: .contentType].first) else {
            // FastAPI reads such a body as text, which no model takes: a form or `text/plain`
            // post (one a page can send cross-site without asking) is never taken for JSON.
            throw .validation([Self.notAnObject(.string(String(buffer: buffer)))])
        }
        let value = try buffer.withUnsafeReadableBytes { bytes throws(APIError) in try Self.parse(bytes) }
        // FastAPI takes a JSON `null` for no body at all (`_validate_value_with_model_field`).
        if value == .null { throw .validation([Self.missingBody]) }
        guard case .object(let object) = value else {
            throw .validation([Self.notAnObject(value)])
        }
        return RequestBodyFields(object: object)
    }

    private static let missingBody = ValidationIssue(
        type: "missing", loc: ["body"], msg: "Field required", input: .null)

    /// Whether FastAPI parses a body of this `Content-Type` as JSON: `application/json`,
    /// `application/*+json`, or no type at all (as FastAPI did up to 0.1xx, the old backend's).
    static func declaresJSON(_ contentType: String?) -> Bool {
        guard let contentType, !contentType.isEmpty else { return true }
        if contentType == "application/json" { return true }  // what clients send, read without allocating
        let mediaType = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
        // Another number of `/` is no media type: `email.message` reads it as `text/plain`.
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "application" else { return false }
        return parts[1] == "json" || parts[1].hasSuffix("+json")
    }

    /// The body as JSON, after a UTF-8 byte-order mark if there is one (Python skips it too).
    /// (Internal, not private, for the fuzz check in Tests/FuzzTests/Checks/HTTPCheck.swift.)
    static func parse(_ body: UnsafeRawBufferPointer) throws(APIError) -> JSONValue {
        let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
        let json = body.starts(with: byteOrderMark) ? UnsafeRawBufferPointer(rebasing: body.dropFirst(3)) : body
        do {
            return try JSONParser.parse(json)
        } catch {
            // FastAPI's `loc` holds the offset in characters, not bytes: count all but continuation bytes.
            let characters = json.prefix(error.offset).count { $0 & 0xC0 != 0x80 }
            throw .validation([
                ValidationIssue(
                    type: "json_invalid", loc: ["body", .index(characters)], msg: "JSON decode error",
                    input: .object([:]),
                    ctx: ["error": .string(error.reason)])
            ])
        }
    }

    private static func notAnObject(_ input: JSONValue) -> ValidationIssue {
        ValidationIssue(
            type: "model_attributes_type", loc: ["body"],
            msg: "Input should be a valid dictionary or object to extract fields from", input: input)
    }

    private init(object: [String: JSONValue]) {
        self.object = object
    }

    /// A string field, trimmed of surrounding whitespace, `length` characters long.
    mutating func string(_ key: String, length: ClosedRange<Int>) -> String {
        guard let value = self.required(key) else { return "" }
        guard case .string(let raw) = value else {
            self.issue(key, "Input should be a valid string", type: "string_type", input: value)
            return ""
        }
        let text = raw.trimmingWhitespace()
        // Code points, as pydantic counts: a character may carry any number of combining marks.
        let count = text.unicodeScalars.count
        if count < length.lowerBound {
            self.issue(
                key, "String should have at least \(length.lowerBound) character\(length.lowerBound == 1 ? "" : "s")",
                type: "string_too_short", input: value, ctx: ["min_length": .integer(Int64(length.lowerBound))])
        } else if count > length.upperBound {
            self.issue(
                key, "String should have at most \(length.upperBound) characters", type: "string_too_long",
                input: value,
                ctx: ["max_length": .integer(Int64(length.upperBound))])
        }
        return text
    }

    /// A 64-bit integer field no smaller than `minimum`, read as pydantic's lax mode reads one:
    /// `true` is 1, `3.0` and `" 3 "` are 3.
    mutating func integer(_ key: String, minimum: Int64 = 0) -> Int64 {
        guard let value = self.required(key) else { return 0 }
        let number: Int64
        switch value {
        case .integer(let exact):
            number = exact
        case .bool(let flag):
            number = flag ? 1 : 0
        case .number(let double) where double.rounded(.towardZero) != double:
            self.issue(
                key, "Input should be a valid integer, got a number with a fractional part", type: "int_from_float",
                input: value)
            return 0
        case .number(let double):
            guard let exact = Int64(exactly: double) else {
                self.issues.append(.integerOutOfRange(at: ["body", .key(key)], input: value))
                return 0
            }
            number = exact
        case .string(let text):
            switch LaxInteger.parse(text) {
            case .success(let exact):
                number = exact
            case .failure(let failure):
                self.issues.append(.integer(failure, at: ["body", .key(key)], input: value))
                return 0
            }
        case .null, .array, .object:
            self.issue(key, "Input should be a valid integer", type: "int_type", input: value)
            return 0
        }
        if number < minimum {
            self.issue(
                key, "Input should be greater than or equal to \(minimum)", type: "greater_than_equal", input: value,
                ctx: ["ge": .integer(minimum)])
        }
        return number
    }

    /// Refuses a name that is a path's dot segment (`.`, `..`): a browser's URL parser removes
    /// those from a path, written as they are or as `%2E`, so a game saved under one could be
    /// neither loaded nor deleted from the game. (The old backend saved it, stranded.)
    mutating func refuseDotSegment(_ key: String, _ name: String) {
        guard name == "." || name == ".." else { return }
        self.issue(
            key, "Value error, a player name cannot be \"\(name)\": a browser cannot ask for it in a path",
            type: "value_error", input: self.object[key] ?? .null, ctx: ["error": .object([:])])
    }

    /// Throws the collected issues, if any.
    func validate() throws(APIError) {
        if !self.issues.isEmpty { throw .validation(self.issues) }
    }

    private mutating func required(_ key: String) -> JSONValue? {
        guard let value = self.object[key] else {
            self.issue(key, "Field required", type: "missing", input: .object(self.object))
            return nil
        }
        return value
    }

    private mutating func issue(
        _ key: String, _ message: String, type: String, input: JSONValue, ctx: [String: JSONValue] = [:]
    ) {
        self.issues.append(ValidationIssue(type: type, loc: ["body", .key(key)], msg: message, input: input, ctx: ctx))
    }
}

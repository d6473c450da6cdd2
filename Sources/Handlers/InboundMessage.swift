import Persistence
public import Relay

/// One decoded client message: its `type` and its fields, with typed accessors that
/// answer a wrong type with `invalid_field` instead of failing later.
public struct InboundMessage: Sendable {
    public let type: String
    public let fields: [String: JSONValue]

    public init(type: String, fields: [String: JSONValue]) {
        self.type = type
        self.fields = fields
    }

    /// A required string.
    public func string(_ key: String) throws(RelayError) -> String {
        guard let value = try self.optionalString(key) else { throw .invalidField(key, expected: "a string") }
        return value
    }

    /// An optional string (absent or null gives nil).
    public func optionalString(_ key: String) throws(RelayError) -> String? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .string(let value): return value
        default: throw .invalidField(key, expected: "a string")
        }
    }

    /// A required object.
    public func object(_ key: String) throws(RelayError) -> [String: JSONValue] {
        guard let value = try self.optionalObject(key) else { throw .invalidField(key, expected: "an object") }
        return value
    }

    /// An optional object.
    public func optionalObject(_ key: String) throws(RelayError) -> [String: JSONValue]? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .object(let value): return value
        default: throw .invalidField(key, expected: "an object")
        }
    }

    /// An optional array.
    public func optionalArray(_ key: String) throws(RelayError) -> [JSONValue]? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .array(let value): return value
        default: throw .invalidField(key, expected: "an array")
        }
    }

    /// An optional boolean.
    public func optionalBool(_ key: String) throws(RelayError) -> Bool? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .bool(let value): return value
        default: throw .invalidField(key, expected: "a boolean")
        }
    }

    /// A required number.
    public func number(_ key: String) throws(RelayError) -> Double {
        guard let value = try self.optionalNumber(key) else { throw .invalidField(key, expected: "a number") }
        return value
    }

    /// An optional number.
    public func optionalNumber(_ key: String) throws(RelayError) -> Double? {
        switch self.fields[key] {
        case nil, .null: return nil
        case .some(let value) where value.isNumber: return value.doubleValue
        default: throw .invalidField(key, expected: "a number")
        }
    }

    /// A name: trimmed, 1…`maxLength` characters.
    public func name(_ key: String, maxLength: Int) throws(RelayError) -> String {
        let name = try self.string(key).trimmingWhitespace()
        guard !name.isEmpty else { throw .invalidField(key, expected: "a non-empty string") }
        // Code points, as pydantic.
        guard name.unicodeScalars.count <= maxLength else { throw .tooLong(key, limit: maxLength) }
        return name
    }
}

extension String {
    /// The string without leading and trailing whitespace (Unicode `White_Space` code points,
    /// which `Character.isWhitespace` tests): the trim every stored name and mode gets
    /// (`Whitespace.trimmed`, shared with the migration that trims the old backend's rows).
    public func trimmingWhitespace() -> String {
        Whitespace.trimmed(self)
    }
}

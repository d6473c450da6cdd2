/// Any JSON value, decoded without loss of integer precision.
///
/// Numbers that fit a 64-bit signed integer exactly decode as ``integer``; every other
/// number (fractions, exponents, integers out of range) as ``number``.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// The string, if this is one.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The object, if this is one.
    public var objectValue: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    /// The array, if this is one.
    public var arrayValue: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    /// The boolean, if this is one.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The number as a double, if this is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
    /// Whether this is a number.
    public var isNumber: Bool { self.doubleValue != nil }

    /// This value with every float in it rounded to two decimals, as states are relayed
    /// (``JSONWriter/roundedToHundredths(_:)``): what the server keeps of a state it relays.
    public func roundingFloats() -> JSONValue {
        switch self {
        case .number(let number): .number(JSONWriter.roundedToHundredths(number))
        case .array(let elements): .array(elements.map { $0.roundingFloats() })
        case .object(let members): .object(members.mapValues { $0.roundingFloats() })
        case .null, .bool, .integer, .string: self
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}

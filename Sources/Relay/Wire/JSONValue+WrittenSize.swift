extension JSONValue {
    /// The longest a fractional number prints (`-2.2250738585072014e-308`).
    static let longestNumber = 24

    /// At most how many bytes ``JSONWriter`` writes for this value: exact, except that a
    /// fractional number counts as ``longestNumber`` bytes whatever it prints as. Stops counting
    /// once the count passes `limit`, so a check against a small limit costs little however large
    /// the value.
    public func writtenSizeBound(upTo limit: Int = .max) -> Int {
        var size = 0
        self.addWrittenSize(to: &size, limit: limit, countingEscapes: true)
        return size
    }

    /// ``writtenSizeBound(upTo:)`` as if no string needed escapes: the bound of the usual value,
    /// and cheaper, as it reads no string's text.
    func writtenSizeBoundWithoutEscapes() -> Int {
        var size = 0
        self.addWrittenSize(to: &size, limit: .max, countingEscapes: false)
        return size
    }

    private func addWrittenSize(to size: inout Int, limit: Int, countingEscapes: Bool) {
        switch self {
        case .null: size += 4
        case .bool(let flag): size += flag ? 4 : 5
        case .integer(let integer): size += Self.decimalLength(of: integer)
        case .number(let number):
            if !number.isFinite {
                size += 4  // null
            } else if number == number.rounded(), abs(number) < 1e15 {
                size += Self.decimalLength(of: Int64(number)) + 2  // `3.0`
            } else {
                size += Self.longestNumber
            }
        case .string(let string): size += countingEscapes ? Self.writtenSize(of: string) : string.utf8.count + 2
        case .array(let array):
            size += 2 + max(0, array.count - 1)
            for element in array {
                guard size <= limit else { return }
                element.addWrittenSize(to: &size, limit: limit, countingEscapes: countingEscapes)
            }
        case .object(let object):
            size += 2 + max(0, object.count - 1)
            for (key, element) in object {
                guard size <= limit else { return }
                size += (countingEscapes ? Self.writtenSize(of: key) : key.utf8.count + 2) + 1
                element.addWrittenSize(to: &size, limit: limit, countingEscapes: countingEscapes)
            }
        }
    }

    /// A string literal's size: its UTF-8, the quotes, and each escape (``JSONStringEscapes``).
    static func writtenSize(of string: String) -> Int {
        var size = 2
        for byte in string.utf8 {
            size += JSONStringEscapes.needsEscaping(byte) ? JSONStringEscapes.escapeLength(of: byte) : 1
        }
        return size
    }

    static func decimalLength(of integer: Int64) -> Int {
        (integer < 0 ? 1 : 0) + DecimalDigits.digitCount(of: integer.magnitude)
    }
}

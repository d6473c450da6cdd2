import Relay

/// An integer read from text as pydantic's lax mode reads it, which is what the FastAPI backend
/// accepted in a query, a path or a JSON string: surrounding whitespace, a sign, `_` between
/// digits and a fraction of zeros only (`" 1_000.0 "` is 1000). Exponents, hex, `12.` and
/// non-ASCII digits are not integers. Unlike Python's, the result must fit in 64 bits.
enum LaxInteger {
    enum Failure: Error, Equatable {
        case notAnInteger
        /// An integer, but outside 64-bit range.
        case outOfRange
        /// Longer than pydantic reads (4,300 bytes, Python's limit on `int()` of a string).
        case tooLong
    }

    static let maxLength = 4300

    static func parse(_ text: some StringProtocol) -> Result<Int64, Failure> {
        let scalars = Array(text.unicodeScalars)
        let start = scalars.firstIndex { !$0.properties.isWhitespace } ?? scalars.endIndex
        let end = scalars.lastIndex { !$0.properties.isWhitespace }.map { $0 + 1 } ?? start
        let bytes = Array(String(String.UnicodeScalarView(scalars[start..<max(start, end)])).utf8)
        guard bytes.count <= Self.maxLength else { return .failure(.tooLong) }
        guard let point = bytes.firstIndex(of: UInt8(ascii: ".")) else { return Self.signedDigits(bytes[...]) }
        let fraction = bytes[(point + 1)...]
        guard !fraction.isEmpty, fraction.allSatisfy({ $0 == UInt8(ascii: "0") }) else {
            return .failure(.notAnInteger)
        }
        return Self.signedDigits(bytes[..<point])
    }

    /// An integer from the path or query (`location`), or a 422 naming where it came from.
    static func parse(_ text: String, at location: [LocationComponent]) throws(APIError) -> Int64 {
        switch Self.parse(text) {
        case .success(let value): return value
        case .failure(let failure): throw .validation([.integer(failure, at: location, input: .string(text))])
        }
    }

    /// `[+-]digits`, where single underscores may separate digits.
    private static func signedDigits(_ bytes: ArraySlice<UInt8>) -> Result<Int64, Failure> {
        var digits = bytes
        let isNegative = digits.first == UInt8(ascii: "-")
        if isNegative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard let first = digits.first, let last = digits.last, Self.isDigit(first), Self.isDigit(last) else {
            return .failure(.notAnInteger)
        }
        // Accumulated on the sign's side of zero, so that Int64.min fits.
        var value: Int64 = 0
        var overflowed = false
        var previous = first
        for byte in digits {
            if byte == UInt8(ascii: "_") {
                if previous == UInt8(ascii: "_") { return .failure(.notAnInteger) }
            } else if Self.isDigit(byte) {
                let digit = Int64(byte - UInt8(ascii: "0"))
                let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 10)
                let (next, addOverflow) =
                    isNegative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                overflowed = overflowed || shiftOverflow || addOverflow
                value = next
            } else {
                return .failure(.notAnInteger)
            }
            previous = byte
        }
        return overflowed ? .failure(.outOfRange) : .success(value)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

extension ValidationIssue {
    /// The 422 issue for text that is no 64-bit integer.
    static func integer(_ failure: LaxInteger.Failure, at loc: [LocationComponent], input: JSONValue) -> ValidationIssue
    {
        switch failure {
        case .notAnInteger:
            ValidationIssue(
                type: "int_parsing", loc: loc,
                msg: "Input should be a valid integer, unable to parse string as an integer",
                input: input)
        case .outOfRange: .integerOutOfRange(at: loc, input: input)
        case .tooLong:
            ValidationIssue(
                type: "int_parsing_size", loc: loc,
                msg: "Unable to parse input string as an integer, exceeded maximum size",
                input: input)
        }
    }

    /// An integer past 64 bits: pydantic takes any size, SQLite and this server do not.
    static func integerOutOfRange(at loc: [LocationComponent], input: JSONValue) -> ValidationIssue {
        ValidationIssue(
            type: "int_out_of_range", loc: loc, msg: "Input should be an integer between \(Int64.min) and \(Int64.max)",
            input: input)
    }
}

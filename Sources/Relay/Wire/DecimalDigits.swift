/// A number token without exponent (`-12.345`) read straight from its digits: the shared first
/// step of parsing a number and of writing it rounded, with no `String` and no `strtod`.
///
/// Why ``exactValue`` is the value `Double(String)` gives: a mantissa below 2^53 and a power
/// of ten up to 10^22 are exact doubles, so their quotient is correctly rounded (Clinger's
/// fast path), as is the parse.
struct DecimalDigits {
    var isNegative: Bool
    /// The digits without the point, leading zeros dropped.
    var mantissa: UInt64
    /// Digits after the point.
    var fractionDigits: Int

    /// More significant digits are left to the general path (the mantissa might not be exact).
    static let maxSignificantDigits = 15

    /// Reads `token` (`-?digits(.digits)?`, already checked against JSON's grammar); nil when it
    /// has more than ``maxSignificantDigits`` significant digits, or an exponent.
    init?(_ token: UnsafeBufferPointer<UInt8>) {
        self.isNegative = token.first == UInt8(ascii: "-")
        self.mantissa = 0
        self.fractionDigits = 0
        var significantDigits = 0
        var inFraction = false
        for byte in token.dropFirst(self.isNegative ? 1 : 0) {
            if byte == UInt8(ascii: ".") {
                inFraction = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if inFraction { self.fractionDigits += 1 }
            if self.mantissa == 0 && byte == UInt8(ascii: "0") { continue }  // leading zeros are not significant
            significantDigits += 1
            guard significantDigits <= Self.maxSignificantDigits else { return nil }
            self.mantissa = self.mantissa * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
    }

    /// The token's value as a correctly rounded double; nil when the fast path does not apply.
    var exactValue: Double? {
        guard self.fractionDigits < Self.powersOfTen.count else { return nil }
        let magnitude = Double(self.mantissa) / Self.powersOfTen[self.fractionDigits]
        return self.isNegative ? -magnitude : magnitude
    }

    /// The token's value as an integer when it has no fraction (`-0` is 0, as `Int64("-0")`).
    var integerValue: Int64 {
        let magnitude = Int64(self.mantissa)
        return self.isNegative ? -magnitude : magnitude
    }

    /// How many decimal digits `value` has (1 for 0).
    static func digitCount(of value: UInt64) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }

    /// 10^0 … 10^22, each exact.
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }
}

extension JSONWriter {
    /// Writes a number token (JSON's grammar, no exponent) as `write(value, roundingFloats: true)`
    /// writes its value, but straight from the digits: no `String`, no `strtod`, no float printing.
    /// Returns false, having written nothing, for tokens it leaves to the general path (more than
    /// 15 significant digits, or 10^13 and above, where rounding is skipped).
    ///
    /// Why the output is the same: a mantissa below 2^53 and a power of ten up to 10^22 are exact
    /// doubles, so their quotient is the correctly rounded value `Double(String)` gives (Clinger's
    /// fast path). Rounding then runs the same float operations as ``roundedToHundredths(_:)``.
    /// Below 10^13 two-decimal values are more than one ulp apart, so the shortest decimal that
    /// reads back as `n / 100` is `n / 100` itself, which is what `description` prints.
    mutating func writeRoundedNumber(token: UnsafeBufferPointer<UInt8>, isInteger: Bool) -> Bool {
        let isNegative = token.first == UInt8(ascii: "-")
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var fractionDigits = 0
        var inFraction = false
        for byte in token.dropFirst(isNegative ? 1 : 0) {
            if byte == UInt8(ascii: ".") {
                inFraction = true
                continue
            }
            if inFraction { fractionDigits += 1 }
            if mantissa == 0 && byte == UInt8(ascii: "0") { continue }  // leading zeros are not significant
            significantDigits += 1
            guard significantDigits <= 15 else { return false }
            mantissa = mantissa * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        if isInteger {
            // Canonical already (JSON has no leading zeros), except that Int64 reads "-0" as 0.
            if mantissa == 0 {
                self.writeByte(UInt8(ascii: "0"))
            } else {
                self.writeRaw(token)
            }
            return true
        }
        guard fractionDigits <= 22 else { return false }
        let magnitude = Double(mantissa) / Self.powersOfTen[fractionDigits]
        guard magnitude < 1e13 else { return false }
        let value = isNegative ? -magnitude : magnitude
        let hundredths = Int64((value * 100).rounded())
        self.writeHundredths(hundredths)
        return true
    }

    /// `n / 100` the way ``writeNumber(_:)`` prints it: `12.0`, `12.5`, `12.05`, `-0.3`.
    private mutating func writeHundredths(_ hundredths: Int64) {
        let whole = hundredths / 100
        let cents = Int((hundredths % 100).magnitude)
        if hundredths < 0 && whole == 0 { self.writeByte(UInt8(ascii: "-")) }
        self.writeInteger(whole)
        self.writeByte(UInt8(ascii: "."))
        self.writeByte(UInt8(ascii: "0") + UInt8(cents / 10))
        if cents % 10 != 0 { self.writeByte(UInt8(ascii: "0") + UInt8(cents % 10)) }
    }

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }
}

extension JSONByteSink {
    /// Writes a number token (JSON's grammar, no exponent) as ``JSONWriter`` with `roundingFloats`
    /// writes its value, but straight from the digits: no `String`, no `strtod`, no float printing.
    /// Returns false, having written nothing, for tokens it leaves to the general path (more than
    /// 15 significant digits, or 10^13 and above, where rounding takes another way).
    ///
    /// Why the output is the same: ``DecimalDigits/exactValue`` is the value `Double(String)`
    /// reads, and rounding then runs the same float operations as ``JSONWriter/roundedToHundredths(_:)``.
    /// Below 10^13 two-decimal values are more than one ulp apart, so the shortest decimal that
    /// reads back as `n / 100` is `n / 100` itself, which is what `description` prints.
    mutating func writeRoundedNumber(token: UnsafeBufferPointer<UInt8>, isInteger: Bool) -> Bool {
        guard let digits = DecimalDigits(token) else { return false }
        if isInteger {
            // Canonical already (JSON has no leading zeros), except that Int64 reads "-0" as 0.
            if digits.mantissa == 0 {
                self.writeByte(UInt8(ascii: "0"))
            } else {
                self.writeRaw(token)
            }
            return true
        }
        guard let value = digits.exactValue, value.magnitude < 1e13 else { return false }
        let hundredths = Int64(JSONWriter.hundredths(of: value))
        self.writeHundredths(hundredths)
        return true
    }

    /// Writes a number token (JSON's grammar, no exponent) as ``JSONWriter`` writes its value
    /// unrounded — straight from the token when it is already written that way. Returns false,
    /// having written nothing, for tokens it leaves to the general path (more than 15
    /// significant digits).
    ///
    /// When a fraction is copied: with at most 15 significant digits the token is the only such
    /// decimal that reads back as its double, so it is the shortest one, which `description`
    /// prints, unless it has trailing zeros or is below 10^-4 (printed with an exponent). A
    /// fraction of exactly `.0` is an integral value, which ``JSONWriter`` prints as `12.0`.
    mutating func writeCopiedNumber(token: UnsafeBufferPointer<UInt8>, isInteger: Bool) -> Bool {
        guard let digits = DecimalDigits(token) else { return false }
        if isInteger { return self.writeRoundedNumber(token: token, isInteger: true) }
        let significantDigits = digits.mantissa == 0 ? 0 : DecimalDigits.digitCount(of: digits.mantissa)
        let endsInZero = token.last == UInt8(ascii: "0")
        let isCanonical =
            endsInZero
            ? digits.fractionDigits == 1 && !(digits.isNegative && digits.mantissa == 0)  // `12.0`, not `-0.0`
            : digits.fractionDigits - significantDigits < 4  // at least 10^-4
        if isCanonical {
            self.writeRaw(token)
        } else {
            guard let value = digits.exactValue else { return false }
            self.writeNumber(value)
        }
        return true
    }

    /// `n / 100` the way ``JSONWriter/writeNumber(_:)`` prints it: `12.0`, `12.5`, `12.05`, `-0.3`.
    private mutating func writeHundredths(_ hundredths: Int64) {
        let whole = hundredths / 100
        let cents = Int((hundredths % 100).magnitude)
        if hundredths < 0 && whole == 0 { self.writeByte(UInt8(ascii: "-")) }
        self.writeInteger(whole)
        self.writeByte(UInt8(ascii: "."))
        self.writeByte(UInt8(ascii: "0") + UInt8(cents / 10))
        if cents % 10 != 0 { self.writeByte(UInt8(ascii: "0") + UInt8(cents % 10)) }
    }
}

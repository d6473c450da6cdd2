extension JSONByteSink {
    /// Writes a number token (JSON's grammar, no exponent) as ``JSONWriter`` with `roundingFloats`
    /// writes its value, but straight from the digits: no `String`, no `strtod`, no float printing.
    /// Returns false, having written nothing, for tokens it leaves to the general path (more than
    /// 15 significant digits, or 10^13 and above, where rounding is skipped).
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
        let hundredths = Int64((value * 100).rounded())
        self.writeHundredths(hundredths)
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

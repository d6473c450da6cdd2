extension JSONByteSink {
    /// Writes `value` as JSON; with `roundingFloats`, non-integral numbers are rounded to 2
    /// decimals (``JSONWriter/roundedToHundredths(_:)``).
    mutating func write(_ value: JSONValue, roundingFloats: Bool) {
        switch value {
        case .null: self.writeFragment("null")
        case .bool(let flag): self.writeFragment(flag ? "true" : "false")
        case .integer(let integer): self.writeInteger(integer)
        case .number(let number): self.writeNumber(roundingFloats ? JSONWriter.roundedToHundredths(number) : number)
        case .string(let string): self.writeString(string)
        case .array(let array):
            self.writeByte(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                guard !self.overflowed else { return }  // the caller tries again with more room
                if index > 0 { self.writeByte(UInt8(ascii: ",")) }
                self.write(element, roundingFloats: roundingFloats)
            }
            self.writeByte(UInt8(ascii: "]"))
        case .object(let object):
            self.writeByte(UInt8(ascii: "{"))
            var first = true
            for (key, element) in object {
                guard !self.overflowed else { return }
                if !first { self.writeByte(UInt8(ascii: ",")) }
                first = false
                self.writeString(key)
                self.writeByte(UInt8(ascii: ":"))
                self.write(element, roundingFloats: roundingFloats)
            }
            self.writeByte(UInt8(ascii: "}"))
        }
    }

    /// Writes a finite number the shortest way that round-trips; non-finite ones as `null`
    /// (JSON has no NaN, and browsers cannot parse it).
    mutating func writeNumber(_ number: Double) {
        guard number.isFinite else { return self.writeFragment("null") }
        if number == number.rounded(), abs(number) < 1e15 {
            // Python prints integral floats as `3.0`; keep that so clients see a float.
            self.writeInteger(Int64(number))
            self.writeFragment(".0")
        } else {
            var printed = number.description
            printed.withUTF8 { self.writeRaw($0) }
        }
    }
}

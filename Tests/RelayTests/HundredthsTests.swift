import SeededRandom
import Testing

@testable import Relay

/// ``JSONWriter/hundredths(of:)`` against an exact model of Python's `round(x, 2)`: the double's
/// value as an integer times a power of two, times 100, rounded half to even in integers.
@Suite("Rounding to hundredths as Python does")
struct HundredthsTests {
    /// `x × 100` rounded, exactly: `x = significand × 2^exponent`, so `x × 100` is an integer over
    /// a power of two, whose remainder says which way to round.
    static func exactHundredths(_ number: Double) -> Double {
        guard number != 0 else { return 0 }
        let significand = number.significandBitPattern | (number.isNormal ? 1 << 52 : 0)
        let exponent = (number.isNormal ? Int(number.exponent) : -1022) - 52
        let scaled = significand * 100  // < 2^60
        let magnitude: Double
        if exponent >= 0 {
            magnitude = Double(scaled) * Double(sign: .plus, exponent: exponent, significand: 1)
        } else if -exponent > 61 {
            magnitude = 0  // under 2^60 / 2^62: less than a quarter
        } else {
            let shift = UInt64(-exponent)
            let quotient = scaled >> shift
            let remainder = scaled & ((1 << shift) - 1)
            let half: UInt64 = 1 << (shift - 1)
            let up = remainder > half || (remainder == half && quotient % 2 == 1)
            magnitude = Double(up ? quotient + 1 : quotient)
        }
        return number < 0 ? -magnitude : magnitude
    }

    @Test("At and around every tie k.5 / 100, a few ulps either side, positive and negative")
    func aroundTies() {
        for whole in Array(-3_000...3_000) + [123_456_789, -987_654_321, 99_999_999_999] {
            var number = (Double(whole) + 0.5) / 100
            for _ in 0..<4 { number = number.nextDown }
            for _ in 0..<9 {
                #expect(JSONWriter.hundredths(of: number) == Self.exactHundredths(number), "\(number)")
                number = number.nextUp
            }
        }
    }

    @Test("Random values of every size below 10^13")
    func randomValues() {
        var generator = SplitMix64(seed: 0x2D1)
        for _ in 0..<200_000 {
            let scale = Double(sign: .plus, exponent: Int.random(in: -20...42, using: &generator), significand: 1)
            let number = Double.random(in: -1...1, using: &generator) * scale
            #expect(JSONWriter.hundredths(of: number) == Self.exactHundredths(number), "\(number)")
        }
    }
}

import SeededRandom
import Testing

@testable import Relay

/// `writeRoundedNumber(token:isInteger:)` must write exactly what the general path writes:
/// the token's value written with `roundingFloats`.
@Suite("Rounded numbers straight from their digits")
struct RoundedNumberTests {
    static let edgeCases = [
        "0", "-0", "7", "-7", "123456789012345", "-123456789012345", "1234567890123456",  // 16 digits: declined
        "0.0", "-0.0", "0.125", "1.005", "2.675", "-0.001", "-0.005", "-0.004", "0.005", "0.015", "1.115",
        "12.5", "12.50", "12.345", "-12.345", "550.5", "3.10", "3.00", "0.1", "0.01", "0.001", "99.995",
        "9999999999999.99", "999999999999.995", "12999999999999.5", "0.000000000000000000001",
        "0.0000000000000000000000001", "123456.7890123", "1234567.89012345", "-4503599627370.4951",
    ]

    /// The edge cases the fast path leaves to the general path: over 15 significant digits,
    /// 10^13 and above, or more fraction digits than exact powers of ten. It takes every other one,
    /// so a fast path that declined everything (always correct) would fail.
    static let declined: Set = [
        "1234567890123456", "12999999999999.5", "0.0000000000000000000000001", "-4503599627370.4951",
    ]

    @Test(arguments: edgeCases)
    func edgeCasesMatchTheGeneralPath(_ token: String) {
        #expect(Self.check(token) == !Self.declined.contains(token), "accepted \(token)")
    }

    @Test func randomTokensMatchTheGeneralPath() {
        var random = SplitMix64(seed: 42)
        var accepted = 0
        for _ in 0..<200_000 {
            if Self.check(randomNumberToken(&random, maxWholeDigits: 14, maxFractionDigits: 8, nearTies: true)) {
                accepted += 1
            }
        }
        // Most tokens have at most 15 digits and stay below 10^13: the fast path must take them
        // (164,674 with this seed).
        #expect(accepted > 150_000, "accepted \(accepted) of 200000")
    }

    /// Whether the fast path took `token`; what it wrote, if anything, is checked.
    @discardableResult
    static func check(_ token: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        checkNumberWriter(token, roundingFloats: true, sourceLocation: sourceLocation) { sink, token, isInteger in
            sink.writeRoundedNumber(token: token, isInteger: isInteger)
        }
    }
}

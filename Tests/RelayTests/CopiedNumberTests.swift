import SeededRandom
import Testing

@testable import Relay

/// `writeCopiedNumber(token:isInteger:)` must write exactly what the general path writes: the
/// token's value written without rounding.
@Suite("Numbers copied as the general path writes them")
struct CopiedNumberTests {
    static let edgeCases = [
        "0", "-0", "7", "-7", "123456789012345", "1234567890123456",  // 16 digits: declined
        "0.0", "-0.0", "1.0", "-1.0", "12.0", "12.00", "1.50", "3.10", "0.1", "-0.5", "0.125", "2.675",
        "0.001", "0.0001", "0.00012", "-0.00012", "0.00001", "0.000012", "0.00010", "0.0000000000000000000001",
        "0.0000000000000000000000001", "99999999999999.9", "999999999999999.9", "12345678901234.0",
        "123456789012345.0", "1234567890.12345", "1234567890.123456", "-4503599627370.4951",
    ]

    /// The edge cases left to the general path: over 15 significant digits, or more fraction
    /// digits than exact powers of ten. Every other one is taken, so a fast path that declined
    /// everything (always correct) would fail.
    static let declined: Set = [
        "1234567890123456", "999999999999999.9", "123456789012345.0", "1234567890.123456",
        "-4503599627370.4951", "0.0000000000000000000000001",
    ]

    @Test(arguments: edgeCases)
    func edgeCasesMatchTheGeneralPath(_ token: String) {
        #expect(Self.check(token) == !Self.declined.contains(token), "accepted \(token)")
    }

    @Test func randomTokensMatchTheGeneralPath() {
        var random = SplitMix64(seed: 43)
        var accepted = 0
        for _ in 0..<200_000 {
            var token = randomNumberToken(&random, maxWholeDigits: 14, maxFractionDigits: 8)
            // Small values and trailing zeros, where the printed form differs from the token.
            if let point = token.firstIndex(of: "."), random.next() % 4 == 0 {
                let zeros = String(repeating: "0", count: Int(random.next() % 7))
                let leading = random.next() % 2 == 0 ? zeros : ""
                token = token[...point] + leading + token[token.index(after: point)...] + zeros
            }
            if Self.check(token) { accepted += 1 }
        }
        // Most tokens have at most 15 digits: the fast path must take them (145,446 with this seed).
        #expect(accepted > 140_000, "accepted \(accepted) of 200000")
    }

    /// Whether the fast path took `token`; what it wrote, if anything, is checked.
    @discardableResult
    static func check(_ token: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        checkNumberWriter(token, roundingFloats: false, sourceLocation: sourceLocation) { sink, token, isInteger in
            sink.writeCopiedNumber(token: token, isInteger: isInteger)
        }
    }
}

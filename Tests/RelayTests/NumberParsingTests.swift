import SeededRandom
import Testing

@testable import Relay

/// `JSONParser.number` reads plain tokens from their digits (``DecimalDigits``); what it reads
/// must be exactly what `Int64(String)` / `Double(String)` read.
@Suite("Numbers read from their digits")
struct NumberParsingTests {
    static let edgeCases =
        RoundedNumberTests.edgeCases + [
            "9007199254740993", "-9007199254740993", "999999999999999", "100000000000000000000",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808", "0.30000000000000004",
            "123456789012345.6", "0.0000000000000000000001", "0.00000000000000000000001", "1e5", "-2.5E-3",
            "1.7976931348623157e308", "4.9e-324", "17.000000000000001",
        ]

    @Test(arguments: edgeCases)
    func edgeCasesReadAsStringsRead(_ token: String) {
        Self.check(token)
    }

    @Test func randomTokensReadAsStringsRead() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<200_000 {
            Self.check(randomNumberToken(&random, maxWholeDigits: 19, maxFractionDigits: 24))
        }
    }

    static func check(_ token: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let isInteger = !token.contains(".") && !token.lowercased().contains("e")
        let read = Array(token.utf8).withUnsafeBufferPointer { JSONParser.number($0, isInteger: isInteger) }
        let expected = referenceNumber(token, isInteger: isInteger)
        #expect(read == expected, "\(token)", sourceLocation: sourceLocation)
        if case .number(let value) = read, case .number(let reference) = expected {
            #expect(value.sign == reference.sign, "sign of \(token)", sourceLocation: sourceLocation)
        }
    }
}

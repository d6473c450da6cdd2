import Testing

@testable import RelayServer

/// Each row was checked against pydantic 2.13 (`BaseModel` with an `int` field, lax mode).
@Suite("Integers read from text as pydantic reads them")
struct LaxIntegerTests {
    @Test(
        "Accepted: whitespace, a sign, single underscores, a fraction of zeros, leading zeros",
        arguments: [
            ("12", 12), (" 12 ", 12), ("\t12\n", 12), ("\u{00A0}12", 12), ("\u{3000}12", 12), ("\u{0B}12", 12),
            ("1_000", 1000), ("+5", 5), ("-0", 0), ("12.0", 12), ("12.00", 12), ("1_000.0", 1000), ("-12.0", -12),
            ("007", 7), ("00", 0), ("0_0", 0), ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ] as [(String, Int64)])
    func accepted(text: String, value: Int64) {
        #expect(LaxInteger.parse(text) == .success(value))
    }

    @Test(
        "Refused: anything else",
        arguments: [
            "12.5", "1e3", "0x10", "１２", "٣", "", "  ", "1__0", "_1", "12_", "12.", ".0", "12.0_0", "1 2", "- 1", "+-1",
            "\u{1C}12", "12.0.0", "1.", "+0.", "12\u{0}", "+", "-",
        ])
    func refused(text: String) {
        #expect(LaxInteger.parse(text) == .failure(.notAnInteger))
    }

    @Test("Past 64 bits is out of range; past 4,300 bytes too long to read")
    func limits() {
        #expect(LaxInteger.parse("9223372036854775808") == .failure(.outOfRange))
        #expect(LaxInteger.parse("-9223372036854775809") == .failure(.outOfRange))
        #expect(LaxInteger.parse("99999999999999999999999.0") == .failure(.outOfRange))
        #expect(LaxInteger.parse(String(repeating: "1", count: 4300)) == .failure(.outOfRange))
        #expect(LaxInteger.parse(String(repeating: "1", count: 4301)) == .failure(.tooLong))
        #expect(LaxInteger.parse(" " + String(repeating: "1", count: 4300) + " ") == .failure(.outOfRange))
    }
}

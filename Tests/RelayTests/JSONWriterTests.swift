import Foundation
import SeededRandom
import Testing

@testable import Relay

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test func escapesQuotesBackslashesAndControlCharacters() {
        #expect(written("a\"b") == #""a\"b""#)
        #expect(written("a\\b") == #""a\\b""#)
        #expect(written("line\nnext") == #""line\nnext""#)
        #expect(written("\r\t") == #""\r\t""#)
        #expect(written("\u{01}") == #""\u0001""#)
        #expect(written("\u{1F}") == #""\u001f""#)
        #expect(written("\u{0}") == #""\u0000""#)
        #expect(written("\u{08}\u{0C}") == #""\u0008\u000c""#)
        #expect(written("x\"\\\n\u{01}é") == #""x\"\\\n\u0001é""#)
    }

    @Test func passesUnicodeAndSlashesThrough() {
        #expect(written("héllo 😀 中") == "\"héllo 😀 中\"")
        #expect(written("a/b") == "\"a/b\"")
        #expect(written("\u{7F}") == "\"\u{7F}\"")
        #expect(written("") == "\"\"")
    }

    @Test func writesScalars() {
        #expect(written(nil) == "null")
        #expect(written(true) == "true")
        #expect(written(false) == "false")
        #expect(written(0) == "0")
        #expect(written(7) == "7")
        #expect(written(-7) == "-7")
        #expect(written(1234) == "1234")
        #expect(written(.integer(.max)) == "9223372036854775807")
        #expect(written(.integer(.min)) == "-9223372036854775808")
    }

    @Test func integralDoublesKeepAFractionDigit() {
        #expect(written(.number(3)) == "3.0")
        #expect(written(.number(-2)) == "-2.0")
        #expect(written(.number(0)) == "0.0")
        #expect(written(.number(123_456_789)) == "123456789.0")
        #expect(written(.number(1.5)) == "1.5")
        #expect(written(.number(-0.25)) == "-0.25")
    }

    @Test func largeAndTinyDoublesStayValidJSON() throws {
        for number in [1e15, 1e20, -1e300, .leastNonzeroMagnitude, 1e-7, 123456.789] {
            let json = written(.number(number))
            #expect(try JSONParser.parse(json) == .number(number), "\(json)")
        }
    }

    @Test func nonFiniteNumbersAreWrittenAsNull() {
        #expect(written(.number(.nan)) == "null")
        #expect(written(.number(.infinity)) == "null")
        #expect(written(.number(-.infinity)) == "null")
        #expect(written([.number(.nan)], roundingFloats: true) == "[null]")
    }

    @Test func writesContainers() throws {
        #expect(written([]) == "[]")
        #expect(written([:]) == "{}")
        #expect(written([1, "a", nil]) == #"[1,"a",null]"#)
        #expect(written(["k": "v"]) == #"{"k":"v"}"#)
        #expect(written(["a\"": 1]) == #"{"a\"":1}"#)
        let object: JSONValue = ["a": 1, "b": [true, ["c": .number(2.5)]]]
        #expect(try JSONParser.parse(written(object)) == object)
    }

    @Test func roundingFloatsRoundsNonIntegralNumbersToTwoDecimals() {
        #expect(written(.number(1.23456), roundingFloats: true) == "1.23")
        #expect(written(.number(1.235001), roundingFloats: true) == "1.24")
        #expect(written(.number(-1.23456), roundingFloats: true) == "-1.23")
        #expect(written(.number(-0.005), roundingFloats: true) == "-0.01")
        #expect(written(.number(2.6749), roundingFloats: true) == "2.67")
        #expect(written(.number(0.004), roundingFloats: true) == "0.0")
        #expect(written(.number(99.999), roundingFloats: true) == "100.0")
        #expect(written(.number(1.5), roundingFloats: true) == "1.5")
        // without the flag nothing is rounded
        #expect(written(.number(1.23456)) == "1.23456")
    }

    /// `repr(round(x, 2))` from CPython 3, for exact ties (0.125), values just under one that a
    /// product rounds up to it (2.675 is 2.67499999…), and random ones. (Not -0.0: the server
    /// writes every integral float through an integer, so a negative zero as `0.0`, where Python
    /// writes `-0.0`.)
    static let pythonRounding: [(Double, String)] = [
        (0.125, "0.12"), (-0.125, "-0.12"), (0.375, "0.38"), (1.115, "1.11"), (2.675, "2.67"),
        (550.125, "550.12"), (0.015, "0.01"), (-0.015, "-0.01"), (1.005, "1.0"), (8.345, "8.35"),
        (-2.675, "-2.67"), (0.135, "0.14"), (12345678.125, "12345678.12"), (-0.001, "0.0"), (0.005, "0.01"),
        (0.025, "0.03"), (0.045, "0.04"), (1000000000000.125, "1000000000000.12"),
        (8660.245, "8660.25"), (-49383.415, "-49383.42"), (32480.785, "32480.78"), (-83797.765, "-83797.76"),
        (-75694.415, "-75694.41"), (79812.165, "79812.16"), (-68415.195, "-68415.2"), (22704.835, "22704.83"),
        (95551.205, "95551.21"), (-80538.795, "-80538.79"), (70267.175, "70267.18"), (-27959.245, "-27959.24"),
        (-87418.545, "-87418.54"), (-71160.895, "-71160.9"), (45507.345, "45507.35"), (40315.295, "40315.29"),
        (-76560.405, "-76560.4"), (-19246.895, "-19246.9"), (-69561.765, "-69561.76"), (84900.775, "84900.77"),
        (42445.005, "42445.0"), (-80165.805, "-80165.8"), (89734.775, "89734.77"), (-58458.955, "-58458.96"),
        (-25093.435, "-25093.44"), (95621.295, "95621.29"), (-79242.545, "-79242.54"), (93643.615, "93643.62"),
        (96475.095, "96475.1"), (33103.885, "33103.89"), (-900821.3732204571, "-900821.37"),
        (-557836.3530847032, "-557836.35"), (113329.79587418516, "113329.8"), (-733650.3671167898, "-733650.37"),
        (-161721.91285706952, "-161721.91"), (81371.77106428496, "81371.77"), (141827.37929346878, "141827.38"),
        (120514.55402562534, "120514.55"), (364005.38952240907, "364005.39"), (-793888.5751128173, "-793888.58"),
    ]

    @Test("Floats are rounded as Python's round(x, 2): the double's exact value, ties to even")
    func roundingMatchesPython() {
        for (number, python) in Self.pythonRounding {
            #expect(written(.number(number), roundingFloats: true) == python, "\(number)")
        }
    }

    @Test func roundingFloatsLeavesIntegersAlone() {
        #expect(written(.integer(123_456_789), roundingFloats: true) == "123456789")
        #expect(written(.integer(-5), roundingFloats: true) == "-5")
        #expect(written(.number(7), roundingFloats: true) == "7.0")
        #expect(written("1.23456", roundingFloats: true) == "\"1.23456\"")
    }

    @Test func roundingFloatsAppliesAtEveryDepth() throws {
        let value: JSONValue = [
            "x": .number(10.126), "n": 3,
            "list": [.number(0.333333), ["deep": [.number(-7.777)]], 5],
        ]
        let parsed = try JSONParser.parse(written(value, roundingFloats: true))
        let expected: JSONValue = [
            "x": .number(10.13), "n": 3,
            "list": [.number(0.33), ["deep": [.number(-7.78)]], 5],
        ]
        #expect(parsed == expected)
    }

    /// `repr(round(x, 2))` from CPython 3 from 10^13, where `x × 100` is inexact (every double is a
    /// whole number from 2^52).
    static let pythonRoundingOfLargeValues: [(Double, String)] = [
        (10000000000000.123, "10000000000000.12"), (-10000000000000.127, "-10000000000000.13"),
        (123456789012345.67, "123456789012345.67"), (4503599627370495.5, "4503599627370495.5"),
        (-35184372088831.875, "-35184372088831.88"), (12345678901234.565, "12345678901234.56"),
        (99999999999999.995, "100000000000000.0"), (1e13 + 0.005, "10000000000000.01"),
        (9999999999999.995, "9999999999999.99"), (1e15 + 0.375, "1000000000000000.4"),
    ]

    @Test("Floats from 10^13 are rounded as Python's round(x, 2) too")
    func roundingOfLargeValuesMatchesPython() {
        for (number, python) in Self.pythonRoundingOfLargeValues {
            #expect(JSONWriter.roundedToHundredths(number) == Double(python), "\(number)")
            #expect(written(.number(number), roundingFloats: true) == python, "\(number)")
        }
    }

    /// glibc's `%.2f` rounds the double's exact value to two decimals, ties to even, as CPython's
    /// `round` does: a reference written apart, over values of every size from 10^13 to 2^52 and
    /// ties (a fraction of a whole number of eighths).
    @Test("Floats from 10^13 round as glibc's %.2f reads them, 20,000 seeded values")
    func roundingOfLargeValuesMatchesPrintf() {
        var random = SplitMix64(seed: 71)
        for index in 0..<20_000 {
            let magnitude = Double.random(in: 1e13..<0x1p52, using: &random)
            let number = index % 4 == 0 ? (magnitude * 8).rounded() / 8 : magnitude  // ties too
            let signed = index % 2 == 0 ? number : -number
            let reference = Double(String(format: "%.2f", signed))!
            #expect(JSONWriter.roundedToHundredths(signed) == reference, "\(signed)")
        }
    }

    @Test func roundedToHundredthsLeavesHugeAndNonFiniteValues() {
        #expect(JSONWriter.roundedToHundredths(1e14 + 0.5) == 1e14 + 0.5)
        #expect(JSONWriter.roundedToHundredths(0x1p52 + 1) == 0x1p52 + 1)
        #expect(JSONWriter.roundedToHundredths(-0x1p60) == -0x1p60)
        #expect(JSONWriter.roundedToHundredths(.infinity) == .infinity)
        #expect(JSONWriter.roundedToHundredths(.nan).isNaN)
        #expect(JSONWriter.roundedToHundredths(12.345678) == 12.35)
    }

    @Test func writesConsecutiveValuesIntoOneBuffer() {
        var writer = JSONWriter(capacity: 1)
        writer.writeFragment("[")
        writer.write("a")
        writer.writeFragment(",")
        writer.writeNumber(2.5)
        writer.writeFragment(",")
        writer.writeInteger(-3)
        writer.writeFragment("]")
        #expect(text(writer.buffer) == #"["a",2.5,-3]"#)
    }

    @Test("Values larger than the buffer's room, escapes and all, are written whole")
    func valuesPastTheRoomLeft() throws {
        // 24 KB once escaped (written into memory of its own, then copied), and 2.4 MB (sized first).
        for count in [3_000, 300_000] {
            try self.writesWhole(escapedTimes: count)
        }
    }

    private func writesWhole(escapedTimes count: Int) throws {
        let escaped = String(repeating: "\u{01}\n", count: count)
        let value: JSONValue = .object(["k": .array([.string(escaped), .number(0.125), .string("é")])])
        var writer = JSONWriter(capacity: 16)
        writer.writeFragment("[")
        writer.write(value)
        writer.writeFragment(",")
        writer.writeString(escaped)
        writer.writeFragment("]")
        let expectedString = "\"" + String(repeating: #"\u0001\n"#, count: count) + "\""
        #expect(text(writer.buffer) == #"[{"k":["# + expectedString + #",0.125,"é"]},"# + expectedString + "]")
    }

    @Test("A value too large to copy whose size bounds fall short is written again with more room, never cut short")
    func shortBoundsGetMoreRoom() {
        var writer = JSONWriter(capacity: 0)
        let long = String(repeating: "x", count: JSONWriter.largestCopiedValue + 1)
        writer.writeThroughSink(likelySize: 1, boundingSize: 2) { $0.writeString(long) }
        #expect(text(writer.buffer) == "\"" + long + "\"")
    }
}

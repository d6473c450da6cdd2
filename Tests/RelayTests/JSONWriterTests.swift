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

    @Test func roundedToHundredthsLeavesHugeAndNonFiniteValues() {
        #expect(JSONWriter.roundedToHundredths(1e14 + 0.5) == 1e14 + 0.5)
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

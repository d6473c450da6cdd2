import SeededRandom
import Testing

@testable import Relay

@Suite("JSONParser")
struct JSONParserTests {
    // MARK: Accepted documents

    @Test func parsesObjectsArraysAndLiterals() throws {
        let value = try JSONParser.parse(#"{"a":[1,true,false,null,"s",{}],"b":{"c":[]}}"#)
        #expect(value == ["a": [1, true, false, nil, "s", [:]], "b": ["c": []]])
    }

    @Test func parsesEmptyContainersAndScalarsAtTopLevel() throws {
        #expect(try JSONParser.parse("{}") == .object([:]))
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("\"x\"") == .string("x"))
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("0") == .integer(0))
    }

    @Test func leadingAndTrailingWhitespaceIsAllowed() throws {
        #expect(try JSONParser.parse(" \t\r\n {\"a\" : [ 1 , 2 ] } \n\t ") == ["a": [1, 2]])
        #expect(try JSONParser.parse("  7  ") == .integer(7))
    }

    @Test func contiguousAndOtherCollectionsParseAlike() throws {
        let text =
            #"{"x":1.5,"s":"é","a":[1,{"n":null}],"many":{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14}}"#
        let fromString = try JSONParser.parse(text)
        let fromArray = try JSONParser.parse(Array(text.utf8))
        let fromLazyBytes = try JSONParser.parse(text.utf8.lazy.map { $0 })  // not contiguous: copied first
        #expect(fromString == fromArray)
        #expect(fromString == fromLazyBytes)
        #expect(fromString["many"]?.objectValue?.count == 14)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse("[1,".utf8.lazy.map { $0 }) }
    }

    @Test("Values are counted at every depth, keys aside, also in a document then refused")
    func valuesAreCounted() throws {
        for (text, expected) in [
            (#"{"a":[1,true,false,null,"s",{}],"b":{"c":[]}}"#, 10), ("7", 1), ("[]", 1), ("{}", 1),
            (#"[{"a":0},{"a":0}]"#, 5), (#"{"a":{"b":{"c":1}},"d":"e"}"#, 5),
        ] {
            var count = 0
            _ = try JSONParser.parse(text.utf8, valueCount: &count)
            #expect(count == expected, "\(text)")
            count = 0
            _ = try JSONParser.parse(Array(text.utf8).lazy.map { $0 }, valueCount: &count)  // not contiguous
            #expect(count == expected, "\(text), non-contiguous")
        }
        // Refused after 2,000 values: the work was done all the same.
        let refused = "[" + Array(repeating: "0", count: 2_000).joined(separator: ",") + "] x"
        var count = 0
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(refused.utf8, valueCount: &count) }
        #expect(count == 2_001)
    }

    @Test func laterDuplicateKeyWins() throws {
        #expect(try JSONParser.parse(#"{"a":1,"a":2}"#) == ["a": 2])
    }

    @Test func decodesSimpleEscapes() throws {
        let value = try JSONParser.parse(#""q\"b\\s\/n\nr\rt\tb\bf\f""#)
        #expect(value == .string("q\"b\\s/n\nr\rt\tb\u{08}f\u{0C}"))
    }

    @Test func decodesUnicodeEscapes() throws {
        #expect(try JSONParser.parse(#""caf\u00e9""#) == .string("café"))
        #expect(try JSONParser.parse(#""\u00E9\u4e2d""#) == .string("é中"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""a\uD83D\uDE00b""#) == .string("a😀b"))
        #expect(try JSONParser.parse(#""\udbff\udfff""#) == .string("\u{10FFFF}"))
    }

    @Test func passesRawUnicodeThrough() throws {
        #expect(try JSONParser.parse("\"héllo 😀 中文\"") == .string("héllo 😀 中文"))
        // raw multi-byte text mixed with an escape (slow path)
        #expect(try JSONParser.parse("\"é\\n😀\"") == .string("é\n😀"))
    }

    // MARK: Numbers

    @Test func integersStayExact() throws {
        #expect(try JSONParser.parse("42") == .integer(42))
        #expect(try JSONParser.parse("-17") == .integer(-17))
        #expect(try JSONParser.parse("-0") == .integer(0))
        #expect(try JSONParser.parse("9223372036854775807") == .integer(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .integer(Int64.min))
        #expect(try JSONParser.parse("9007199254740993") == .integer(9_007_199_254_740_993))  // not exact as a Double
    }

    @Test func integersOutsideInt64BecomeDoubles() throws {
        #expect(try JSONParser.parse("9223372036854775808") == .number(9_223_372_036_854_775_808.0))
        #expect(try JSONParser.parse("-9223372036854775809") == .number(-9_223_372_036_854_775_809.0))
    }

    @Test func fractionsAndExponentsAreDoubles() throws {
        #expect(try JSONParser.parse("1.5") == .number(1.5))
        #expect(try JSONParser.parse("-0.25") == .number(-0.25))
        #expect(try JSONParser.parse("3.0") == .number(3.0))
        #expect(try JSONParser.parse("1e3") == .number(1000))
        #expect(try JSONParser.parse("2E-2") == .number(0.02))
        #expect(try JSONParser.parse("1e+2") == .number(100))
    }

    // MARK: Refused documents

    @Test(arguments: [
        "", "   ", "{} x", "[1] 2", "1 2", "{}}", "nul", "truex", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}",
        "{a:1}", "{'a':1}", "[1", "{\"a\":", "01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10",
    ])
    func refusesMalformedDocuments(_ document: String) {
        #expect(refuses(document), "accepted \(document.debugDescription)")
    }

    @Test(arguments: ["NaN", "-NaN", "Infinity", "-Infinity", "[NaN]", "{\"x\":Infinity}", "inf"])
    func refusesNonFiniteLiterals(_ document: String) {
        #expect(refuses(document))
    }

    @Test(arguments: ["1e999", "-1e999", "[1e400]", "1" + String(repeating: "0", count: 400)])
    func refusesNumbersThatOverflowADouble(_ document: String) {
        #expect(refuses(document))
    }

    @Test(arguments: [
        #""\ud800""#, #""\udc00""#, #""\uDFFF""#, #""x\ud83d""#, #""\ud83d\u0041""#, #""\ud83d\ud83d""#,
        #""\ud83d\n""#, #""\ud83dx""#, #""\ude00\ud83d""#,
    ])
    func refusesLoneSurrogates(_ document: String) throws {
        let failure = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(document) }
        #expect(failure.reason == "lone surrogate escape")
        #expect(failure.textProblem == .loneSurrogate)
    }

    @Test func otherFailuresAreNotTextProblems() throws {
        let failure = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(#""\uZZZZ""#) }
        #expect(failure.textProblem == nil)
    }

    /// A text problem is a refusal of well-formed JSON: in a document that is not JSON (cut off,
    /// a bad escape or literal after it) the syntax is what is refused, as Python refuses it.
    @Test(arguments: [
        #"["\ud800"#, #"["\ud800\x"]"#, #"["\udc00", tru]"#, #"{"a\ud83d\u0041":}"#,
        "[\"a" + String(repeating: "\u{0301}", count: 31) + "\", nul]",
        "{\"a" + String(repeating: "\u{0301}", count: 31) + "\":1} x",
    ])
    func malformedDocumentsAreRefusedAsSuchWhateverTheirStrings(_ document: String) throws {
        let failure = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(document) }
        #expect(failure.textProblem == nil, "\(failure)")
    }

    @Test func theFirstTextProblemIsTheOneReported() throws {
        let run = "\"a" + String(repeating: "\u{0301}", count: 31) + "\""
        let surrogateFirst = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse(#"["\ud800", "# + run + "]")
        }
        #expect(surrogateFirst.textProblem == .loneSurrogate && surrogateFirst.offset == 8)
        let runFirst = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse("[" + run + #", "\ud800"]"#)
        }
        #expect(runFirst.textProblem == .longCombiningRun)
    }

    /// Swift sorts a run of combining marks with an insertion sort to hash or compare the
    /// string: quadratic in the run (``CombiningMarkRuns``).
    @Test(arguments: [
        "\"a" + String(repeating: "\u{0316}\u{0301}", count: 15) + "x\"",  // 30 marks: the limit
        "\"" + String(repeating: "e\u{0301}\u{0316}", count: 5_000) + "\"",  // many short runs
        "\"" + String(repeating: "\u{0F73}", count: 15) + "\"",  // 30 marks, 2 a sign
        "\"\\n" + String(repeating: "\\u0301", count: 30) + "\"",  // escaped
    ])
    func takesRunsOfCombiningMarksUpToTheLimit(_ document: String) throws {
        guard case .string = try JSONParser.parse(document) else {
            Issue.record("not a string")
            return
        }
    }

    @Test(arguments: [
        "\"a" + String(repeating: "\u{0301}", count: 31) + "\"",
        "{\"a" + String(repeating: "\u{0301}", count: 8_000) + String(repeating: "\u{0316}", count: 8_000) + "\":0}",
        "[\"" + String(repeating: "\u{0F73}", count: 16) + "\"]",  // 32 marks
        "\"\\n" + String(repeating: "\\u0301", count: 31) + "\"",  // escaped, so the slow path
    ])
    func refusesLongerRunsOfCombiningMarks(_ document: String) throws {
        let failure = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse(document) }
        #expect(failure.textProblem == .longCombiningRun)
        #expect(failure.reason == "more than 30 combining marks in a row")
    }

    @Test func refusesControlCharactersInStrings() {
        #expect(refuses("\"a\nb\""))
        #expect(refuses("\"a\tb\""))
        #expect(refuses("\"\u{01}\""))
        #expect(refuses("\"\u{1F}\""))
        // after an escape (the slow path) too
        #expect(refuses("\"\\n\u{01}\""))
        #expect(!refuses("\"\u{7F}\""))  // DEL is not a control character for JSON
    }

    @Test func refusesInvalidUTF8() {
        let quote = UInt8(ascii: "\"")
        #expect(refuses(bytes: [quote, 0xFF, quote]))
        #expect(refuses(bytes: [quote, 0xC3, quote]))  // truncated sequence
        #expect(refuses(bytes: [quote, 0xC0, 0x80, quote]))  // overlong NUL
        #expect(refuses(bytes: [quote, 0xED, 0xA0, 0x80, quote]))  // UTF-8-encoded surrogate
        #expect(refuses(bytes: [quote, UInt8(ascii: "\\"), UInt8(ascii: "n"), 0xFF, quote]))  // slow path
        #expect(!refuses(bytes: [quote, 0xC3, 0xA9, quote]))  // é is fine
    }

    @Test(arguments: [#""abc"#, #"""#, #""abc\"#, #""\u00"#, #""\u12G4""#, #""\x""#, #"{"a":"b}"#])
    func refusesUnterminatedStringsAndBadEscapes(_ document: String) {
        #expect(refuses(document))
    }

    // MARK: Depth

    /// `levels` nested arrays around `inner`.
    private func nestedArrays(_ levels: Int, around inner: String = "") -> String {
        String(repeating: "[", count: levels) + inner + String(repeating: "]", count: levels)
    }

    private func nestedObjects(_ levels: Int) -> String {
        String(repeating: "{\"a\":", count: levels) + "1" + String(repeating: "}", count: levels)
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        // The root value is at depth 0; a value at depth maxDepth is the deepest allowed.
        #expect(!refuses(self.nestedArrays(JSONParser.maxDepth, around: "1")))
        #expect(!refuses(self.nestedObjects(JSONParser.maxDepth)))
        #expect(!refuses(self.nestedArrays(JSONParser.maxDepth + 1)))
    }

    @Test func nestingBeyondTheLimitIsRefused() throws {
        let failure = try #require(throws: JSONParser.Failure.self) {
            try JSONParser.parse(self.nestedArrays(JSONParser.maxDepth + 1, around: "1"))
        }
        #expect(failure.reason == "nesting too deep")
        #expect(refuses(self.nestedObjects(JSONParser.maxDepth + 1)))
        #expect(refuses(self.nestedArrays(JSONParser.maxDepth + 2)))
        // very deep input fails cleanly instead of exhausting the stack
        #expect(refuses(self.nestedArrays(100_000)))
    }

    @Test func failureReportsTheByteOffset() throws {
        let failure = try #require(throws: JSONParser.Failure.self) { try JSONParser.parse("[1, x]") }
        #expect(failure.offset == 4)
    }

    // MARK: Round trip

    @Test func writerOutputParsesBackToAnEqualValue() throws {
        var rng = SplitMix64(seed: 0x5EED)
        for iteration in 0..<500 {
            let value = randomJSONValue(&rng)
            let json = written(value)
            let parsed = try #require(try? JSONParser.parse(json), "iteration \(iteration): \(json)")
            #expect(parsed == value, "iteration \(iteration): \(json)")
        }
    }
}

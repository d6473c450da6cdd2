import Testing

@testable import Relay

@Suite("JSONByteSink")
struct JSONByteSinkTests {
    static func withSink<T>(capacity: Int, _ body: (inout JSONByteSink) -> T) -> T {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { memory in
            var sink = JSONByteSink(memory)
            return body(&sink)
        }
    }

    @Test(arguments: [Int64.min, Int64.min + 1, -100, -9, -1, 0, 1, 9, 10, 99, 100, 1_234_567, Int64.max])
    func integersInDecimal(_ integer: Int64) {
        let text = Self.withSink(capacity: 32) { sink in
            sink.writeInteger(integer)
            return String(decoding: sink.written, as: UTF8.self)
        }
        #expect(text == String(integer))
    }

    /// Strings and their JSON text as Python's `json.dumps(s, ensure_ascii=False)` writes it, but
    /// for backspace and form feed, written `\u0008` and `\u000c` (Python: `\b`, `\f`), which
    /// JSON reads alike.
    static let escapedStrings: [(String, String)] = [
        ("", #""""#), ("plain", #""plain""#), (#"q"u\o"#, #""q\"u\\o""#),
        ("tab\there\nnew\r\u{00}\u{01}\u{08}\u{0C}\u{1F}", #""tab\there\nnew\r\u0000\u0001\u0008\u000c\u001f""#),
        ("é ☃ \u{7F}", "\"é ☃ \u{7F}\""),
    ]

    @Test(arguments: escapedStrings)
    func stringsEscapedAsJSONRequires(_ string: String, _ expected: String) throws {
        let text = Self.withSink(capacity: 128) { sink in
            sink.writeString(string)
            return String(decoding: sink.written, as: UTF8.self)
        }
        #expect(text == expected)
        #expect(try JSONParser.parse(text) == .string(string), "and JSON reads it back")
    }

    @Test func fillsExactlyThenOverflows() {
        Self.withSink(capacity: 4) { sink in
            Array("{\"a".utf8).withUnsafeBufferPointer { sink.writeRaw($0) }
            sink.writeByte(UInt8(ascii: "\""))
            #expect(!sink.overflowed)
            #expect(String(decoding: sink.written, as: UTF8.self) == "{\"a\"")
            sink.writeByte(UInt8(ascii: "}"))
            #expect(sink.overflowed)
            #expect(sink.count == 4, "nothing past the end")
        }
        Self.withSink(capacity: 4) { sink in
            Array("12345".utf8).withUnsafeBufferPointer { sink.writeRaw($0) }
            #expect(sink.overflowed)
            #expect(sink.count == 0, "a raw write that does not fit writes nothing")
        }
    }

    @Test("A sink over memory of its own grows it up to its limit, then overflows")
    func growingMemory() {
        let written = JSONByteSink.withGrowingMemory(initialCapacity: 1, limit: 12_000) { sink -> String in
            for _ in 0..<5_000 { sink.writeByte(UInt8(ascii: "x")) }
            Array(repeating: UInt8(ascii: "x"), count: 5_000).withUnsafeBufferPointer { sink.writeRaw($0) }
            sink.write(.array([.integer(1), .number(2.5), .null, .string("a\nb")]), roundingFloats: false)
            #expect(!sink.overflowed)
            return String(decoding: sink.written, as: UTF8.self)
        }
        #expect(written == String(repeating: "x", count: 10_000) + #"[1,2.5,null,"a\nb"]"#)
        JSONByteSink.withGrowingMemory(initialCapacity: 16, limit: 100) { sink in
            Array(repeating: UInt8(ascii: "x"), count: 100).withUnsafeBufferPointer { sink.writeRaw($0) }
            #expect(!sink.overflowed && sink.count == 100)
            sink.writeByte(UInt8(ascii: "x"))
            #expect(sink.overflowed && sink.count == 100, "nothing past the limit")
        }
    }

    /// Rounded to 2 decimals as Python's `round(v, 2)`, written as its `json.dumps` writes them.
    @Test func roundedValuesAsPythonWritesThem() {
        let cases: [(JSONValue, String)] = [
            (.number(12345678901234567.0), "1.2345678901234568e+16"), (.number(0.125), "0.12"),
            (.number(-2.675), "-2.67"), (.number(1e-7), "0.0"), (.integer(-3), "-3"),
            (["a": .number(1.005)], #"{"a":1.0}"#),
        ]
        for (value, expected) in cases {
            let sunk = Self.withSink(capacity: 64) { sink in
                sink.write(value, roundingFloats: true)
                return String(decoding: sink.written, as: UTF8.self)
            }
            #expect(sunk == expected)
        }
    }
}

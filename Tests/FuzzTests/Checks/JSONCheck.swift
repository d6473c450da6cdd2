import Foundation
import NIOCore

@testable import Relay

/// JSONParser, JSONWriter, JSONByteSink and PlainJSONScanner on any bytes.
///
/// Whatever the parser accepts is written back and must parse to the same value, within
/// `writtenSizeBound`, also sorted and with floats rounded; a sink lent too little memory, or
/// growing up to too small a limit, must say it overflowed and never write past it. What the plain-subset scanner accepts the parser
/// must accept too, with the same value count and the same value once copied. Whatever the
/// parser accepts Foundation's JSONSerialization must accept, and read as the same value
/// (``sameAsFoundation(_:_:)``): an oracle apart from the parser, which the round trips above
/// reuse. (Not the other way round:
/// Foundation on Linux reads input with NUL bytes as UTF-16 or UTF-32 and accepts a trailing
/// comma or a byte-order mark, none of which the server has to take.)
struct JSONCheck {
    /// Writes a value as the server does; a seam for showing the check fails on a broken writer.
    var write: (_ value: JSONValue, _ roundingFloats: Bool) -> [UInt8] = { value, rounding in
        var writer = JSONWriter(capacity: 16)
        writer.write(value, roundingFloats: rounding)
        return Array(writer.buffer.readableBytesView)
    }

    /// Writes a value, floats rounded, into a growing sink limited to `limit` bytes: whether it
    /// overflowed, and what it holds; a seam for showing the check fails on a broken sink.
    var writeToGrowingSink: (_ value: JSONValue, _ limit: Int) -> (overflowed: Bool, written: [UInt8]) = {
        value, limit in
        JSONByteSink.withGrowingMemory(initialCapacity: 1, limit: limit) { sink in
            sink.write(value, roundingFloats: true)
            return (sink.overflowed, Array(sink.written))
        }
    }

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        var valueCount = 0
        let parsed: JSONValue?
        var failure: JSONParser.Failure?
        do {
            parsed = try JSONParser.parse(input, maxDepth: JSONParser.maxDepth, valueCount: &valueCount)
        } catch {
            parsed = nil
            failure = error
            try require(error.offset >= 0 && error.offset <= input.count, "failure offset \(error.offset) out of range")
        }
        if let parsed { try self.rewrite(parsed) }
        for rounding in [false, true] {
            try self.scan(input, rounding: rounding, parsed: parsed, valueCount: valueCount, failure: failure)
        }
        if let parsed {
            let foundation = try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])
            guard let foundation else { throw FuzzViolation("accepted, but Foundation rejects it") }
            try require(
                Self.sameAsFoundation(parsed, foundation),
                "read as \(parsed), Foundation reads \(foundation): \(shown(Array(input)))")
        }
    }

    /// Writing back: the same value, within the size bound, in a sink of any size.
    private func rewrite(_ parsed: JSONValue) throws(FuzzViolation) {
        let plain = self.write(parsed, false)
        let bound = parsed.writtenSizeBound()
        try require(plain.count <= bound, "written \(plain.count) bytes, over the bound \(bound)")
        try require(Self.reparse(plain) == parsed, "written back as \(shown(plain)), which reads differently")
        let rounded = self.write(parsed, true)
        try require(Self.reparse(rounded) != nil, "written with rounding as \(shown(rounded)), not JSON")
        var sortedWriter = JSONWriter(capacity: 8)
        sortedWriter.writeSorted(parsed)
        let sorted = Array(sortedWriter.buffer.readableBytesView)
        try require(Self.reparse(sorted) == parsed, "written sorted as \(shown(sorted)), which reads differently")
        // Lent memory too small: the sink must overflow, never write past it.
        for room in [0, 1, plain.count / 2, max(0, plain.count - 1), plain.count] {
            let memory = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: room)
            defer { memory.deallocate() }
            var sink = JSONByteSink(memory)
            sink.write(parsed, roundingFloats: false)
            if room < plain.count {
                try require(sink.overflowed, "a sink of \(room) bytes took \(plain.count) without overflowing")
            } else {
                try require(!sink.overflowed && Array(sink.written) == plain, "a sink of \(room) bytes differs")
            }
        }
        // Memory of its own, grown up to a limit: past it the sink overflows, within it it holds
        // what the writer writes.
        for limit in [max(1, rounded.count / 2), max(1, rounded.count - 1), rounded.count] {
            let (overflowed, written) = self.writeToGrowingSink(parsed, limit)
            if rounded.count > limit {
                try require(
                    overflowed && written.count <= limit,
                    "a growing sink limited to \(limit) bytes took \(rounded.count)")
            } else {
                try require(!overflowed && written == rounded, "a growing sink limited to \(limit) bytes differs")
            }
        }
    }

    /// The plain-subset scanner, copying a value and reading a message member by member.
    private func scan(
        _ input: UnsafeBufferPointer<UInt8>, rounding: Bool, parsed: JSONValue?, valueCount: Int,
        failure: JSONParser.Failure?
    ) throws(FuzzViolation) {
        let capacity = input.count * 2 + 64
        let memory = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity)
        defer { memory.deallocate() }
        var sink = JSONByteSink(memory)
        var scanner = PlainJSONScanner(input, roundingFloats: rounding)
        let range = scanner.value(copyingTo: &sink, copy: true)
        scanner.skipWhitespace()
        if range != nil, scanner.isAtEnd {
            guard let parsed else {
                throw FuzzViolation("the plain scanner accepts what the parser rejects: \(String(describing: failure))")
            }
            try require(
                scanner.valueCount == valueCount, "value count: scanner \(scanner.valueCount), parser \(valueCount)")
            try require(!sink.overflowed, "the scanner's copy overflowed \(capacity) bytes")
            let copied = Array(sink.written)
            let expected = Self.reparse(self.write(parsed, rounding))
            try require(
                Self.reparse(copied) == expected && expected != nil,
                "copied\(rounding ? " rounded" : "") as \(shown(copied)), unlike the writer")
        }
        var members = PlainJSONScanner(input, roundingFloats: rounding)
        var keysInside = true
        let read = members.readMessage { scanner, key in
            keysInside = keysInside && key.lowerBound >= 0 && key.upperBound <= input.count
            return scanner.skipValue()
        }
        try require(keysInside, "readMessage handed out a key outside the input")
        try require(
            !read || parsed != nil, "readMessage accepts what the parser rejects: \(String(describing: failure))")
    }

    /// Whether the parser's `value` is what Foundation read: strings by code point (not
    /// canonical equivalence), numbers by bit pattern (an integer as Foundation's integer, a
    /// double as its double, `-0` and `-0.0` apart); a number Foundation keeps as a decimal (past
    /// 64 bits, or more digits than a double holds) within 1e-14 of it, as its conversion of a
    /// decimal to a double is not exact (-9223372080999999.9 came back 3 ulps off).
    static func sameAsFoundation(_ value: JSONValue, _ object: Any) -> Bool {
        switch value {
        case .null: return object is NSNull
        case .bool(let bool):
            guard let number = object as? NSNumber, Self.isBoolean(number) else { return false }
            return number.boolValue == bool
        case .integer(let integer):
            guard let number = object as? NSNumber, !Self.isBoolean(number) else { return false }
            if number is NSDecimalNumber { return number.description == String(integer) }
            return "ilqsc".contains(Character(UnicodeScalar(UInt8(number.objCType.pointee))))
                && number.int64Value == integer
        case .number(let double):
            guard let number = object as? NSNumber, !Self.isBoolean(number) else { return false }
            if number is NSDecimalNumber { return abs(number.doubleValue - double) <= abs(double) * 1e-14 }
            switch Character(UnicodeScalar(UInt8(number.objCType.pointee))) {
            case "d", "f": return number.doubleValue.bitPattern == double.bitPattern
            case "Q": return Double(number.uint64Value) == double
            default: return false
            }
        case .string(let string):
            guard let other = object as? String else { return false }
            return Self.sameScalars(string, other)
        case .array(let elements):
            guard let others = object as? [Any], others.count == elements.count else { return false }
            return zip(elements, others).allSatisfy { Self.sameAsFoundation($0, $1) }
        case .object(let members):
            guard let others = object as? [String: Any] else { return false }
            // Keys that differ by a U+FEFF Foundation drops may be one key to it: those members are
            // not compared, nor the count. The others must all be Foundation's too.
            func withoutMarks(_ key: String) -> String {
                String(String.UnicodeScalarView(key.unicodeScalars.filter { $0 != "\u{FEFF}" }))
            }
            let marked = Set(members.keys.filter { $0.unicodeScalars.contains("\u{FEFF}") }.map(withoutMarks))
            guard !marked.isEmpty || others.count == members.count else { return false }
            return members.allSatisfy { key, member in
                marked.contains(withoutMarks(key))
                    || others.contains { Self.sameScalars(key, $0.key) && Self.sameAsFoundation(member, $0.value) }
            }
        }
    }

    /// The same code points, but that Foundation may lack some U+FEFF the parser kept: it drops a
    /// raw one at the start of a string and after an escape (as if each were a byte-order mark:
    /// `"\u{FEFF}a"` reads as `a`), which the parser keeps, as JSON says. Never the other way.
    private static func sameScalars(_ string: String, _ foundation: String) -> Bool {
        var theirs = foundation.unicodeScalars.makeIterator()
        var next = theirs.next()
        for scalar in string.unicodeScalars {
            if scalar == next {
                next = theirs.next()
            } else if scalar != "\u{FEFF}" {
                return false
            }
        }
        return next == nil
    }

    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(describing: type(of: number)) == "__NSCFBoolean"
    }

    private static func reparse(_ bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { try? JSONParser.parse($0, maxDepth: 1000) }
    }
}

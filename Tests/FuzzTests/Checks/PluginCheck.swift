import Relay

@testable import Handlers

/// A plugin's stdout: LineSplitter over reads cut anywhere, then PluginLine.decode and
/// UnparsableAnswer.id on every line.
///
/// Input: byte 0 is `maxLineBytes` - 1, byte 1 seeds where the reads are cut, the rest is the
/// stream. The lines must be those of a plain split at `\n` (less a trailing `\r`), with a line
/// over the limit reported once instead. The lenient id reader must name the request the strict
/// decode finds a line answering (unless a `\u` escape spells its keys), and the same one once a
/// member the strict decode refuses is added; and none for a JSON object of another `kind`.
struct PluginCheck {
    /// The lenient reader of an answer's id; a seam for showing the check fails.
    var lenientID: ([UInt8]) -> UInt64? = { UnparsableAnswer.id($0) }

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        guard input.count >= 2 else { return }
        let maxLine = Int(input[0]) + 1
        var seed = UInt64(input[1]) &* 0x9E37_79B9_7F4A_7C15 | 1
        let stream = UnsafeBufferPointer(rebasing: input[2...])

        var splitter = LineSplitter(maxLineBytes: maxLine)
        var lines: [[UInt8]] = []
        var oversized = 0
        var start = 0
        while start < stream.count {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            let length = min(stream.count - start, Int(seed % 97) + Int(seed & 1))
            try withExactCopy(of: stream[start..<(start + length)]) { read throws(FuzzViolation) in
                splitter.feed(
                    UnsafeRawBufferPointer(read), onLine: { lines.append(Array($0)) }, onOversized: { oversized += 1 })
            }
            start += length
        }
        let (expected, expectedOversized) = Self.plainSplit(stream, maxLine: maxLine)
        try require(lines == expected, "lines \(lines.map(shown)), a plain split gives \(expected.map(shown))")
        try require(oversized == expectedOversized, "\(oversized) lines oversized, not \(expectedOversized)")

        for line in lines + [Array(stream)] {
            if Self.isOtherKind(line) {
                let lenient = self.lenientID(line)
                try require(
                    lenient == nil, "a line of another kind read leniently as answer \(lenient!): \(shown(line))")
            }
            // A `\u` escape may spell a key or `answer` (`\u0069d`), which only the strict decode reads.
            guard case .answer(let id, _) = PluginLine.decode(line), !Self.hasUnicodeEscape(line) else { continue }
            let lenient = self.lenientID(line)
            try require(
                lenient == id, "answer \(id) read leniently as \(lenient.map(String.init) ?? "nil"): \(shown(line))")
            // Spoiled by a member the strict decode refuses (as Python writes NaN), it is the same answer.
            guard let end = line.lastIndex(of: UInt8(ascii: "}")) else { continue }
            var spoiled = line
            spoiled.insert(contentsOf: Array(#","zz":NaN"#.utf8), at: end)
            let spoiledID = self.lenientID(spoiled)
            try require(
                spoiledID == id,
                "answer \(id) with a NaN read as \(spoiledID.map(String.init) ?? "nil"): \(shown(spoiled))")
        }
    }

    /// Whether `line` is a JSON object whose one `kind` is not `"answer"` (or is missing), written
    /// without `\u` escapes: no answer, however read.
    private static func isOtherKind(_ line: [UInt8]) -> Bool {
        guard !Self.hasUnicodeEscape(line), line.ranges(of: Array(#""kind""#.utf8)).count <= 1,
            case .object(let fields)? = try? JSONParser.parse(line)
        else { return false }
        return fields["kind"]?.stringValue != "answer"
    }

    private static func hasUnicodeEscape(_ line: [UInt8]) -> Bool {
        zip(line, line.dropFirst()).contains { $0 == UInt8(ascii: "\\") && $1 == UInt8(ascii: "u") }
    }

    /// Whole lines of `stream` up to `maxLine` bytes (a `\r` before `\n` dropped), and how many
    /// were longer, the unterminated last one included.
    private static func plainSplit(_ stream: UnsafeBufferPointer<UInt8>, maxLine: Int) -> ([[UInt8]], Int) {
        var lines: [[UInt8]] = []
        var oversized = 0
        var current: [UInt8] = []
        for byte in stream {
            guard byte == UInt8(ascii: "\n") else {
                current.append(byte)
                continue
            }
            if current.count > maxLine {
                oversized += 1
            } else {
                if current.last == UInt8(ascii: "\r") { current.removeLast() }
                lines.append(current)
            }
            current = []
        }
        return (lines, oversized + (current.count > maxLine ? 1 : 0))
    }
}

/// The request id of an answer line that is not JSON this server accepts.
///
/// A plugin in Python writes `NaN`, `Infinity`, a 400-digit integer or a lone surrogate
/// escape as readily as valid JSON. Such a line is still an answer to a known request: read
/// leniently, its top-level `"kind":"answer"` and `"id":N` let the sender get `plugin_error`
/// at once instead of `plugin_timeout` later, and keep it from counting toward a restart.
enum UnparsableAnswer {
    /// The `id` of a line whose top-level object has `"kind":"answer"` and an integer `id`,
    /// read without checking anything else; `nil` for any other line.
    static func id(_ line: some Collection<UInt8>) -> UInt64? {
        var scanner = TopLevelScanner(bytes: Array(line))
        return scanner.answerID()
    }
}

/// Walks a top-level JSON object's members by bytes alone: strings are skipped to their
/// closing quote, nested values by bracket depth, and only `kind` and `id` are read.
private struct TopLevelScanner {
    let bytes: [UInt8]
    var position = 0

    mutating func answerID() -> UInt64? {
        self.skipWhitespace()
        guard self.take(UInt8(ascii: "{")) else { return nil }
        var kind: ArraySlice<UInt8>?
        var id: UInt64?
        while true {
            self.skipWhitespace()
            guard let key = self.string() else { break }
            self.skipWhitespace()
            guard self.take(UInt8(ascii: ":")) else { break }
            self.skipWhitespace()
            if key.elementsEqual("kind".utf8) {
                kind = self.string()
            } else if key.elementsEqual("id".utf8) {
                id = self.integer()
            }
            guard self.skipValue() else { break }
            self.skipWhitespace()
            guard self.take(UInt8(ascii: ",")) else { break }
        }
        guard let kind, kind.elementsEqual("answer".utf8) else { return nil }
        return id
    }

    private var current: UInt8? { self.position < self.bytes.count ? self.bytes[self.position] : nil }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard self.current == byte else { return false }
        self.position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.position += 1
        }
    }

    /// A string's raw bytes between its quotes (escapes left as they are).
    private mutating func string() -> ArraySlice<UInt8>? {
        let start = self.position
        guard self.take(UInt8(ascii: "\"")) else { return nil }
        while let byte = self.current {
            self.position += 1
            if byte == UInt8(ascii: "\\") {
                self.position += 1
            } else if byte == UInt8(ascii: "\"") {
                return self.bytes[(start + 1)..<(self.position - 1)]
            }
        }
        return nil
    }

    /// A non-negative integer that the next value is in full (not `3.5`, not `3e2`).
    private mutating func integer() -> UInt64? {
        var scanner = self
        // `-0` is 0 to the strict decode too; any other negative is no request's id.
        let negative = scanner.take(UInt8(ascii: "-"))
        var value: UInt64 = 0
        var digits = 0
        while let byte = scanner.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            digits += 1
            scanner.position += 1
        }
        scanner.skipWhitespace()
        guard digits > 0, !negative || value == 0,
            scanner.current == UInt8(ascii: ",") || scanner.current == UInt8(ascii: "}")
        else { return nil }
        return value
    }

    /// Moves past one value of any kind; `false` at the end of the line.
    private mutating func skipValue() -> Bool {
        var depth = 0
        while let byte = self.current {
            switch byte {
            case UInt8(ascii: "\""):
                guard self.string() != nil else { return false }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return true }  // the end of the top-level object
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 0 { return true }
            default:
                break
            }
            self.position += 1
        }
        return false
    }
}

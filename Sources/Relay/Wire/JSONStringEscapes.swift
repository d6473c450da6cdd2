/// What JSON requires escaped inside a string, and how: the one rule ``JSONWriter`` and
/// ``JSONByteSink`` both write strings by.
enum JSONStringEscapes {
    /// Whether `byte` (of a string's UTF-8) must be escaped.
    static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Writes `utf8` as the inside of a JSON string literal: all at once through `raw` when nothing
    /// needs escaping (the usual case), else byte by byte through `byte`, escapes included.
    static func write(
        _ utf8: UnsafeBufferPointer<UInt8>, raw: (UnsafeBufferPointer<UInt8>) -> Void, byte: (UInt8) -> Void
    ) {
        guard utf8.contains(where: Self.needsEscaping) else { return raw(utf8) }
        for next in utf8 {
            if Self.needsEscaping(next) {
                Self.writeEscape(of: next, byte)
            } else {
                byte(next)
            }
        }
    }

    /// How many bytes ``writeEscape(of:_:)`` writes for `byte`.
    static func escapeLength(of byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: 2
        default: 6  // \u00xx
        }
    }

    /// Hands `write`, byte by byte, the escape of a `byte` for which ``needsEscaping(_:)`` is true:
    /// `\"`, `\\`, `\n`, `\r`, `\t`, or `\u00xx` for the other control characters.
    static func writeEscape(of byte: UInt8, _ write: (UInt8) -> Void) {
        assert(Self.needsEscaping(byte), "only quotes, backslashes and control characters are escaped")
        write(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): write(byte)
        case 0x0A: write(UInt8(ascii: "n"))
        case 0x0D: write(UInt8(ascii: "r"))
        case 0x09: write(UInt8(ascii: "t"))
        default:
            let hexDigits: StaticString = "0123456789abcdef"
            write(UInt8(ascii: "u"))
            write(UInt8(ascii: "0"))
            write(UInt8(ascii: "0"))
            hexDigits.withUTF8Buffer { hex in
                write(hex[Int(byte >> 4)])
                write(hex[Int(byte & 0x0F)])
            }
        }
    }
}

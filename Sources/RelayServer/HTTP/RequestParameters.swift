import Foundation
import Handlers
import Hummingbird
import Relay

extension Parameters {
    /// A path parameter with its percent-encoding removed (`a%2Fb` → `a/b`), as Starlette's
    /// `unquote` removes it: a malformed escape stays as it is, bytes that are not UTF-8 become
    /// U+FFFD, and `+` is a plus.
    ///
    /// The router matches on the raw path, so an encoded `/` stays inside one segment.
    func decoded(_ name: String) -> String {
        Request.percentDecoded((self.get(name) ?? "")[...], plusIsSpace: false)
    }

    /// A player name from the path, trimmed as names are when stored, so that `/api/load_game/%20dave`
    /// finds the game saved as `" dave "` (stored as `dave`).
    func playerName(_ name: String = "player_name") -> String {
        self.decoded(name).trimmingWhitespace()
    }
}

extension Request {
    /// A query value as FastAPI reads a form-encoded query: `+` is a space (a browser's
    /// `URLSearchParams` writes spaces so), names are percent-decoded like values, the last of a
    /// repeated parameter wins, and a parameter without a value (`?limit=`, `?limit`) is `""`.
    ///
    /// Linear in the query, whatever it holds: only the value that wins is decoded.
    func query(_ name: String) -> String? {
        guard let query = self.uri.query else { return nil }
        var value: Substring??
        for pair in query.split(separator: "&") {
            let equals = pair.firstIndex(of: "=")
            guard Self.formDecoded(pair[..<(equals ?? pair.endIndex)], is: name) else { continue }
            value = .some(equals.map { pair[pair.index(after: $0)...] })
        }
        return value.map { $0.map(Self.formDecoded) ?? "" }
    }

    /// `?game_mode=`, trimmed as stored modes are; empty means every mode, as the old backend's
    /// `if game_mode:` read it.
    var gameModeFilter: String? {
        guard let mode = self.query("game_mode"), !mode.isEmpty else { return nil }
        return mode.trimmingWhitespace()
    }

    /// `text` with `+` as a space and percent-escapes decoded, as Python's `unquote_plus` does.
    static func formDecoded(_ text: Substring) -> String {
        Self.percentDecoded(text, plusIsSpace: true)
    }

    /// `text` with percent-escapes decoded, and with `plusIsSpace` each `+` as a space, as Python's
    /// `unquote` and `unquote_plus` do: a malformed escape stays as it is, and bytes that are not
    /// UTF-8 become U+FFFD. One pass over the bytes (Foundation's two took ~30 µs a pair on a long
    /// query).
    static func percentDecoded(_ text: Substring, plusIsSpace: Bool) -> String {
        guard Self.needsDecoding(text) else { return String(text) }
        let utf8 = text.utf8
        var decoded: [UInt8] = []
        decoded.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            index = utf8.index(after: index)
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace:
                decoded.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                let rest = utf8[index...]
                guard let first = rest.first, let second = rest.dropFirst().first,
                    let high = Self.hexValue(first), let low = Self.hexValue(second)
                else {
                    decoded.append(byte)
                    continue
                }
                decoded.append(high << 4 | low)
                index = utf8.index(index, offsetBy: 2)
            default:
                decoded.append(byte)
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Whether `text`, decoded, is `name` (code point for code point, as Python compares): without
    /// making a `String` of it unless it needs decoding.
    private static func formDecoded(_ text: Substring, is name: String) -> Bool {
        Self.needsDecoding(text)
            ? Self.formDecoded(text).utf8.elementsEqual(name.utf8) : text.utf8.elementsEqual(name.utf8)
    }

    /// Whether `text` holds a `+` or a `%`: anything else is read as it is.
    private static func needsDecoding(_ text: Substring) -> Bool {
        text.utf8.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

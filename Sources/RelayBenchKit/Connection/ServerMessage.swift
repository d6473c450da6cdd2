/// Reads the few fields the bench needs straight from a server message's bytes, without
/// building a JSON tree: the receive path runs once per delivery and must stay cheap.
///
/// Tolerates whitespace around `:` (Python's `json.dumps` writes `"type": "…"`), so the bench
/// also measures servers other than this one.
enum ServerMessage {
    /// The message types the bench reacts to.
    enum Kind: Equatable {
        /// `player_state_update`: a relayed bench message, labelled with its sender's `player_id`.
        case playerStateUpdate
        /// `enemy_state_update`: a relayed bench message (``RelayScenario`` `--message enemy-state`).
        case enemyStateUpdate
        case roomCreated
        case roomJoined
        case playerJoined
        case playerDisconnected
        /// A player gone for good; also how a server without reconnects in the lobby (the old
        /// backend) announces a drop there.
        case playerLeft
        case error
        case other
    }

    /// The `type` of the message (the first `"type"` key in it).
    static func kind(of bytes: UnsafeRawBufferPointer) -> Kind {
        guard let start = self.valueStart(ofKey: "type", in: bytes), start < bytes.count,
            bytes[start] == UInt8(ascii: "\"")
        else { return .other }
        let name = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)...])
        for (candidate, kind) in Self.kinds where Self.hasPrefix(name, Self.bytes(candidate)) {
            return kind
        }
        return .other
    }

    /// The integer value of the first `key` in the message (`"t": 123` → 123).
    static func integer(forKey key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int64? {
        self.integerAndEnd(forKey: key, in: bytes)?.value
    }

    /// What the bench stamped a state message with (``StateMessageEncoder``): when it was due
    /// (`t`), and its sequence number (`s`) in its sender's stream (`k`), inside its `state`
    /// (a server may add members of its own before it, a `"t"` time of its own, say). Each key is
    /// looked for from where the value before it ended, as the bench writes them in that order
    /// (a server that reordered them has them looked for in the whole state): one pass over the
    /// message. Never before the state, if there is one (a `t` of the server's own there is no
    /// due time, even when the state's is unreadable). nil unless all three are there: the bench
    /// stamps every message with them, and without `s` and `k` a relay could be neither told
    /// from an echo or a repeat nor counted against a loss.
    static func stateStamp(in bytes: UnsafeRawBufferPointer) -> (dueAt: Int64, sequence: Int64, stream: Int64)? {
        let state = self.valueStart(ofKey: "state", in: bytes) ?? 0
        guard
            let (dueAt, afterDue) = self.integerAndEnd(forKey: "t", in: bytes, from: state),
            let (sequence, afterSequence) =
                self.integerAndEnd(forKey: "s", in: bytes, from: afterDue)
                ?? self.integerAndEnd(forKey: "s", in: bytes, from: state),
            let (stream, _) =
                self.integerAndEnd(forKey: "k", in: bytes, from: afterSequence)
                ?? self.integerAndEnd(forKey: "k", in: bytes, from: state)
        else { return nil }
        return (dueAt, sequence, stream)
    }

    /// The integer value of the first `key` from `start` on, and the index just past it.
    private static func integerAndEnd(
        forKey key: StaticString, in bytes: UnsafeRawBufferPointer, from start: Int = 0
    ) -> (value: Int64, end: Int)? {
        guard var index = self.valueStart(ofKey: key, in: bytes, from: start) else { return nil }
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 18 {
            value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        // A whole number written as a float (`71280000000.0`, as a server that rounds every
        // number writes it) is the same number; exact, since the bench's are under 2^53.
        if digits > 0, index + 1 < bytes.count, bytes[index] == UInt8(ascii: "."), bytes[index + 1] == UInt8(ascii: "0")
        {
            index += 1
            while index < bytes.count, bytes[index] == UInt8(ascii: "0") { index += 1 }
        }
        // Whole: a 19th digit, a fraction or an exponent (`7.1E10`) would be misread as its start.
        guard digits > 0, index == bytes.count || Self.endsANumber(bytes[index]) else { return nil }
        return (negative ? -value : value, index)
    }

    /// The string value of the first `key` in the message (no escapes expected: codes and ids).
    static func string(forKey key: StaticString, in bytes: UnsafeRawBufferPointer) -> String? {
        self.valueStart(ofKey: key, in: bytes).flatMap { Self.string(at: $0, in: bytes) }
    }

    /// The string value of `key` in the message's outermost object, wherever it stands: a server
    /// may write `room_info`, whose players have ids of their own, before the message's own
    /// `player_id` (JSON leaves key order free). For the few messages that are not relays.
    static func topLevelString(forKey key: StaticString, in bytes: UnsafeRawBufferPointer) -> String? {
        self.topLevelValueStart(forKey: key, in: bytes).flatMap { Self.string(at: $0, in: bytes) }
    }

    /// Whether the string value of `key` in the message's outermost object is `expected`'s bytes,
    /// read in place (a relay's `player_id`, on the receive path of every delivery).
    static func topLevelString(
        forKey key: StaticString, in bytes: UnsafeRawBufferPointer, equals expected: [UInt8]
    ) -> Bool {
        guard var start = self.topLevelValueStart(forKey: key, in: bytes) else { return false }
        while start < bytes.count, Self.isWhitespace(bytes[start]) { start += 1 }
        let end = start + 1 + expected.count
        guard end < bytes.count, bytes[start] == UInt8(ascii: "\""), bytes[end] == UInt8(ascii: "\"") else {
            return false
        }
        return expected.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<end]).elementsEqual($0) }
    }

    /// Where the value of `key` in the message's outermost object starts (past its `:`).
    private static func topLevelValueStart(forKey key: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
        let keyBytes = Self.bytes(key)
        var (index, depth) = (0, 0)
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "\""):
                let start = index + 1
                index = start
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard depth == 1, index - start == keyBytes.count,
                    Self.hasPrefix(UnsafeRawBufferPointer(rebasing: bytes[start...]), keyBytes)
                else { break }
                var cursor = index + 1
                while cursor < bytes.count, Self.isWhitespace(bytes[cursor]) { cursor += 1 }
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") else { break }
                return cursor + 1
            default: break
            }
            index += 1
        }
        return nil
    }

    /// The string starting at `index` (after any whitespace); nil if the value there is not one.
    private static func string(at index: Int, in bytes: UnsafeRawBufferPointer) -> String? {
        var start = index
        while start < bytes.count, Self.isWhitespace(bytes[start]) { start += 1 }
        guard start < bytes.count, bytes[start] == UInt8(ascii: "\"") else { return nil }
        var end = start + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
        guard end < bytes.count else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<end]), as: UTF8.self)
    }

    /// Index of the first byte of the value of `"key"`, past the colon and any whitespace.
    static func valueStart(ofKey key: StaticString, in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        let keyBytes = Self.bytes(key)
        let quote = UInt8(ascii: "\"")
        var index = start
        let lastStart = bytes.count - keyBytes.count - 2
        while index <= lastStart {
            if bytes[index] == quote, bytes[index + keyBytes.count + 1] == quote,
                Self.hasPrefix(UnsafeRawBufferPointer(rebasing: bytes[(index + 1)...]), keyBytes)
            {
                var cursor = index + keyBytes.count + 2
                while cursor < bytes.count, Self.isWhitespace(bytes[cursor]) { cursor += 1 }
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") {
                    cursor += 1
                    while cursor < bytes.count, Self.isWhitespace(bytes[cursor]) { cursor += 1 }
                    return cursor
                }
            }
            index += 1
        }
        return nil
    }

    /// Type names with a closing quote, so `player_joined` never matches `player_joined_x`.
    private static let kinds: [(StaticString, Kind)] = [
        ("player_state_update\"", .playerStateUpdate),
        ("enemy_state_update\"", .enemyStateUpdate),
        ("room_created\"", .roomCreated),
        ("room_joined\"", .roomJoined),
        ("player_joined\"", .playerJoined),
        ("player_disconnected\"", .playerDisconnected),
        ("player_left\"", .playerLeft),
        ("error\"", .error),
    ]

    private static func bytes(_ text: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
    }

    private static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= prefix.count else { return false }
        for offset in 0..<prefix.count where bytes[offset] != prefix[offset] { return false }
        return true
    }

    /// Whether `byte` may follow a JSON number.
    private static func endsANumber(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || Self.isWhitespace(byte)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")
            || byte == UInt8(ascii: "\r")
    }
}

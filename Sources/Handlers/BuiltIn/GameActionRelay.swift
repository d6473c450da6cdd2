internal import NIOCore
internal import Relay

/// A plain `game_action` read from its bytes: the relayed `game_action` written with no
/// `JSONValue` built, `data` copied with its numbers as the general path writes them (unrounded).
///
/// A game sends one for each shot, jump or hit. On the general path a large `data` costs the
/// event loop milliseconds (decoded into a tree, encoded, freed) that every other room on it
/// waits for; here it costs a scan and a copy. Declines what ``GameActionHandler``'s general
/// path must decide or name: an `assist` (which may move a player), a repeated `type` or `data`,
/// an `action` that is not a string or `data` that is neither an object nor null, and anything
/// outside ``PlainJSONScanner``'s subset.
struct GameActionRelay {
    /// The encoded `game_action` for the sender's room-mates.
    let relayed: ByteBuffer

    /// `type` (0), `action` (1) and `data` (2), the members of the envelope that matter.
    private static let envelopeTable = ByteKeyTable(["type", "action", "data"])
    private static let typeTable = ByteKeyTable(["game_action"])
    private static let assistTable = ByteKeyTable(["assist"])

    /// Reads `bytes`, or nil when the message is not a plain `game_action`.
    init?(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) {
        guard let envelope = Self.envelope(bytes) else { return nil }
        // Copied numbers are never longer than their tokens, bar rare exceptions (a float past
        // 10^15 printed with an exponent) that the margin covers; a sink that still overflows
        // declines. An escaped player id takes up to 6 bytes a byte (`\u001f`).
        let capacity = bytes.count + 6 * playerID.utf8.count + 64
        let relayed = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { memory -> ByteBuffer? in
            var relayed = JSONByteSink(memory)
            relayed.writeFragment(#"{"type":"game_action","player_id":"#)
            relayed.writeString(playerID)
            relayed.writeFragment(#","action":"#)
            // A plain string is ASCII without escapes: copied with its quotes, it is written.
            relayed.writeRaw(
                UnsafeBufferPointer(
                    rebasing: bytes[(envelope.action.lowerBound - 1)..<(envelope.action.upperBound + 1)]))
            relayed.writeFragment(#","data":"#)
            if let data = envelope.data {
                var copier = PlainJSONScanner(UnsafeBufferPointer(rebasing: bytes[data]), roundingFloats: false)
                guard copier.value(copyingTo: &relayed, copy: true) != nil else { return nil }
            } else {
                relayed.writeFragment("{}")  // absent or null, as on the general path
            }
            relayed.writeByte(UInt8(ascii: "}"))
            guard !relayed.overflowed else { return nil }
            return OutboundMessage.encoded(json: relayed.written)
        }
        guard let relayed else { return nil }
        self.relayed = relayed
    }

    /// Where `action`'s content and `data`'s object (nil when absent or null) are in `bytes`,
    /// or nil when the message is not a plain `game_action`.
    private static func envelope(_ bytes: UnsafeBufferPointer<UInt8>) -> (action: Range<Int>, data: Range<Int>?)? {
        var scanner = PlainJSONScanner(bytes, roundingFloats: false)
        var nowhere = JSONByteSink(UnsafeMutableBufferPointer(start: nil, count: 0))
        var action: Range<Int>?
        var data: Range<Int>?
        var sawType = false
        var sawData = false
        let isPlain = scanner.readMessage { scanner, key in
            switch Self.envelopeTable.index(of: bytes[key]) {
            case 0:
                guard !sawType, let type = scanner.string(), Self.typeTable.contains(bytes[type]) else { return false }
                sawType = true
            case 1:
                // A repeated `action` counts last, as on the general path.
                guard let name = scanner.string(), !Self.assistTable.contains(bytes[name]) else { return false }
                action = name
            case 2:
                let first = scanner.peek()
                guard !sawData, first == UInt8(ascii: "{") || first == UInt8(ascii: "n"),
                    let value = scanner.value(copyingTo: &nowhere, copy: false)
                else { return false }
                sawData = true
                if first == UInt8(ascii: "{") { data = value }  // else the literal `null`
            default:
                return scanner.skipValue()
            }
            return true
        }
        guard isPlain, sawType, let action else { return nil }
        return (action, data)
    }
}

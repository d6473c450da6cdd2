internal import NIOCore
internal import Relay

/// A plain `player_state` read in one pass over its bytes: the message is checked, the
/// `player_state_update` written and the movable values located, with no `JSONValue` built
/// except for the values the server keeps. The same rules as ``RoomState/applyPlayerState(_:_:)``:
/// identity keys are not relayed, movable keys must have their kind, floats are rounded.
struct PlayerStateRelay {
    enum Outcome {
        /// Not plain (see ``PlainJSONScanner``): decode it and take the general path.
        case declined
        case relayed
        case failed(RelayError)
    }

    /// The movable keys by slot, as ``PlayerState`` numbers them.
    private static let movableTable: ByteKeyTable = {
        precondition(PlayerState.keys.count <= Slots.count, "more movable keys than slots")
        return ByteKeyTable(PlayerState.keys)
    }()
    private static let identityTable = ByteKeyTable(Array(RoomPlayer.identityKeys))
    /// `type` (0) and `state` (1), the members of the envelope that matter.
    private static let envelopeTable = ByteKeyTable(["type", "state"])
    private static let typeTable = ByteKeyTable(["player_state"])
    private typealias Slots = InlineArray<16, Range<Int>?>

    /// `{"type":"player_state_update","player_id":…}` for the general path (the fast path writes
    /// the same bytes itself), sized for a typical state up front so that adding it does not reallocate.
    static func newUpdate(from playerID: String) -> OutboundMessage {
        var update = OutboundMessage(type: "player_state_update", capacity: 512)
        update.add("player_id", playerID)
        return update
    }

    /// Bytes of an update besides the player id and the state: `{"type":"player_state_update",
    /// "player_id":"…","state":…}`.
    private static let updateFraming = 64

    /// The message's bytes: valid only during the caller's `handleRaw`, which is the whole
    /// life of a relay (made and applied inside it).
    private let bytes: UnsafeBufferPointer<UInt8>
    /// The encoded `player_state_update`.
    let update: ByteBuffer
    /// Where each movable key's value is in `bytes`, by slot.
    private let movableValues: Slots
    /// The first movable key whose value has the wrong kind.
    private let kindError: RelayError?

    /// Reads `bytes`, or nil when the message is not a plain `player_state`.
    init?(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) {
        var scanner = PlainJSONScanner(bytes)
        var movableValues = Slots(repeating: nil)
        var kindError: RelayError?
        // The relayed state is the sent one less identity keys, with numbers never longer once
        // rounded; the margin covers the rare exceptions, and a sink that still overflows declines.
        // The whole update is written here and copied once, rather than built field by field in
        // a `ByteBuffer`, where each piece pays for NIO's capacity, uniqueness and exclusivity checks.
        let capacity = bytes.count + 32 + Self.updateFraming + 6 * playerID.utf8.count
        let update = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { memory -> ByteBuffer? in
            var update = JSONByteSink(memory)
            update.writeFragment(#"{"type":"player_state_update","player_id":"#)
            update.writeString(playerID)
            update.writeFragment(#","state":"#)
            guard
                Self.readMessage(
                    &scanner, writingStateTo: &update, movableValues: &movableValues, kindError: &kindError)
            else { return nil }
            update.writeByte(UInt8(ascii: "}"))
            guard !update.overflowed else { return nil }
            return OutboundMessage.encoded(json: update.written)
        }
        guard let update else { return nil }
        self.bytes = bytes
        self.update = update
        self.movableValues = movableValues
        self.kindError = kindError
    }

    /// Stores the movable values and relays the update to the sender's room-mates.
    func apply(in room: isolated GameRoom, from playerID: String) -> Outcome {
        if let kindError { return .failed(kindError) }
        do throws(RelayError) {
            // Straight from the bytes: the in-place path builds no ``PreparedPlayerState``.
            try Self.store(self.update, in: room, from: playerID) { self.value(at: $0) }
        } catch {
            return .failed(error)
        }
        return .relayed
    }

    /// Stores the sender's values by slot (nil: not sent) and relays `update` to the others; a new
    /// skin is published to the room lists, which show it.
    fileprivate static func store(
        _ update: ByteBuffer, in room: isolated GameRoom, from playerID: String, values: (Int) -> JSONValue?
    ) throws(RelayError) {
        var skinChanged = false
        let skinSlot = PlayerState.skinSlot
        try room.state.updateState(of: playerID) { state in
            for slot in PlayerState.keys.indices {
                guard let value = values(slot) else { continue }
                if slot == skinSlot, state[slot: slot] != value { skinChanged = true }
                state[slot: slot] = value
            }
        }
        room.broadcast(update, excluding: playerID)
        if skinChanged { room.publish() }
    }

    /// What applying the message needs, without the message's bytes: for a room on another
    /// event loop, where it is applied after the bytes are gone.
    func prepared() -> PreparedPlayerState {
        var values = PreparedPlayerState.Values(repeating: nil)
        if self.kindError == nil {
            for slot in PlayerState.keys.indices { values[slot] = self.value(at: slot) }
        }
        return PreparedPlayerState(update: self.update, values: values, kindError: self.kindError)
    }

    /// The value sent for the movable key in `slot`, if any.
    private func value(at slot: Int) -> JSONValue? {
        self.movableValues[slot].flatMap { range in
            Self.value(UnsafeBufferPointer(rebasing: self.bytes[range]), PlayerState.kinds[slot])
        }
    }

    /// The value of a plain token whose kind has been checked: what ``JSONParser`` would read,
    /// rounded as relayed (the server keeps what the room-mates saw).
    private static func value(_ token: UnsafeBufferPointer<UInt8>, _ kind: RoomPlayer.MovableKind) -> JSONValue? {
        switch kind {
        case .bool: .bool(token.first == UInt8(ascii: "t"))
        // Plain strings have no escapes: the bytes between the quotes are the string.
        case .string:
            .string(String(decoding: UnsafeBufferPointer(rebasing: token.dropFirst().dropLast()), as: UTF8.self))
        case .number: JSONParser.number(token, isInteger: !token.contains(UInt8(ascii: ".")))?.roundingFloats()
        }
    }

    // MARK: Reading

    /// The whole message: an object with `"type":"player_state"` and a `state` object once each.
    private static func readMessage(
        _ scanner: inout PlainJSONScanner, writingStateTo writer: inout JSONByteSink, movableValues: inout Slots,
        kindError: inout RelayError?
    ) -> Bool {
        var sawType = false
        var sawState = false
        let isPlain = scanner.readMessage { scanner, key in
            switch Self.envelopeTable.index(of: scanner.bytes[key]) {
            case 0:
                guard !sawType, let type = scanner.string(), Self.typeTable.contains(scanner.bytes[type]) else {
                    return false
                }
                sawType = true
            case 1:
                guard !sawState,
                    Self.readState(&scanner, writingTo: &writer, movableValues: &movableValues, kindError: &kindError)
                else { return false }
                sawState = true
            default:
                return scanner.skipValue()
            }
            return true
        }
        return isPlain && sawType && sawState
    }

    /// The `state` object, written out without identity keys and with floats rounded.
    private static func readState(
        _ scanner: inout PlainJSONScanner, writingTo writer: inout JSONByteSink, movableValues: inout Slots,
        kindError: inout RelayError?
    ) -> Bool {
        guard scanner.take(UInt8(ascii: "{")) else { return false }
        writer.writeByte(UInt8(ascii: "{"))
        defer { writer.writeByte(UInt8(ascii: "}")) }
        if scanner.take(UInt8(ascii: "}")) { return true }
        var first = true
        repeat {
            guard let key = scanner.string(), scanner.take(UInt8(ascii: ":")) else { return false }
            let name = scanner.bytes[key]
            if Self.identityTable.contains(name) {
                guard scanner.value(copyingTo: &writer, copy: false) != nil else { return false }
                continue
            }
            if !first { writer.writeByte(UInt8(ascii: ",")) }
            first = false
            writer.writeRaw(UnsafeBufferPointer(rebasing: scanner.bytes[(key.lowerBound - 1)..<(key.upperBound + 1)]))
            writer.writeByte(UInt8(ascii: ":"))
            let kindByte = scanner.peek()
            guard let value = scanner.value(copyingTo: &writer, copy: true) else { return false }
            guard let slot = Self.movableTable.index(of: name) else { continue }
            // A repeated key is left to the general path, which keeps the last one.
            guard movableValues[slot] == nil else { return false }
            movableValues[slot] = value
            let kind = PlayerState.kinds[slot]
            let lengthErrorOnly = kindError?.code == "too_long"
            if kindError == nil || lengthErrorOnly, !Self.kind(kind, accepts: kindByte) {
                // A wrong kind wins over a length, whatever the order, as on the general path.
                kindError = .invalidField("state.\(PlayerState.keys[slot])", expected: "a \(kind)")
            } else if kindError == nil, kind == .string, value.count - 2 > RoomPlayer.maxStringLength {
                // A plain string is ASCII without escapes: a byte per code point, and two quotes.
                kindError = .tooLong("state.\(PlayerState.keys[slot])", limit: RoomPlayer.maxStringLength)
            }
        } while scanner.take(UInt8(ascii: ","))
        return scanner.take(UInt8(ascii: "}"))
    }

    /// Whether a plain value starting with `firstByte` has `kind`.
    private static func kind(_ kind: RoomPlayer.MovableKind, accepts firstByte: UInt8?) -> Bool {
        guard let firstByte else { return false }
        switch kind {
        case .number:
            return firstByte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(firstByte)
        case .string: return firstByte == UInt8(ascii: "\"")
        case .bool: return firstByte == UInt8(ascii: "t") || firstByte == UInt8(ascii: "f")
        }
    }
}

/// A plain `player_state` read, ready to apply in its room: the encoded update, the values the
/// server keeps by slot, or the error that refuses it.
struct PreparedPlayerState: Sendable {
    typealias Values = InlineArray<16, JSONValue?>

    let update: ByteBuffer
    let values: Values
    let kindError: RelayError?

    /// Stores the values and relays the update to the sender's room-mates, or throws.
    func apply(in room: isolated GameRoom, from playerID: String) throws(RelayError) {
        if let kindError { throw kindError }
        try PlayerStateRelay.store(self.update, in: room, from: playerID) { self.values[$0] }
    }
}

internal import NIOCore
internal import Relay

/// A plain `enemy_state` read in one pass over its bytes: the `enemy_state_update` written as
/// it goes, floats rounded, with no `JSONValue` built. The game's host sends one per enemy it
/// tracks every 50 ms, most of a game's messages. The same rules as ``EnemyStateHandler``'s
/// general path, which takes whatever this declines: anything outside ``PlainJSONScanner``'s
/// subset, a repeated member, or `state` sent before `enemy_id`.
struct EnemyStateRelay {
    /// The enemy the state is for.
    let enemyID: String
    /// The encoded `enemy_state_update`.
    let update: ByteBuffer
    /// The message's bytes: valid only during the caller's `handleRaw`, the relay's whole life.
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Where the `state` object is in `bytes`.
    private let stateRange: Range<Int>
    /// The values in `state`, itself included: what decoding it costs.
    private let stateValueCount: Int

    /// `type` (0), `enemy_id` (1) and `state` (2), the members of the envelope that matter.
    private static let envelopeTable = ByteKeyTable(["type", "enemy_id", "state"])
    private static let typeTable = ByteKeyTable(["enemy_state"])

    /// Reads `bytes`, or nil when the message is not a plain `enemy_state`.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var scanner = PlainJSONScanner(bytes)
        var enemyID: Range<Int>?
        var stateRange: Range<Int>?
        var stateValueCount = 0
        // The update is the message with a longer type and rounded numbers, which are never
        // longer, bar rare exceptions that the margin covers (a sink that still overflows declines).
        let capacity = bytes.count + 64
        let update = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { memory -> ByteBuffer? in
            var update = JSONByteSink(memory)
            update.writeFragment(#"{"type":"enemy_state_update","enemy_id":""#)
            var sawType = false
            let isPlain = scanner.readMessage { scanner, key in
                switch Self.envelopeTable.index(of: bytes[key]) {
                case 0:
                    guard !sawType, let type = scanner.string(), Self.typeTable.contains(bytes[type]) else {
                        return false
                    }
                    sawType = true
                case 1:
                    guard enemyID == nil, let id = scanner.string() else { return false }
                    enemyID = id
                    update.writeRaw(UnsafeBufferPointer(rebasing: bytes[id]))
                    update.writeFragment(#"","state":"#)
                case 2:
                    let valuesBefore = scanner.valueCount
                    guard enemyID != nil, stateRange == nil, scanner.peek() == UInt8(ascii: "{"),
                        let state = scanner.value(copyingTo: &update, copy: true)
                    else { return false }
                    stateRange = state
                    stateValueCount = scanner.valueCount - valuesBefore
                default:
                    return scanner.skipValue()
                }
                return true
            }
            update.writeByte(UInt8(ascii: "}"))
            guard isPlain, sawType, stateRange != nil, !update.overflowed else { return nil }
            return OutboundMessage.encoded(json: update.written)
        }
        guard let update, let enemyID, let stateRange else { return nil }
        // A plain string is ASCII without escapes: its bytes are the string.
        self.enemyID = String(decoding: UnsafeBufferPointer(rebasing: bytes[enemyID]), as: UTF8.self)
        self.update = update
        self.bytes = bytes
        self.stateRange = stateRange
        self.stateValueCount = stateValueCount
    }

    /// Stores the state if the room tracks the enemy (checked against the entity byte cap, as on
    /// the general path), and relays the update to the sender's room-mates. Declines a state for
    /// a tracked enemy with more values than its bytes pay for (``RelayLimits/decodedValuesPaidByBytes``):
    /// the reader decodes it and charges its sender for them, where a flood of them decoded here
    /// would hold the loop for free.
    ///
    /// A state with more values than the stored enemy could hold (each takes two bytes of JSON at
    /// least, a digit and a comma) is refused before that, undecoded: a host's 64 KB states cost
    /// the loop ~5 ms each to decode only to be refused. The general path merges such a state when
    /// the merge drops most of its values (under `enemy_id`, `coin_reward`, `coinReward` or `killed_by`, or under
    /// a repeated key), which no game client sends.
    ///
    /// An enemy the room keeps under another spelling of the id (U+212A, the Kelvin sign, where
    /// the sender wrote K: equal Swift strings) goes to the general path, which names it so.
    func apply(in room: isolated GameRoom, from playerID: String) throws(RelayError) -> Bool {
        try RoomState.checkID(self.enemyID, field: "enemy_id")
        guard room.state.keptSpelling(ofEnemy: self.enemyID).utf8.elementsEqual(self.enemyID.utf8) else {
            return false
        }
        if room.state.tracksEnemy(self.enemyID) {
            let limit = room.state.limits.maxEntityBytes
            guard self.stateValueCount <= limit / 2 else { throw .limitExceeded("bytes in one enemy", limit: limit) }
            guard self.stateValueCount <= RelayLimits.decodedValuesPaidByBytes else { return false }
            // Decoded only for an enemy the server keeps; the values are the ones the general
            // path would read, as the subset is plain JSON.
            guard
                case .object(let state)? = try? JSONParser.parse(
                    UnsafeBufferPointer(rebasing: self.bytes[self.stateRange]))
            else { return false }
            try room.state.updateEnemy(self.enemyID, state: state, now: .now)
        }
        room.broadcast(self.update, excluding: playerID)
        return true
    }
}

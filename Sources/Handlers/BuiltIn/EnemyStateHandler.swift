public import Relay

/// `enemy_state` {enemy_id, state}: others get `enemy_state_update` (rounded); the server's
/// copy is updated when the enemy is known. A state that would make that copy larger than
/// `RelayLimits.maxEntityBytes` is refused (`limit_exceeded`) and not relayed. A plain message
/// is relayed straight from its bytes (``EnemyStateRelay``), anything else is decoded first.
public struct EnemyStateHandler: RawRoomMessageHandler {
    public let messageType = "enemy_state"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let enemyID = room.state.keptSpelling(ofEnemy: try message.string("enemy_id"))
        try RoomState.checkID(enemyID, field: "enemy_id")  // relayed, if not kept
        let state = try message.object("state")
        try room.state.updateEnemy(enemyID, state: state, now: .now)
        room.broadcast(Self.update(of: enemyID, relaying: state).encoded(), excluding: playerID)
    }

    /// The general path's `enemy_state_update`.
    static func update(of enemyID: String, relaying state: [String: JSONValue]) -> OutboundMessage {
        var update = OutboundMessage(type: "enemy_state_update")
        update.add("enemy_id", enemyID)
        update.add("state", .object(state), roundingFloats: true)
        return update
    }

    public func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool
    {
        guard let relay = EnemyStateRelay(bytes) else { return false }
        return try relay.apply(in: room, from: playerID)
    }
}

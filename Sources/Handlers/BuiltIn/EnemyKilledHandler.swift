public import Relay

/// `enemy_killed` {enemy_id}: the first kill tells the room `enemy_killed` {enemy_id, killed_by}
/// then one `coin_spawned` per dropped coin; later ones get `enemy_already_dead`, then an
/// `enemy_state_update` marking it dead, with its last known `x` and `y` (rounded) if the room
/// keeps it: the game's client applies that update to the sprite it is still fading out and
/// reads a missing `x` or `y` as 0, so the dying enemy would jump to the world's edge.
public struct EnemyKilledHandler: RoomMessageHandler {
    public let messageType = "enemy_killed"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let enemyID = room.state.keptSpelling(ofEnemy: try message.string("enemy_id"))
        try RoomState.checkID(enemyID, field: "enemy_id")  // echoed back, if not kept
        switch room.state.killEnemy(enemyID, by: playerID, now: .now) {
        case .killed(let drops):
            room.broadcast(
                OutboundMessage.make(
                    type: "enemy_killed", ["enemy_id": .string(enemyID), "killed_by": .string(playerID)]))
            for coin in drops {
                room.broadcast(OutboundMessage.make(type: "coin_spawned", ["coin": coin]))
            }
        case .alreadyDead:
            room.send(OutboundMessage.make(type: "enemy_already_dead", ["enemy_id": .string(enemyID)]), to: playerID)
            var state: [String: JSONValue] = ["is_alive": false, "state": "dead"]
            state.merge(room.state.lastKnownPosition(ofEnemy: enemyID)) { dead, _ in dead }
            var update = OutboundMessage(type: "enemy_state_update")
            update.add("enemy_id", enemyID)
            update.add("state", .object(state), roundingFloats: true)
            room.send(update.encoded(), to: playerID)
        }
    }
}

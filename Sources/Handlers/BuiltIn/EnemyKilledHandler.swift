public import Relay

/// `enemy_killed` {enemy_id}: the first kill tells the room `enemy_killed` {enemy_id, killed_by}
/// then one `coin_spawned` per dropped coin; later ones get `enemy_already_dead`.
public struct EnemyKilledHandler: RoomMessageHandler {
    public let messageType = "enemy_killed"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        let enemyID = try message.string("enemy_id")
        switch room.state.killEnemy(enemyID, by: playerID, now: .now) {
        case .killed(let drops):
            room.broadcast(
                OutboundMessage.make(type: "enemy_killed", ["enemy_id": .string(enemyID), "killed_by": .string(playerID)]))
            for coin in drops {
                room.broadcast(OutboundMessage.make(type: "coin_spawned", ["coin": coin]))
            }
        case .alreadyDead:
            room.send(OutboundMessage.make(type: "enemy_already_dead", ["enemy_id": .string(enemyID)]), to: playerID)
            room.send(
                OutboundMessage.make(
                    type: "enemy_state_update",
                    ["enemy_id": .string(enemyID), "state": ["is_alive": false, "state": "dead"]]),
                to: playerID)
        }
    }
}

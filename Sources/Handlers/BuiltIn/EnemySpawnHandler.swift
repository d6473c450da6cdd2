public import Relay

/// `enemy_spawn` {enemy} (host only): room gets `enemy_spawned` {enemy} with defaults filled.
public struct EnemySpawnHandler: RoomMessageHandler {
    public let messageType = "enemy_spawn"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let enemy = try room.state.spawnEnemy(try message.object("enemy"), by: playerID, now: .now)
        var spawned = OutboundMessage(type: "enemy_spawned")
        spawned.add("enemy", enemy)
        room.broadcast(spawned.encoded())
    }
}

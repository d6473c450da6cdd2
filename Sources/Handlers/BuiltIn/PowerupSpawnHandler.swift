public import Relay

/// `powerup_spawn` {powerup} (host only): room gets `powerup_spawned` {powerup}.
public struct PowerupSpawnHandler: RoomMessageHandler {
    public let messageType = "powerup_spawn"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let powerup = try room.state.spawnPowerup(try message.object("powerup"), by: playerID)
        room.broadcast(OutboundMessage.make(type: "powerup_spawned", ["powerup": powerup]))
    }
}

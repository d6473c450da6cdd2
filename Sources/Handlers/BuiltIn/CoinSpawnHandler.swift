public import Relay

/// `coin_spawn` {coin} (host only): room gets `coin_spawned` {coin}.
public struct CoinSpawnHandler: RoomMessageHandler {
    public let messageType = "coin_spawn"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let coin = try room.state.spawnCoin(try message.object("coin"), by: playerID)
        room.broadcast(OutboundMessage.make(type: "coin_spawned", ["coin": coin]))
    }
}

public import Relay

/// `sync_entities` {enemies, coins} (host only): others get `entities_sync` {enemies, coins,
/// sequence_id} — the dead stay dead, collected coins stay gone.
public struct SyncEntitiesHandler: RoomMessageHandler {
    public let messageType = "sync_entities"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        try room.state.requireHost(playerID)
        let enemies = try message.optionalArray("enemies") ?? []
        let coins = try message.optionalArray("coins") ?? []
        let visible = try room.state.sync(enemies: enemies, coins: coins, now: .now)
        var sync = OutboundMessage(type: "entities_sync", capacity: 1024)
        sync.add("enemies", .array(visible.enemies), roundingFloats: true)
        sync.add("coins", .array(visible.coins), roundingFloats: true)
        sync.add("sequence_id", room.state.nextSequence())
        room.broadcast(sync.encoded(), excluding: playerID)
    }
}

public import Relay

/// `player_state` {state}: others get `player_state_update` {player_id, state} with floats
/// rounded to 2 decimals; known keys update the server's copy. The hot path.
public struct PlayerStateHandler: RoomMessageHandler {
    public let messageType = "player_state"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        let relayed = try room.state.applyPlayerState(playerID, try message.object("state"))
        // Room for a typical state up front: a growing buffer reallocates on the hot path.
        var update = OutboundMessage(type: "player_state_update", capacity: 512)
        update.add("player_id", playerID)
        update.add("state", .object(relayed), roundingFloats: true)
        room.broadcast(update.encoded(), excluding: playerID)
    }
}

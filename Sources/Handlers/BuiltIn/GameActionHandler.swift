public import Relay

/// `game_action` {action, data}: others get `game_action` {player_id, action, data}. The host's
/// `assist` {target_player_id, x, y} first moves the target (along each axis given) and tells the
/// room where it is. A plain message that is not an `assist` is relayed straight from its bytes
/// (``GameActionRelay``), anything else is decoded first.
public struct GameActionHandler: RawRoomMessageHandler {
    public let messageType = "game_action"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let action = try message.string("action")
        let data = try message.optionalObject("data") ?? [:]
        // An axis that is not a number is not moved along; the room is told where the target is.
        if action == "assist", let target = data["target_player_id"]?.stringValue,
            let moved = room.state.assist(
                by: playerID, target: target, x: data["x"]?.doubleValue, y: data["y"]?.doubleValue)
        {
            var update = OutboundMessage(type: "player_state_update")
            update.add("player_id", moved.id)
            update.add("state", ["x": moved.x, "y": moved.y], roundingFloats: true)
            room.broadcast(update.encoded())
        }
        var relayed = OutboundMessage(type: "game_action")
        relayed.add("player_id", playerID)
        relayed.add("action", action)
        relayed.add("data", .object(data))
        room.broadcast(relayed.encoded(), excluding: playerID)
    }

    public func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool
    {
        guard let relay = GameActionRelay(bytes, from: playerID) else { return false }
        room.broadcast(relay.relayed, excluding: playerID)
        return true
    }
}

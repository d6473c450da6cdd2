public import Relay

/// `game_action` {action, data}: others get `game_action` {player_id, action, data}. The host's
/// `assist` {target_player_id, x, y} first moves the target and tells the room. A plain message
/// that is not an `assist` is relayed straight from its bytes (``GameActionRelay``), anything
/// else is decoded first.
public struct GameActionHandler: RawRoomMessageHandler {
    public let messageType = "game_action"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let action = try message.string("action")
        let data = try message.optionalObject("data") ?? [:]
        if action == "assist", let target = data["target_player_id"]?.stringValue,
            let x = data["x"]?.doubleValue, let y = data["y"]?.doubleValue,
            let movedID = room.state.assist(by: playerID, target: target, x: x, y: y)
        {
            var moved = OutboundMessage(type: "player_state_update")
            moved.add("player_id", movedID)
            moved.add("state", ["x": .number(x), "y": .number(y)], roundingFloats: true)
            room.broadcast(moved.encoded())
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

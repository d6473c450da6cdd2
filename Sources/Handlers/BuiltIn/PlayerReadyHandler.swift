public import Relay

/// `player_ready` {is_ready?}: sets or toggles the flag; room: `player_ready_changed`.
public struct PlayerReadyHandler: RoomMessageHandler {
    public let messageType = "player_ready"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let isReady = room.state.setReady(playerID, try message.optionalBool("is_ready"))
        var changed = OutboundMessage(type: "player_ready_changed")
        changed.add("player_id", playerID)
        changed.add("is_ready", isReady)
        changed.add("room_info", room.state.roomInfo)
        room.broadcast(changed.encoded())
        room.publish()
    }
}

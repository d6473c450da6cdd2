public import NIOCore
public import Relay

/// The membership messages several handlers send, built in one place.
public enum RoomMessages {
    /// `player_joined` {player_id, player_name, player_number, room_info}.
    public static func playerJoined(_ player: RoomPlayer, in state: RoomState) -> ByteBuffer {
        var message = OutboundMessage(type: "player_joined")
        message.add("player_id", player.id)
        message.add("player_name", player.name)
        message.add("player_number", state.number(of: player.id))
        message.add("room_info", state.roomInfo)
        return message.encoded()
    }

    /// `room_created` / `room_joined` {room_id, player_id, player_number, room_info, reconnect_token}.
    public static func welcome(_ type: String, player: RoomPlayer, in state: RoomState) -> ByteBuffer {
        var message = OutboundMessage(type: type)
        message.add("room_id", state.roomID)
        message.add("player_id", player.id)
        message.add("player_number", state.number(of: player.id))
        message.add("room_info", state.roomInfo)
        message.add("reconnect_token", player.reconnectToken)
        return message.encoded()
    }
}

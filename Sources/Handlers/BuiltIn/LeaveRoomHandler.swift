public import Relay

/// `leave_room`: the others get `player_left` {can_reconnect: false}; the sender `room_left`.
public struct LeaveRoomHandler: MessageHandler {
    public let messageType = "leave_room"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        guard session.membership != nil else { throw .notInRoom }
        await session.leaveRoom()
        session.reply(OutboundMessage(type: "room_left").encoded())
    }
}

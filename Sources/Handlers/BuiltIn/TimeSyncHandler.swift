import NIOCore
public import Relay

/// `time_sync` {client_time}: answers `time_sync_response` {client_time, server_time (ms), sequence_id}.
public struct TimeSyncHandler: MessageHandler {
    public let messageType = "time_sync"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        // Absent, 0, as the old server's `data.get("client_time", 0)`; a `null` sent is echoed.
        let clientTime = message.fields["client_time"] ?? .integer(0)
        guard clientTime == .null || clientTime.isNumber else {
            throw .invalidField("client_time", expected: "a number")
        }
        guard let membership = session.membership else {
            return session.reply(Self.response(clientTime: clientTime, sequence: 0))
        }
        // The id is taken and the answer queued in one step of the room, so that nothing the room
        // sends afterwards, with a later id (an `entities_sync`), reaches the sender before it.
        let connection = session.connection
        let isMember = await membership.room.enter { room in
            // A member removed while its socket stays open takes no id of the room's any more.
            guard room.isCurrent(membership.playerID, connection: connection) else { return false }
            _ = connection.send(Self.response(clientTime: clientTime, sequence: room.state.nextSequence()))
            return true
        }
        if !isMember {
            session.membership = nil
            session.reply(Self.response(clientTime: clientTime, sequence: 0))
        }
    }

    private static func response(clientTime: JSONValue, sequence: Int) -> ByteBuffer {
        var response = OutboundMessage(type: "time_sync_response")
        response.add("client_time", clientTime)
        response.add("server_time", .number(WallClock.milliseconds()))
        response.add("sequence_id", sequence)
        return response.encoded()
    }
}

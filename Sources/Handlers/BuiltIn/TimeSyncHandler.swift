public import Relay

/// `time_sync` {client_time}: answers `time_sync_response` {client_time, server_time (ms), sequence_id}.
public struct TimeSyncHandler: MessageHandler {
    public let messageType = "time_sync"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        let clientTime = message.fields["client_time"] ?? .null
        guard clientTime == .null || clientTime.isNumber else {
            throw .invalidField("client_time", expected: "a number")
        }
        var sequence = 0
        if let membership = session.membership {
            sequence = await membership.room.enter { room in room.state.nextSequence() }
        }
        var response = OutboundMessage(type: "time_sync_response")
        response.add("client_time", clientTime)
        response.add("server_time", .number(WallClock.milliseconds()))
        response.add("sequence_id", sequence)
        session.reply(response.encoded())
    }
}

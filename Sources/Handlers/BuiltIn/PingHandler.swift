public import Relay

/// `ping`: answers `pong`.
public struct PingHandler: MessageHandler {
    public let messageType = "ping"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        session.reply(OutboundMessage(type: "pong").encoded())
    }
}

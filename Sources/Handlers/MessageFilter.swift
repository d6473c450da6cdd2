public import Relay

/// Sees every message of one `type` before its handler does, and may pass it on as is,
/// pass on a rewritten message, drop it silently, or reject it with an error.
///
/// Register filters with `RelayServerBuilder.register(filter:)`; several filters of one type run
/// in registration order.
public protocol MessageFilter: Sendable {
    /// The `type` of the messages this filter sees.
    var messageType: String { get }
    /// The message to hand on (the same or a rewritten one of the same type), or `nil` to
    /// drop it. Throwing rejects it: the sender gets an `error` with the code.
    func filter(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) -> InboundMessage?
}

public import Relay

/// Answers one message `type`. Register an instance with ``MessageDispatcher``.
///
/// Throwing a ``RelayError`` sends the sender an `error` message with its code; the
/// connection stays open.
public protocol MessageHandler: Sendable {
    /// The `type` string this handler answers, e.g. `"chat"`.
    var messageType: String { get }
    /// Handles one message from `session`'s connection.
    func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError)
}

/// A handler for messages that act on the sender's room. It runs inside the room's
/// isolation, synchronously, so the message is applied atomically.
public protocol RoomMessageHandler: MessageHandler {
    /// Handles `message` from `playerID`, a current member of `room`.
    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
}

extension RoomMessageHandler {
    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        guard let membership = session.membership else { throw .notInRoom }
        do {
            try await self.run(message, membership: membership, connection: session.connection, room: membership.room)
        } catch {
            if error == .notInRoom { session.membership = nil }  // dropped, left or replaced meanwhile
            throw error
        }
    }

    private func run(
        _ message: InboundMessage, membership: ConnectionSession.Membership, connection: PlayerConnection,
        room: isolated GameRoom
    ) throws(RelayError) {
        guard room.isCurrent(membership.playerID, connection: connection) else { throw .notInRoom }
        try self.handle(message, from: membership.playerID, in: room)
    }
}

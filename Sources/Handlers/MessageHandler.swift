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
        let context = (handler: self, message: message, playerID: membership.playerID, connection: session.connection)
        do {
            try await membership.room.enterFromAnywhere(with: context) { room, context throws(RelayError) in
                guard room.isCurrent(context.playerID, connection: context.connection) else { throw .notInRoom }
                try context.handler.handle(context.message, from: context.playerID, in: room)
            }
        } catch {
            if error == .notInRoom { session.membership = nil }  // dropped, left or replaced meanwhile
            throw error
        }
    }
}

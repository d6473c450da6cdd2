public import Relay

/// Answers one message `type`. Register an instance with `RelayServerBuilder.register(_:)` (the
/// server's own ``MessageDispatcher`` is made from what is registered there).
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
/// isolation, synchronously, so the message is applied atomically; an error it throws is
/// queued for the sender there too, in order with what the room sends them.
public protocol RoomMessageHandler: MessageHandler {
    /// Handles `message` from `playerID`, a current member of `room`.
    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
}

extension RoomMessageHandler {
    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        guard let membership = session.membership else { throw .notInRoom }
        let context = (handler: self, message: message, playerID: membership.playerID, connection: session.connection)
        let outcome = await membership.room.enterFromAnywhere(with: context) { room, context -> MembershipOutcome in
            guard room.isCurrent(context.playerID, connection: context.connection) else { return .wasNotMember }
            do throws(RelayError) {
                try context.handler.handle(context.message, from: context.playerID, in: room)
            } catch {
                context.connection.send(OutboundMessage.error(error))
            }
            // Asked of the room, not read from an error: a handler's own `not_in_room` (about another
            // player, say) leaves the sender a member, who must still be dropped when its socket
            // closes; and a handler may have removed the sender itself.
            return room.isCurrent(context.playerID, connection: context.connection) ? .isMember : .isNoLongerMember
        }
        switch outcome {
        case .isMember: break
        case .isNoLongerMember: session.membership = nil
        case .wasNotMember:
            // Dropped, replaced or removed meanwhile: said through the session, which says it once
            // (a removed member's socket stays open, and its client may stream on).
            session.membership = nil
            throw .notInRoom
        }
    }
}

/// Whether a room message's sender was, and still is, a current member of its room.
enum MembershipOutcome: Sendable {
    case isMember, isNoLongerMember, wasNotMember
}

/// A room handler that can also take its message straight from its bytes, skipping the
/// generic decode into ``InboundMessage`` — for the hottest message types. The dispatcher
/// tries the raw path when a message's first member is `"type"` with this type and no
/// filter is registered for it; anything the raw path declines goes the usual way.
public protocol RawRoomMessageHandler: RoomMessageHandler {
    /// Handles the message from its `bytes`, or returns false, having changed nothing, to have
    /// it decoded and handled by ``RoomMessageHandler/handle(_:from:in:)`` (which also
    /// names what is wrong with a bad message).
    ///
    /// `bytes` are the frame's payload as received, valid only during the call and not yet
    /// checked to be UTF-8: decline whatever is not plainly right.
    func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool

    /// Reads the message from its `bytes` on the sender's event loop, for applying later in a
    /// room on another loop: returns what applies it there, or nil (the default) to have it take
    /// the usual way. What it returns may throw but not decline, and runs only while the sender
    /// is still a current member.
    func prepareForwarding(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) -> ForwardedRoomMessage?
}

/// A message read on its sender's event loop, applied in its room on the room's
/// (``RawRoomMessageHandler/prepareForwarding(_:from:)``).
public typealias ForwardedRoomMessage = @Sendable (isolated GameRoom) throws(RelayError) -> Void

extension RawRoomMessageHandler {
    public func prepareForwarding(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) -> ForwardedRoomMessage? {
        nil
    }

    /// The raw path from a connection: enters the sender's room like
    /// ``RoomMessageHandler/handle(_:session:)`` (an error is queued for the sender there), or
    /// declines when the sender is not a current member.
    func handleRaw(_ text: String, session: ConnectionSession) async -> Bool {
        guard let membership = session.membership else { return false }
        let context = (handler: self, text: text, playerID: membership.playerID, connection: session.connection)
        return await membership.room.enterFromAnywhere(with: context) { room, context in
            var text = context.text
            // `withUTF8` rethrows untyped; carry the typed error out in a Result.
            let handled = text.withUTF8 { bytes in
                Result { () throws(RelayError) in
                    try context.handler.handleRaw(
                        bytes, from: context.playerID, connection: context.connection, in: room)
                }
            }
            switch handled {
            case .success(let isHandled): return isHandled
            case .failure(let error):
                context.connection.send(OutboundMessage.error(error))
                return true
            }
        }
    }

    /// ``handleRaw(_:from:in:)`` if `connection` still speaks for `playerID` in `room`; else
    /// false (dropped, left or replaced: the general path says so).
    func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, connection: PlayerConnection,
        in room: isolated GameRoom
    ) throws(RelayError) -> Bool {
        guard room.isCurrent(playerID, connection: connection) else { return false }
        return try self.handleRaw(bytes, from: playerID, in: room)
    }
}

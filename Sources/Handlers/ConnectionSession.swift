public import Logging
public import NIOCore
public import Relay

/// What the server knows about one WebSocket connection while it is open: which room
/// and player it speaks for, if any. Owned by the connection's reader task; handlers
/// run one at a time on it, so it needs no lock.
public final class ConnectionSession {
    /// The connection's outbound side.
    public let connection: PlayerConnection
    /// The room code in the URL (`new` when creating).
    public let urlRoomID: String
    /// All rooms of this server.
    public let registry: RoomRegistry
    public let logger: Logger
    /// The event loop of the connection's channel, if it has one: rooms it creates live there.
    public let eventLoop: (any EventLoop)?
    /// The room and player this connection is bound to.
    public var membership: Membership?

    /// A connection's binding to one player of one room.
    public struct Membership: Sendable {
        public let room: GameRoom
        public let playerID: String

        public init(room: GameRoom, playerID: String) {
            self.room = room
            self.playerID = playerID
        }
    }

    public init(
        connection: PlayerConnection, urlRoomID: String, registry: RoomRegistry, logger: Logger,
        eventLoop: (any EventLoop)? = nil
    ) {
        self.connection = connection
        self.urlRoomID = urlRoomID
        self.registry = registry
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// The limits of this server.
    public var limits: RelayLimits { self.registry.limits }

    /// Queues a message for this connection only.
    public func reply(_ frame: ByteBuffer) {
        self.connection.send(frame)
    }

    /// Queues an `error` message for this connection.
    public func reply(_ error: RelayError) {
        self.connection.send(OutboundMessage.error(error))
    }
}

public import Logging
public import NIOCore
public import Relay

/// What the server knows about one WebSocket connection while it is open: which room
/// and player it speaks for, if any. Used only on the connection's event loop, one message at a
/// time: by its channel handler (messages handled in place, ``MessageDispatcher/dispatchInPlace(_:session:)``)
/// and by its reader task, which runs on that loop; so it needs no lock.
public final class ConnectionSession {
    /// The connection's outbound side.
    public let connection: PlayerConnection
    /// The room code in the URL (`new` when creating).
    public let urlRoomID: String
    /// All rooms of this server.
    public let registry: RoomRegistry
    /// The server's logger, for handlers' own logs.
    public let logger: Logger
    /// The event loop of the connection's channel, if it has one: rooms it creates live there.
    public let eventLoop: (any EventLoop)?
    /// The client, as the per-address limits count it, whose limit of rooms open
    /// (``RelayLimits/maxRoomsPerAddress``) the rooms this connection creates count against;
    /// `nil` for a client they do not count.
    public let roomCreator: RoomCreator?
    /// The room and player this connection is bound to.
    public var membership: Membership? {
        didSet { if self.membership != nil { self.toldNotInRoom = false } }
    }
    /// Whether this connection has been told `not_in_room` since it was last in a room. A client
    /// that lost its room (dropped, then reconnected without rejoining, as the game's client does)
    /// and streams its state on gets that error once, not 60 times a second: the game shows
    /// each `error` it gets as a popup.
    private var toldNotInRoom = false
    /// Messages handed to the room's event loop, when it is not the connection's, and not yet
    /// handled there.
    public let forwarded = ForwardedMessages()
    /// Closed by the socket when the connection ends, for handlers still waiting on its behalf.
    public let closing = ConnectionClosing()
    /// Rooms this connection may still enter (``RelayLimits/roomEntriesPerSecond``); made at the first.
    private var roomEntries: TokenBucket?

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
        eventLoop: (any EventLoop)? = nil, roomCreator: RoomCreator? = nil
    ) {
        self.connection = connection
        self.urlRoomID = urlRoomID
        self.registry = registry
        self.logger = logger
        self.eventLoop = eventLoop
        self.roomCreator = roomCreator
    }

    /// Waits until the messages forwarded to the room have been handled there, so that what the
    /// caller does next (a reply, a join, a leave) comes after them. If the room refused them, the
    /// sender being no longer its member, forgets the membership: the room has said `not_in_room`
    /// already, once. The connection's reader calls it before each message it handles.
    public func settleForwarded() async {
        guard await self.forwarded.settle() else { return }
        self.membership = nil
        self.toldNotInRoom = true
    }

    /// The limits of this server.
    public var limits: RelayLimits { self.registry.limits }

    /// Takes one room entry (`create_room`, `join_room`, `reconnect`) from this connection's
    /// budget, before the handler does anything; `rate_limited` when there is none left.
    public func takeRoomEntry(now: ContinuousClock.Instant = .now) throws(RelayError) {
        var entries =
            self.roomEntries
            ?? TokenBucket(rate: self.limits.roomEntriesPerSecond, burst: self.limits.roomEntryBurst, now: now)
        defer { self.roomEntries = entries }
        guard entries.take(now: now) else { throw .rateLimited }
    }

    /// Forgets the membership if its room no longer counts this connection as that player's (a
    /// handler removed them, say, and their socket stayed open): before refusing a connection
    /// that still seems to be in a room.
    public func forgetMembershipIfStale() async {
        guard let membership = self.membership else { return }
        let connection = self.connection
        let isCurrent = await membership.room.enter { room in
            room.isCurrent(membership.playerID, connection: connection)
        }
        if !isCurrent { self.membership = nil }
    }

    /// Leaves the room this connection is in, if any, as `leave_room` does (the others get
    /// `player_left`), without answering `room_left`.
    public func leaveRoom() async {
        guard let membership = self.membership else { return }
        self.membership = nil
        await membership.room.leave(playerID: membership.playerID, connection: self.connection)
    }

    /// Leaves the room this connection is in, if any, for another it is entering, unless its
    /// socket has closed meanwhile (a join waits for the other room first): then it stays, to
    /// drop from the room with a reconnect window once its reader ends, and this is `false`.
    public func leaveRoomForAnother() async -> Bool {
        guard let membership = self.membership else { return self.connection.canTakeASeat }
        let connection = self.connection
        let left = await membership.room.enter { room in
            room.leave(playerID: membership.playerID, connection: connection, unlessItsSocketClosed: true)
        }
        if left { self.membership = nil }
        return left
    }

    /// Queues a message for this connection only.
    public func reply(_ frame: ByteBuffer) {
        self.connection.send(frame)
    }

    /// Queues an `error` message for this connection; `not_in_room` once until it joins a room.
    public func reply(_ error: RelayError) {
        if error == .notInRoom {
            guard !self.toldNotInRoom else { return }
            self.toldNotInRoom = true
        }
        self.connection.send(OutboundMessage.error(error))
    }
}

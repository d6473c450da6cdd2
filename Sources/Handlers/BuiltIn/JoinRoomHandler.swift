public import Relay

/// `join_room` {room_id (else the URL's), player_name, player_id?}: the room (joiner
/// included) gets `player_joined`, then the sender `room_joined`. A connection already in a room
/// leaves it first, as for `create_room`, once the new room would take it.
public struct JoinRoomHandler: MessageHandler {
    public let messageType = "join_room"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        try session.takeRoomEntry()
        let playerName = try message.name("player_name", maxLength: session.limits.maxNameLength)
        let code = try message.optionalString("room_id") ?? session.urlRoomID
        let playerID = try PlayerIdentity.requestedID(in: message) ?? Identifiers.playerID()
        let arrival = Arrival(playerID: playerID, name: playerName, connection: session.connection)
        // A code that names no room (a typo), or a room that would refuse them now, costs the sender
        // nothing; past this, they leave theirs, and a room that fills meanwhile still refuses them
        // at `admit`.
        guard let room = session.registry.room(code: code) else { throw .joinFailed }
        // Read from a socket its client has closed: its room stays as it was, and the player drops
        // from it with a window, rather than leaving it for good for a seat it cannot take.
        guard session.connection.canTakeASeat else { throw .joinFailed }
        await session.forgetMembershipIfStale()  // removed from a room, its socket open: not its member
        if let membership = session.membership, membership.room === room {
            return try await Self.rejoin(room, as: arrival, leaving: membership.playerID, session: session)
        }
        try await room.enter { room throws(RelayError) in try room.checkAdmission(playerID: playerID) }
        guard await session.leaveRoomForAnother() else { throw .joinFailed }  // its socket closed meanwhile
        try await room.enter { room throws(RelayError) in try arrival.enter(room) }
        session.membership = .init(room: room, playerID: playerID)
    }

    /// The sender joins the room they are in: check, leave and join again in one turn of the
    /// room, so that no start or other join comes between their leaving and their return.
    private static func rejoin(
        _ room: GameRoom, as arrival: Arrival, leaving memberID: String, session: ConnectionSession
    ) async throws(RelayError) {
        let failure = try await room.enter { room throws(RelayError) -> RelayError? in
            try room.checkRejoin(by: memberID, as: arrival.playerID)  // refused: nothing changed
            // Its socket closed while this waited: it keeps its seat, to drop with a window.
            guard arrival.connection.canTakeASeat else { throw .joinFailed }
            return room.holdingPublication { room in
                room.leave(playerID: memberID, connection: arrival.connection)
                do throws(RelayError) {
                    try arrival.enter(room)
                    return nil
                } catch {
                    return error
                }
            }
        }
        session.membership = nil
        if let failure { throw failure }
        session.membership = .init(room: room, playerID: arrival.playerID)
    }

    /// Who joins, and how the room takes them: `player_joined` to everyone, then `room_joined`.
    private struct Arrival: Sendable {
        let playerID: String
        let name: String
        let connection: PlayerConnection
        let token = Identifiers.reconnectToken()

        func enter(_ room: isolated GameRoom) throws(RelayError) {
            let player = try room.admit(
                playerID: self.playerID, name: self.name, reconnectToken: self.token, connection: self.connection)
            room.broadcast(RoomMessages.playerJoined(player, in: room.state))
            room.send(RoomMessages.welcome("room_joined", player: player, in: room.state), to: self.playerID)
            room.tellObservers(joined: player)
        }
    }
}

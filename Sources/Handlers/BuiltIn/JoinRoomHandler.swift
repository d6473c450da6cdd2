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
        // A code that names no room (a typo), or a room that would refuse them now, costs the sender
        // nothing; past this, they leave theirs. Their own room is checked as it will be once they
        // have left it (their seat free), and a room that fills meanwhile still refuses them at `admit`.
        guard let room = session.registry.room(code: code) else { throw .joinFailed }
        if let membership = session.membership, membership.room === room {
            try await room.enter { room throws(RelayError) in
                try room.checkRejoin(by: membership.playerID, as: playerID)
            }
        } else {
            try await room.enter { room throws(RelayError) in try room.checkAdmission(playerID: playerID) }
        }
        await session.leaveRoom()
        let token = Identifiers.reconnectToken()
        let connection = session.connection
        try await room.enter { room throws(RelayError) in
            let player = try room.admit(
                playerID: playerID, name: playerName, reconnectToken: token, connection: connection)
            room.broadcast(RoomMessages.playerJoined(player, in: room.state))
            room.send(RoomMessages.welcome("room_joined", player: player, in: room.state), to: playerID)
        }
        session.membership = .init(room: room, playerID: playerID)
    }
}

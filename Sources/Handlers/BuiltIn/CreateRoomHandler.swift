public import Relay

/// `create_room` {room_name, player_name, player_id?, max_players?}: opens a room with the
/// sender as host. Sender gets `player_joined` (about itself), then `room_created`. A connection
/// already in a room leaves it first: the game's client keeps its socket open (and in its room)
/// when a player quits a game to the menu, and creates or joins the next room on it.
public struct CreateRoomHandler: MessageHandler {
    public let messageType = "create_room"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        try session.takeRoomEntry()
        let limits = session.limits
        let playerName = try message.name("player_name", maxLength: limits.maxNameLength)
        let roomName = try message.optionalString("room_name").map { $0.trimmingWhitespace() }
        guard (roomName?.unicodeScalars.count ?? 0) <= limits.maxRoomNameLength else {
            throw .tooLong("room_name", limit: limits.maxRoomNameLength)
        }
        let playerID = try PlayerIdentity.requestedID(in: message) ?? Identifiers.playerID()
        var maxPlayers = limits.defaultPlayersPerRoom
        if let requested = try message.optionalNumber("max_players") {
            guard requested >= 2, requested <= Double(limits.maxPlayersPerRoom), requested.rounded() == requested else {
                throw .invalidField("max_players", expected: "an integer from 2 to \(limits.maxPlayersPerRoom)")
            }
            maxPlayers = Int(requested)
        }

        await session.leaveRoom()
        let room = try session.registry.createRoom(
            name: roomName.flatMap { $0.isEmpty ? nil : $0 } ?? "\(playerName)'s room", maxPlayers: maxPlayers,
            eventLoop: session.eventLoop)
        let token = Identifiers.reconnectToken()
        let connection = session.connection
        try await room.enter { room throws(RelayError) in
            let player = try room.admit(
                playerID: playerID, name: playerName, reconnectToken: token, connection: connection)
            room.send(RoomMessages.playerJoined(player, in: room.state), to: playerID)
            room.send(RoomMessages.welcome("room_created", player: player, in: room.state), to: playerID)
        }
        session.membership = .init(room: room, playerID: playerID)
    }
}

public import Relay

/// `create_room` {room_name, player_name, player_id?, max_players?}: opens a room with the
/// sender as host. Sender gets `player_joined` (about itself), then `room_created`. A connection
/// already in a room leaves it once the new one is open: the game's client keeps its socket open
/// (and in its room) when a player quits a game to the menu, and creates or joins the next room on it.
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

        // Read from a socket its client has closed: as for `join_room`, nothing is taken or left.
        guard session.connection.canTakeASeat else { throw .joinFailed }
        let room = try await Self.openRoom(
            named: roomName.flatMap { $0.isEmpty ? nil : $0 } ?? "\(playerName)'s room", maxPlayers: maxPlayers,
            session: session)
        let token = Identifiers.reconnectToken()
        let connection = session.connection
        try await room.enter { room throws(RelayError) in
            let player = try room.admit(
                playerID: playerID, name: playerName, reconnectToken: token, connection: connection)
            room.send(RoomMessages.playerJoined(player, in: room.state), to: playerID)
            room.send(RoomMessages.welcome("room_created", player: player, in: room.state), to: playerID)
            room.tellObservers(joined: player)
        }
        session.membership = .init(room: room, playerID: playerID)
    }

    /// A new room, the sender out of theirs. At the server's room cap a sender nobody else
    /// connected is with leaves first: when that closes their room, the place it frees is the new
    /// one's, and no other room's dropped players lose theirs. Otherwise (or if their room stays,
    /// vacant) the longest vacant room is evicted for it, or `server_full`: a sender with others
    /// connected keeps their room. A sender whose address has its most rooms open leaves first a
    /// room it holds alone (nobody else in it, dropped or not) that its address created, as a
    /// player who quit to the menu and starts the next game on the same socket does: that room
    /// closes and gives its place to the new one. Otherwise `limit_exceeded`, and it stays where it is.
    private static func openRoom(
        named name: String, maxPlayers: Int, session: ConnectionSession
    ) async throws(RelayError) -> GameRoom {
        let registry = session.registry
        let eventLoop = session.eventLoop
        let creator = session.roomCreator
        let refusal: RelayError
        do throws(RelayError) {
            let room = try registry.createRoom(
                name: name, maxPlayers: maxPlayers, eventLoop: eventLoop, evictingAVacantRoom: false,
                createdBy: creator)
            // Not if its socket closed meanwhile: then it keeps its seat, and the new room, which it
            // cannot take, closes as its admission is refused.
            _ = await session.leaveRoomForAnother()
            return room
        } catch {
            // `limit_exceeded`: the only limit `createRoom` has is the address's.
            guard error == .serverFull || error.code == "limit_exceeded" else { throw error }
            refusal = error
        }
        // At its address's limit, only leaving a room that gives a place back helps.
        let atAddressLimit = refusal != .serverFull
        if let membership = session.membership,
            !atAddressLimit || creator.map({ registry.counts(membership.room, against: $0) }) == true
        {
            // Checked and left in one turn of the room: nobody joins between.
            let connection = session.connection
            let leftAlone = try await membership.room.enter { room throws(RelayError) in
                let others = room.state.players.filter { $0.id != membership.playerID }
                guard atAddressLimit ? others.isEmpty : !others.contains(where: \.isConnected) else { return false }
                // Its socket closed while this waited: it keeps its seat, to drop with a window.
                guard connection.canTakeASeat else { throw .joinFailed }
                room.leave(playerID: membership.playerID, connection: connection)
                return true
            }
            if leftAlone {
                session.membership = nil
                // Nor below: a room it cannot take must not evict a vacant one.
                guard session.connection.canTakeASeat else { throw .joinFailed }
                return try registry.createRoom(
                    name: name, maxPlayers: maxPlayers, eventLoop: eventLoop, createdBy: creator)
            }
        }
        if atAddressLimit { throw refusal }
        // Its socket closed while it waited: the eviction would be for a room it cannot take.
        guard session.connection.canTakeASeat else { throw .joinFailed }
        let room = try registry.createRoom(name: name, maxPlayers: maxPlayers, eventLoop: eventLoop, createdBy: creator)
        _ = await session.leaveRoomForAnother()
        return room
    }
}

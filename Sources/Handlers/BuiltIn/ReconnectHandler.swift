public import Relay

/// `reconnect` {room_id, player_id, token}: takes a dropped player's place back within the
/// window. Sender: `reconnected` {…, game_state, reconnect_token}; room: `player_reconnected`.
/// `rate_limited` (the player stays dropped) while the room's entity budget is in debt, once the
/// token is found good: a wrong or spent one gets `reconnect_failed` whatever the budget.
public struct ReconnectHandler: MessageHandler {
    public let messageType = "reconnect"

    public init() {}

    public func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        await session.forgetMembershipIfStale()
        guard session.membership == nil else { throw .alreadyInRoom }
        try session.takeRoomEntry()
        let code = try message.optionalString("room_id") ?? session.urlRoomID
        let playerID = try message.string("player_id")
        let token = try message.string("token")
        guard let room = session.registry.room(code: code) else { throw .reconnectFailed }
        let newToken = Identifiers.reconnectToken()
        let connection = session.connection
        let boundID = try await room.enter { room throws(RelayError) -> String in
            // A token that can never work says so, not "try later".
            try room.state.checkReconnectToken(playerID, token: token)
            // The answer lists the room's every entity: budgeted with the room's sync answers.
            let now = ContinuousClock.now
            try room.state.checkEntityBudget(now: now)
            let player = try room.resume(playerID: playerID, token: token, newToken: newToken, connection: connection)
            room.state.spendEntityBudget(onGameStateAt: now)
            var welcome = OutboundMessage(type: "reconnected")
            welcome.add("room_id", room.state.roomID)
            welcome.add("player_id", player.id)
            welcome.add("player_number", room.state.number(of: player.id))
            welcome.add("game_state", room.state.gameState(nowMilliseconds: WallClock.milliseconds()))
            welcome.add("reconnect_token", player.reconnectToken)
            room.send(welcome.encoded(), to: playerID)

            var announcement = OutboundMessage(type: "player_reconnected")
            announcement.add("player_id", player.id)
            announcement.add("player_name", player.name)
            announcement.add("room_info", room.state.roomInfo)
            room.broadcast(announcement.encoded())
            room.tellObservers(reconnected: player)
            return player.id
        }
        // The member's own id, not the one sent: Swift compares strings by canonical equivalence,
        // so "e\u{301}" finds player "é", and the room would relay this connection's messages
        // under an id the others' clients (comparing code units) do not know.
        session.membership = .init(room: room, playerID: boundID)
    }
}

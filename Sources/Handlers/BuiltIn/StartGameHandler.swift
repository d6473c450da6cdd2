public import Relay

/// `start_game` (host, every connected player ready, ≥ 2 of them): members who dropped from the
/// lobby get `player_left`, then the room `game_starting` {game_state, sequence_id} with the start
/// 500 ms ahead.
public struct StartGameHandler: RoomMessageHandler {
    public let messageType = "start_game"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let now = WallClock.milliseconds()
        try room.startGame(by: playerID, nowMilliseconds: now)
        // The state first, then the next sequence id, as the old backend did: the game_state's
        // `sequence_id` is the last one used, the message's the one after it.
        var starting = OutboundMessage(type: "game_starting")
        starting.add("game_state", room.state.gameState(nowMilliseconds: now))
        starting.add("sequence_id", room.state.nextSequence())
        room.broadcast(starting.encoded())
        room.publish()
    }
}

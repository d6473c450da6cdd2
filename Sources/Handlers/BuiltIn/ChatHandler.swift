public import Relay

/// `chat` {message}: room gets `chat` {player_id, player_name, message, timestamp}; kept in
/// the history while the game runs, as the room got it (`type` too: a client may hand the
/// history's entries to the handler of the messages).
public struct ChatHandler: RoomMessageHandler {
    public let messageType = "chat"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let text = try message.string("message")
        let limit = room.state.limits.maxChatLength
        // Code points, not characters: one character may carry thousands of combining marks, and
        // the room keeps its last 20 chats.
        guard text.unicodeScalars.count <= limit else { throw .tooLong("message", limit: limit) }
        let fields: KeyValuePairs<String, JSONValue> = [
            "player_id": .string(playerID), "player_name": .string(room.state.player(playerID)?.name ?? ""),
            "message": .string(text), "timestamp": .string(WallClock.iso8601()),
        ]
        var kept = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.value) })
        kept["type"] = "chat"
        room.state.recordChat(.object(kept))
        var chat = OutboundMessage(type: "chat")
        for (key, value) in fields { chat.add(key, value) }
        room.broadcast(chat.encoded())
    }
}

import Handlers
import Relay
import RelayServer

// A game's own relay: everything `relay` does, plus a `whisper` message type and a filter
// on the built-in `chat`, registered in code. Run it like `relay`:
//
//     swift run custom-relay-example --port 8000
//
// In your own package, depend on this one and list the products RelayServer, Handlers and Relay.

/// `whisper` {to, message}: only player `to` of the sender's room gets `whisper` {from, message}.
struct WhisperHandler: RoomMessageHandler {
    let messageType = "whisper"

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        let recipient = try message.string("to")
        let text = try message.string("message")
        guard text.unicodeScalars.count <= room.state.limits.maxChatLength else {  // code points, as chat counts
            throw .tooLong("message", limit: room.state.limits.maxChatLength)
        }
        guard room.state.player(recipient) != nil, recipient != playerID else {
            throw .invalidField("to", expected: "another player of this room")
        }
        room.send(
            OutboundMessage.make(type: "whisper", ["from": .string(playerID), "message": .string(text)]), to: recipient)
    }
}

/// Drops chat messages that are only whitespace, before the built-in chat handler sees them.
struct BlankChatFilter: MessageFilter {
    let messageType = "chat"

    func filter(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) -> InboundMessage? {
        guard let text = message.fields["message"]?.stringValue else { return message }  // the handler reports it
        return text.trimmingWhitespace().isEmpty ? nil : message
    }
}

var server = RelayServerBuilder()
server.register(WhisperHandler())
server.register(filter: BlankChatFilter())
await server.runFromCommandLine()

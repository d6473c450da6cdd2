public import Relay

/// `emote` {emote}: the room sees `emote` {player_id, emote}.
///
/// Not part of the original protocol: a small built-in example of a room message type, one
/// struct and one registration line (the README's worked example, `whisper`, is in
/// `examples/custom-relay`).
public struct EmoteHandler: RoomMessageHandler {
    public let messageType = "emote"

    /// Emotes a client may send.
    public static let allowed: Set<String> = ["wave", "laugh", "cheer", "sad", "thumbs_up"]

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let emote = try message.string("emote")
        guard Self.allowed.contains(emote) else {
            throw .invalidField("emote", expected: "one of \(Self.allowed.sorted().joined(separator: ", "))")
        }
        room.broadcast(OutboundMessage.make(type: "emote", ["player_id": .string(playerID), "emote": .string(emote)]))
    }
}

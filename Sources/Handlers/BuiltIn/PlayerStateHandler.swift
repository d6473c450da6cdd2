public import Relay

/// `player_state` {state}: others get `player_state_update` {player_id, state} with floats
/// rounded to 2 decimals; known keys update the server's copy. The hot path: a plain message
/// is relayed straight from its bytes (``PlayerStateRelay``), anything else is decoded first.
public struct PlayerStateHandler: RawRoomMessageHandler {
    public let messageType = "player_state"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let skin = room.state.player(playerID)?.skin
        let relayed = try room.state.applyPlayerState(playerID, try message.object("state"))
        room.broadcast(Self.update(from: playerID, relaying: relayed).encoded(), excluding: playerID)
        if room.state.player(playerID)?.skin != skin { room.publish() }  // the room lists show it
    }

    /// The general path's `player_state_update` of `state` (the sent one less identity keys).
    static func update(from playerID: String, relaying state: [String: JSONValue]) -> OutboundMessage {
        var update = PlayerStateRelay.newUpdate(from: playerID)
        update.add("state", .object(state), roundingFloats: true)
        return update
    }

    public func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool
    {
        let outcome = PlayerStateRelay(bytes, from: playerID)?.apply(in: room, from: playerID) ?? .declined
        switch outcome {
        case .declined: return false
        case .relayed: return true
        case .failed(let error): throw error
        }
    }

    public func prepareForwarding(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) -> ForwardedRoomMessage? {
        guard let prepared = PlayerStateRelay(bytes, from: playerID)?.prepared() else { return nil }
        return { room throws(RelayError) in try prepared.apply(in: room, from: playerID) }
    }
}

import NIOCore

@testable import Handlers
@testable import Relay

/// The in-place relays (PlayerStateRelay, GameActionRelay, EnemyStateRelay) against the general
/// decode (MessageDispatcher.decode), on the same bytes.
///
/// Input: byte 0 is the sender's player id length L (mod 40), bytes 1...L the id (any bytes,
/// decoded leniently as UTF-8), the rest a text frame's payload. A message a relay takes must be
/// valid UTF-8 JSON of its type by the general decode too; what the relay sends must be JSON
/// naming the sender (or the enemy) and, for `game_action`, relaying `action` and `data` as the
/// general path does.
struct RelaysCheck {
    /// The general path's decode; a seam for showing the check fails when the two paths disagree.
    var decode: (String) throws -> InboundMessage = { try MessageDispatcher.decode($0) }

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        guard !input.isEmpty else { return }
        let idLength = min(Int(input[0]) % 40, input.count - 1)
        let playerID = String(decoding: input[1..<(1 + idLength)], as: UTF8.self)
        try withExactCopy(of: input[(1 + idLength)...]) { bytes throws(FuzzViolation) in
            try self.relay(bytes, from: playerID)
        }
    }

    private func relay(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) throws(FuzzViolation) {
        let text = String(decoding: bytes, as: UTF8.self)
        let isJSON = (try? JSONParser.parse(bytes)) != nil && String(validating: bytes, as: UTF8.self) != nil
        let decoded = try? self.decode(text)
        if let relay = PlayerStateRelay(bytes, from: playerID) {
            try require(isJSON, "player_state relayed from invalid JSON \(shown(bytes))")
            try require(decoded?.type == "player_state", "player_state relayed, decoded otherwise: \(shown(bytes))")
            let out = try Self.object(relay.update, "player_state_update")
            try require(
                out["player_id"]?.stringValue == playerID, "player_state_update is \(String(describing: out))")
            if let decoded { try Self.compare(relay.prepared(), out, withGeneralPathOf: decoded, from: playerID) }
        }
        if let relay = GameActionRelay(bytes, from: playerID) {
            try require(isJSON, "game_action relayed from invalid JSON \(shown(bytes))")
            try require(decoded?.type == "game_action", "game_action relayed, decoded otherwise: \(shown(bytes))")
            let out = try Self.object(relay.relayed, "game_action")
            try require(out["player_id"]?.stringValue == playerID, "game_action names \(String(describing: out))")
            if let decoded {
                // The general path relays `data` unrounded, `{}` when absent or null, and nothing more.
                var data = decoded.fields["data"] ?? .object([:])
                if data == .null { data = .object([:]) }
                try require(out["data"] == data, "game_action relays data \(String(describing: out)), not \(data)")
                try require(out["action"] == decoded.fields["action"], "game_action relays \(String(describing: out))")
                try require(
                    Set(out.keys) == ["type", "player_id", "action", "data"],
                    "game_action relays members \(out.keys.sorted())")
            }
        }
        if let relay = EnemyStateRelay(bytes) {
            try require(isJSON, "enemy_state relayed from invalid JSON \(shown(bytes))")
            try require(decoded?.type == "enemy_state", "enemy_state relayed, decoded otherwise: \(shown(bytes))")
            let out = try Self.object(relay.update, "enemy_state")
            try require(out["enemy_id"]?.stringValue == relay.enemyID, "enemy_state relays \(String(describing: out))")
            try require(
                decoded?.fields["enemy_id"]?.stringValue == relay.enemyID,
                "enemy_state relayed as \(relay.enemyID), decoded otherwise: \(shown(bytes))")
            // The general path's update (its handler's own), of the state as sent.
            if case .object(let state)? = decoded?.fields["state"] {
                let update = EnemyStateHandler.update(of: relay.enemyID, relaying: state)
                let general = try Self.object(update.encoded(), "general enemy_state_update")
                try require(out == general, "enemy_state relayed as \(String(describing: out)), not \(general)")
            } else {
                throw FuzzViolation("enemy_state relayed without a state object: \(shown(bytes))")
            }
        }
        if let decoded {
            // The typed accessors handlers use, on whatever the message holds.
            for key in ["x", "y", "state", "data", "enemies", "message", "player_name", "room_name"] {
                _ = try? decoded.optionalNumber(key)
                _ = try? decoded.optionalString(key)
                _ = try? decoded.optionalObject(key)
                _ = try? decoded.optionalArray(key)
                _ = try? decoded.name(key, maxLength: 20)
            }
        }
    }

    /// The in-place `player_state` relay against ``RoomState/applyPlayerState(_:_:)`` and the
    /// general handler's update, in a room of the sender alone: both refuse, with the same code
    /// (of two wrong keys the relay names the first sent, the general path either), or both relay
    /// the same update and keep the same values.
    private static func compare(
        _ prepared: PreparedPlayerState, _ relayed: [String: JSONValue], withGeneralPathOf message: InboundMessage,
        from playerID: String
    ) throws(FuzzViolation) {
        var room = RoomState(
            roomID: "ABC234", roomName: "Fuzz", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1)
        do throws(RelayError) {
            _ = try room.addPlayer(id: playerID, name: "Fuzz", reconnectToken: "token")
        } catch {
            throw FuzzViolation("an empty room refused its first player \(playerID.debugDescription): \(error)")
        }
        let before = room.players[0].state
        let general: Result<[String: JSONValue], RelayError>
        do throws(RelayError) {
            general = .success(try room.applyPlayerState(playerID, try message.object("state")))
        } catch {
            general = .failure(error)
        }
        switch (prepared.kindError, general) {
        case (let relayError?, .failure(let generalError)):
            try require(
                relayError.code == generalError.code, "player_state refused as \(relayError), generally \(generalError)"
            )
        case (nil, .success(let state)):
            let update = PlayerStateHandler.update(from: playerID, relaying: state)
            let general = try Self.object(update.encoded(), "general player_state_update")
            try require(relayed == general, "player_state relayed as \(relayed), generally \(general)")
            for slot in PlayerState.keys.indices {
                let kept = room.players[0].state[slot: slot]
                try require(
                    (prepared.values[slot] ?? before[slot: slot]) == kept,
                    "player_state keeps \(PlayerState.keys[slot]) = \(String(describing: prepared.values[slot])), "
                        + "generally \(kept)")
            }
        case (let relayError, let general):
            throw FuzzViolation("player_state: relay error \(String(describing: relayError)), general path \(general)")
        }
    }

    /// What a relay sends, which must be a JSON object.
    private static func object(_ buffer: ByteBuffer, _ what: String) throws(FuzzViolation) -> [String: JSONValue] {
        let bytes = Array(buffer.readableBytesView)
        guard case .object(let fields)? = try? JSONParser.parse(bytes, maxDepth: 100) else {
            throw FuzzViolation("\(what) relayed as \(shown(bytes)), no JSON object")
        }
        return fields
    }
}

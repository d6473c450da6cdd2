import OrderedCollections

extension RoomState {
    /// `room_info`: the lobby view of the room.
    public var roomInfo: JSONValue {
        let members = self.connectedPlayers
        return [
            "room_id": .string(self.roomID), "room_name": .string(self.roomName), "host_id": .string(self.hostID),
            "player_count": .integer(Int64(members.count)), "max_players": .integer(Int64(self.maxPlayers)),
            "game_started": .bool(self.gameStarted),
            "players": .array(
                members.map { player in
                    [
                        "player_id": .string(player.id), "player_name": .string(player.name),
                        "player_number": .integer(Int64(self.number(of: player.id))), "is_ready": .bool(player.isReady),
                        "skin": .string(player.skin),
                    ]
                }),
        ]
    }

    /// `game_state`: everything a (re)joining client needs to draw the world.
    public func gameState(nowMilliseconds: Double) -> JSONValue {
        var players: [String: JSONValue] = [:]
        for player in self.players {
            var fields = player.state.fields
            fields["player_id"] = .string(player.id)
            fields["player_name"] = .string(player.name)
            fields["player_number"] = .integer(Int64(self.number(of: player.id)))
            fields["score"] = .integer(player.score)
            fields["coins"] = .integer(player.coins)
            players[player.id] = .object(fields)
        }
        return [
            "seed": .integer(Int64(self.seed)), "level": 1, "game_mode": "online_coop",
            "server_timestamp": .number(nowMilliseconds),
            "game_start_timestamp": self.gameStartTimestamp.map(JSONValue.number) ?? .null,
            "sequence_id": .integer(Int64(self.sequenceID)),
            "players": .object(players),
            "enemies": .array(self.enemies.values.filter(\.isAlive).map { .object($0.fields) }),
            "coins": .array(self.coins.values.map { .object($0.fields) }),
            "powerups": .array(self.powerups.values.map { .object($0.fields) }),
            "projectiles": [],
            "collected_coins": .array(self.collectedCoins.ids.sorted().map(JSONValue.string)),
            "collected_powerups": .array(self.collectedPowerups.ids.sorted().map(JSONValue.string)),
            "chat_history": .array(self.chatHistory),
        ]
    }
}

import OrderedCollections

/// What `collect_item` did.
public enum CollectOutcome: Sendable, Equatable {
    /// First collector: their new totals.
    case collected(coins: Int64, score: Int64)
    case alreadyCollected
}

extension RoomState {
    /// The first collector of an item gets it (a coin adds 1 coin and 10 score). Item ids are
    /// entity ids (at most ``maxEntityIDLength``): the room remembers thousands of them and lists
    /// them in every `game_state`.
    public mutating func collect(
        itemType: String, itemID: String, by playerID: String
    ) throws(RelayError)
        -> CollectOutcome
    {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { throw .notInRoom }
        try Self.checkID(itemID, field: "item_id")
        switch itemType {
        case "coin":
            guard self.remember(itemID, in: \.collectedCoins) else { return .alreadyCollected }
            self.forget(itemID, in: \.coins)
            self.players[index].coins += 1
            self.players[index].score += 10
        case "powerup":
            guard self.remember(itemID, in: \.collectedPowerups) else { return .alreadyCollected }
            self.forget(itemID, in: \.powerups)
        default:
            throw .invalidField("item_type", expected: "\"coin\" or \"powerup\"")
        }
        return .collected(coins: self.players[index].coins, score: self.players[index].score)
    }

    /// Registers a coin from the host; returns it as sent to the room. A full list forgets its
    /// oldest coin. A coin spawned under the id of one collected is back, uncollected, as an enemy
    /// spawned under a dead one's id is alive again, and as the old backend relayed every spawn: the
    /// game names coins by position, chunk and a counter each scene starts again (`coin_init_…`,
    /// `coin_chunk_…`, `coin_drop_…`), never by level or game, and the other player sees only the
    /// coins it is sent.
    public mutating func spawnCoin(_ coin: [String: JSONValue], by playerID: String) throws(RelayError) -> JSONValue {
        try self.requireHost(playerID)
        let id = self.keptSpelling(
            ofItem: try self.newEntityID(
                coin["coin_id"], prefix: "coin", field: "coin.coin_id", notIn: \.coins, or: \.collectedCoins),
            type: "coin")
        let fields: [String: JSONValue] = [
            "coin_id": .string(id), "x": coin["x"] ?? .integer(0), "y": coin["y"] ?? .integer(0),
            "is_collected": .bool(false), "collected_by": .null, "value": coin["value"] ?? .integer(1),
            "velocity_x": coin["velocity_x"] ?? .integer(0), "velocity_y": coin["velocity_y"] ?? .integer(0),
        ]
        let bytes = try self.checkSize(of: fields, kind: "coin")
        try self.chargeEntityBytes(self.bytesAdded(bytes, for: id, in: \.coins))
        self.forgetRemembered(id, in: \.collectedCoins)
        self.put(TrackedItem(fields: fields, bytes: bytes), for: id, in: \.coins)
        return .object(fields)
    }

    /// Registers a power-up from the host; returns it as sent to the room. A full list forgets
    /// its oldest power-up. One spawned under the id of one collected is back, as a coin is.
    public mutating func spawnPowerup(
        _ powerup: [String: JSONValue], by playerID: String
    ) throws(RelayError)
        -> JSONValue
    {
        try self.requireHost(playerID)
        let id = self.keptSpelling(
            ofItem: try self.newEntityID(
                powerup["powerup_id"], prefix: "powerup", field: "powerup.powerup_id", notIn: \.powerups,
                or: \.collectedPowerups),
            type: "powerup")
        var fields = powerup
        fields["powerup_id"] = .string(id)
        fields["type"] = powerup["type"] ?? "health"
        fields["x"] = powerup["x"] ?? .integer(0)
        fields["y"] = powerup["y"] ?? .integer(0)
        let bytes = try self.checkSize(of: fields, kind: "power-up")
        try self.chargeEntityBytes(self.bytesAdded(bytes, for: id, in: \.powerups))
        self.forgetRemembered(id, in: \.collectedPowerups)
        self.put(TrackedItem(fields: fields, bytes: bytes), for: id, in: \.powerups)
        return .object(fields)
    }

    /// Tracks a coin a kill dropped until it is collected (under a collected coin's id too: the
    /// kill has forgotten that one), if the room's and the server's entity bytes have room for it
    /// (a kill is never refused: past them, the coin goes out untracked).
    /// The room keeps at most its entity limit of coins, the newest: coins nobody collects (left
    /// behind in a long run) would otherwise fill it for good.
    mutating func track(droppedCoin fields: [String: JSONValue], id: String) {
        let bytes = JSONValue.object(fields).writtenSizeBound()
        guard (try? self.chargeEntityBytes(self.bytesAdded(bytes, for: id, in: \.coins))) != nil else { return }
        self.put(TrackedItem(fields: fields, bytes: bytes), for: id, in: \.coins)
    }
}

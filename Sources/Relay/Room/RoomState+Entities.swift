import OrderedCollections

/// An enemy the host spawned, with when it died (for `entities_sync`).
struct TrackedEnemy: Sendable {
    var fields: [String: JSONValue]
    var diedAt: ContinuousClock.Instant?

    var isAlive: Bool { self.diedAt == nil && self.fields["is_alive"]?.boolValue != false }
}

/// What `collect_item` did.
public enum CollectOutcome: Sendable, Equatable {
    /// First collector: their new totals.
    case collected(coins: Int64, score: Int64)
    case alreadyCollected
}

/// What `enemy_killed` did.
public enum KillOutcome: Sendable, Equatable {
    /// The enemy died now; these coins drop (deterministically) where it was.
    case killed(coinDrops: [JSONValue])
    case alreadyDead
}

extension RoomState {
    // MARK: Items

    /// The first collector of an item gets it (a coin adds 1 coin and 10 score). Item ids are
    /// entity ids (at most ``maxEntityIDLength``): the room remembers thousands of them and lists
    /// them in every `game_state`.
    public mutating func collect(itemType: String, itemID: String, by playerID: String) throws(RelayError)
        -> CollectOutcome
    {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { throw .notInRoom }
        try Self.checkID(itemID, field: "item_id")
        switch itemType {
        case "coin":
            guard self.collectedCoins.insert(itemID) else { return .alreadyCollected }
            self.coins[itemID] = nil
            self.players[index].coins += 1
            self.players[index].score += 10
        case "powerup":
            guard self.collectedPowerups.insert(itemID) else { return .alreadyCollected }
            self.powerups[itemID] = nil
        default:
            throw .invalidField("item_type", expected: "\"coin\" or \"powerup\"")
        }
        return .collected(coins: self.players[index].coins, score: self.players[index].score)
    }

    // MARK: Spawning

    /// Registers an enemy from the host, filling defaults; returns it as sent to the room. Only
    /// the living and the recently dead count toward the cap, so a long run never fills it. Each
    /// spawn spends the coins its kill will drop from the room's drop budget, into debt if need
    /// be, and while that is in debt a spawn is `rate_limited`: a spawn under the id of a dead
    /// enemy revives it without passing the cap, so only that budget bounds such a loop. Paid at
    /// the spawn, enemies spawned ahead cannot drop more at once than the budget holds; and as
    /// drops have a budget of their own, reconnects (``spendEntityBudget(onGameStateAt:)``) never
    /// hold spawns back.
    public mutating func spawnEnemy(_ enemy: [String: JSONValue], by playerID: String, now: ContinuousClock.Instant)
        throws(RelayError) -> JSONValue
    {
        try self.requireHost(playerID)
        var drops = self.currentDropBudget(now: now)
        guard drops.timeUntilOutOfDebt(now: now) == .zero else { throw .rateLimited }
        let reward = enemy["coin_reward"] ?? enemy["coinReward"] ?? .integer(0)
        guard let rewardValue = reward.doubleValue, rewardValue >= 0 else {
            throw .invalidField("enemy.coin_reward", expected: "a non-negative number")
        }
        guard rewardValue <= Double(self.limits.maxCoinReward) else {
            throw .limitExceeded("coins per kill", limit: self.limits.maxCoinReward)
        }
        let id = try self.newEntityID(enemy["enemy_id"], prefix: "enemy", field: "enemy.enemy_id")
        let fields: [String: JSONValue] = [
            "enemy_id": .string(id),
            "enemy_type": enemy["enemy_type"] ?? "fly",
            "x": enemy["x"] ?? .integer(0), "y": enemy["y"] ?? .integer(0),
            "velocity_x": enemy["velocity_x"] ?? .integer(0), "velocity_y": enemy["velocity_y"] ?? .integer(0),
            "health": enemy["health"] ?? .integer(10), "max_health": enemy["max_health"] ?? .integer(10),
            "coin_reward": .integer(Int64(rewardValue)),
            "scale": enemy["scale"] ?? .number(1.0),
            "is_alive": .bool(true),
            "facing_right": enemy["facing_right"] ?? .bool(true),
            "state": enemy["state"] ?? "idle",
        ]
        try self.checkEnemySize(fields)
        if self.enemies[id] == nil, self.enemies.count >= self.limits.maxEntitiesPerRoom {
            self.retireDeadEnemies(now: now)
            guard self.enemies.count < self.limits.maxEntitiesPerRoom else {
                throw .limitExceeded("enemies in this room", limit: self.limits.maxEntitiesPerRoom)
            }
        }
        drops.spend(rewardValue.rounded(.down), now: now)  // the coins its kill will drop
        self.dropBudget = drops
        self.departedEnemies.remove(id)  // spawned again under an old id: alive again, as the host says
        self.enemies[id] = TrackedEnemy(fields: fields)
        return .object(fields)
    }

    /// Registers a coin from the host; returns it as sent to the room. A full list forgets its
    /// oldest coin. A coin spawned under the id of one collected is back, uncollected, as an enemy
    /// spawned under a dead one's id is alive again, and as the old backend relayed every spawn: the
    /// game names coins by position, chunk and a counter each scene starts again (`coin_init_…`,
    /// `coin_chunk_…`, `coin_drop_…`), never by level or game, and the other player sees only the
    /// coins it is sent.
    public mutating func spawnCoin(_ coin: [String: JSONValue], by playerID: String) throws(RelayError) -> JSONValue {
        try self.requireHost(playerID)
        let id = try self.newEntityID(coin["coin_id"], prefix: "coin", field: "coin.coin_id")
        let fields: [String: JSONValue] = [
            "coin_id": .string(id), "x": coin["x"] ?? .integer(0), "y": coin["y"] ?? .integer(0),
            "is_collected": .bool(false), "collected_by": .null, "value": coin["value"] ?? .integer(1),
            "velocity_x": coin["velocity_x"] ?? .integer(0), "velocity_y": coin["velocity_y"] ?? .integer(0),
        ]
        try self.checkSize(of: fields, kind: "coin")
        self.collectedCoins.remove(id)
        self.track(coin: fields, id: id)
        return .object(fields)
    }

    /// Registers a power-up from the host; returns it as sent to the room. A full list forgets
    /// its oldest power-up. One spawned under the id of one collected is back, as a coin is.
    public mutating func spawnPowerup(_ powerup: [String: JSONValue], by playerID: String) throws(RelayError)
        -> JSONValue
    {
        try self.requireHost(playerID)
        let id = try self.newEntityID(powerup["powerup_id"], prefix: "powerup", field: "powerup.powerup_id")
        var fields = powerup
        fields["powerup_id"] = .string(id)
        fields["type"] = powerup["type"] ?? "health"
        fields["x"] = powerup["x"] ?? .integer(0)
        fields["y"] = powerup["y"] ?? .integer(0)
        try self.checkSize(of: fields, kind: "power-up")
        self.collectedPowerups.remove(id)
        if self.powerups[id] == nil, self.powerups.count >= self.limits.maxEntitiesPerRoom {
            self.powerups.removeFirst()
        }
        self.powerups[id] = fields
        return .object(fields)
    }

    /// Coins nobody collects (left behind in a long run) would otherwise fill the list for good.
    private mutating func track(coin fields: [String: JSONValue], id: String) {
        guard !self.collectedCoins.contains(id) else { return }  // a collected coin never comes back
        if self.coins[id] == nil, self.coins.count >= self.limits.maxEntitiesPerRoom {
            self.coins.removeFirst()
        }
        self.coins[id] = fields
    }

    /// Refuses an entity larger than ``RelayLimits/maxEntityBytes`` as JSON: the room keeps it
    /// and sends it again in every sync and game state.
    func checkSize(of fields: [String: JSONValue], kind: String) throws(RelayError) {
        let limit = self.limits.maxEntityBytes
        guard JSONValue.object(fields).writtenSizeBound(upTo: limit) <= limit else {
            throw .limitExceeded("bytes in one \(kind)", limit: limit)
        }
    }

    /// Refuses an enemy larger than ``RelayLimits/maxEntityBytes`` as it is, or as it would be
    /// once dead (`"is_alive":false`, `"state":"dead"`), so that its death always fits.
    func checkEnemySize(_ fields: [String: JSONValue]) throws(RelayError) {
        let limit = self.limits.maxEntityBytes
        // Counting stops past the limit: a host's 64 KB state is refused without a walk of it all.
        let current = JSONValue.object(fields).writtenSizeBound(upTo: limit)
        guard current <= limit else { throw .limitExceeded("bytes in one enemy", limit: limit) }
        var size = current
        for (key, dead) in Self.deathFields {
            if let value = fields[key] {
                size += dead.writtenSizeBound() - value.writtenSizeBound()
            } else {
                size += JSONValue.writtenSize(of: key) + 2 + dead.writtenSizeBound()  // with `:` and `,`
            }
        }
        guard size <= limit else { throw .limitExceeded("bytes in one enemy", limit: limit) }
    }

    private static let deathFields: [(String, JSONValue)] = [("is_alive", .bool(false)), ("state", "dead")]

    /// Gives an enemy's fields the death fields (``deathFields``), as every death writes them.
    static func markDead(_ fields: inout [String: JSONValue]) {
        for (key, value) in Self.deathFields { fields[key] = value }
    }

    /// Refuses an entity or item id longer than ``maxEntityIDLength`` code points.
    static func checkID(_ id: String, field: String) throws(RelayError) {
        guard id.unicodeScalars.count <= Self.maxEntityIDLength else {
            throw .tooLong(field, limit: Self.maxEntityIDLength)
        }
    }

    /// The longest id of an enemy, coin or power-up, in Unicode code points.
    public static let maxEntityIDLength = 128

    /// Moves enemies dead for ``deadEnemyRetention`` out of the list, keeping only their ids.
    mutating func retireDeadEnemies(now: ContinuousClock.Instant) {
        let retention = Self.deadEnemyRetention
        let expired = self.enemies.filter { _, enemy in enemy.diedAt.map { now - $0 >= retention } ?? false }
        guard !expired.isEmpty else { return }
        self.enemies.removeAll { id, _ in expired[id] != nil }
        self.departedEnemies.insert(contentsOf: expired.keys)
    }

    private mutating func newEntityID(_ given: JSONValue?, prefix: String, field: String) throws(RelayError) -> String {
        switch given {
        case .string(let id) where !id.isEmpty:
            try Self.checkID(id, field: field)
            return id
        case nil, .null, .string:
            defer { self.spawnCounter += 1 }
            return "\(prefix)_\(self.spawnCounter)"
        default:
            throw .invalidField(field, expected: "a string")
        }
    }

    // MARK: Enemies

    /// Keys a state update may not change: identity, and the reward the host set at spawn.
    static let fixedEnemyKeys: Set<String> = ["enemy_id", "coin_reward", "coinReward", "killed_by"]

    /// Whether the room keeps a copy of this enemy (an `enemy_state` for it updates the copy).
    public func tracksEnemy(_ enemyID: String) -> Bool {
        self.enemies[enemyID] != nil
    }

    /// The `x` and `y` the room last had for an enemy it keeps, alive or dead, each only when it is
    /// a number. Empty for an enemy it does not keep (never spawned, or dead for
    /// ``deadEnemyRetention`` and kept only as an id).
    public func lastKnownPosition(ofEnemy enemyID: String) -> [String: JSONValue] {
        guard let fields = self.enemies[enemyID]?.fields else { return [:] }
        var position: [String: JSONValue] = [:]
        for key in ["x", "y"] {
            if let value = fields[key], value.isNumber { position[key] = value }
        }
        return position
    }

    /// Merges a reported enemy state into the server's copy. A report of death counts as
    /// a death; nothing revives the dead. An unknown enemy changes nothing; a report that would
    /// make the enemy larger than ``RelayLimits/maxEntityBytes`` is refused and changes nothing.
    public mutating func updateEnemy(_ enemyID: String, state: [String: JSONValue], now: ContinuousClock.Instant)
        throws(RelayError)
    {
        guard let enemy = self.enemies[enemyID] else { return }
        self.enemies[enemyID] = try self.merged(enemy, with: state, now: now)
    }

    /// `enemy` with a reported state merged in (see ``updateEnemy(_:state:now:)``).
    private func merged(_ enemy: TrackedEnemy, with state: [String: JSONValue], now: ContinuousClock.Instant)
        throws(RelayError) -> TrackedEnemy
    {
        var enemy = enemy
        for (key, value) in state where !Self.fixedEnemyKeys.contains(key) {
            enemy.fields[key] = value
        }
        if enemy.diedAt == nil, state["is_alive"] == .bool(false) {
            enemy.diedAt = now
        }
        if enemy.diedAt != nil {
            Self.markDead(&enemy.fields)
        }
        try self.checkEnemySize(enemy.fields)
        return enemy
    }

    /// Kills a living enemy and drops its coins (paid for at its spawn: a kill is never refused);
    /// a dead or unknown one is `alreadyDead`.
    public mutating func killEnemy(_ enemyID: String, by playerID: String, now: ContinuousClock.Instant) -> KillOutcome {
        guard var enemy = self.enemies[enemyID], enemy.isAlive else { return .alreadyDead }
        enemy.diedAt = now
        Self.markDead(&enemy.fields)
        enemy.fields["killed_by"] = .string(playerID)
        let limit = self.limits.maxEntityBytes
        if JSONValue.object(enemy.fields).writtenSizeBound(upTo: limit) > limit {
            // The death fields fit (``checkEnemySize(_:)``); the killer, who went out in
            // `enemy_killed`, is left out rather than pass the cap.
            enemy.fields["killed_by"] = nil
        }
        self.enemies[enemyID] = enemy
        let reward = Self.clampedReward(enemy.fields["coin_reward"], limit: self.limits.maxCoinReward)
        let drops = Self.coinDrops(
            x: enemy.fields["x"]?.doubleValue ?? 0, y: enemy.fields["y"]?.doubleValue ?? 0, count: reward)
        for drop in drops {
            if case .object(let fields) = drop, let id = fields["coin_id"]?.stringValue {
                // Sent to the room uncollected, as a host's `coin_spawn` is: under the id of a coin
                // collected before (an earlier kill at the same spot) it is back, not shown yet refused.
                self.collectedCoins.remove(id)
                self.track(coin: fields, id: id)
            }
        }
        return .killed(coinDrops: drops)
    }

    /// A stored reward as a coin count in 0…limit, whatever number (or non-number) it is.
    static func clampedReward(_ value: JSONValue?, limit: Int) -> Int {
        guard let reward = value?.doubleValue, reward.isFinite, reward > 0 else { return 0 }
        return Int(min(reward, Double(limit)))
    }

    /// The coins an enemy at (x, y) drops: the same on every server and client.
    public static func coinDrops(x: Double, y: Double, count: Int) -> [JSONValue] {
        let enemyX = Int64(x.isFinite ? x.rounded(.towardZero).clamped(to: -1e15...1e15) : 0)
        let enemyY = Int64(y.isFinite ? y.rounded(.towardZero).clamped(to: -1e15...1e15) : 0)
        func mod(_ value: Int64, _ modulus: Int64) -> Int64 { ((value % modulus) + modulus) % modulus }
        return (0..<Int64(max(0, count))).map { index in
            let coinX = enemyX + mod(enemyX * 7 + index * 13, 61) - 30
            let coinY = enemyY + mod(enemyY * 11 + index * 17, 21) - 20
            return .object([
                "coin_id": .string("coin_drop_\(enemyX)_\(enemyY)_\(index)"),
                "x": .integer(coinX), "y": .integer(coinY),
                "velocity_x": .integer(mod(enemyX * 3 + index * 19, 201) - 100),
                "velocity_y": .integer(-200 + mod(enemyY * 5 + index * 23, 101)),
                "value": .integer(1), "is_collected": .bool(false), "collected_by": .null,
            ])
        }
    }

    // MARK: Sync

    /// Merges the host's view of enemies and coins, and returns the room's, as the original
    /// server did: every enemy alive or dead for under 10 s, every coin not collected, whether or
    /// not this sync listed it (a guest drops what a sync leaves out). The dead stay dead, a
    /// collected coin stays gone. At most ``syncsPerSecond`` a second, and answers listing at most
    /// ``entityBudgetPerSecond`` entities a second on average: each answer may list a room's
    /// every entity, so a host could not otherwise buy that much work with an empty sync.
    public mutating func sync(enemies: [JSONValue], coins: [JSONValue], now: ContinuousClock.Instant) throws(RelayError)
        -> (enemies: [JSONValue], coins: [JSONValue])
    {
        let limit = self.limits.maxSyncListLength
        guard enemies.count <= limit, coins.count <= limit else { throw .limitExceeded("entities in one sync", limit: limit) }
        var budget = self.syncBudget ?? TokenBucket(rate: Self.syncsPerSecond, burst: Self.syncsPerSecond, now: now)
        defer { self.syncBudget = budget }
        guard budget.take(now: now) else { throw .rateLimited }
        self.retireDeadEnemies(now: now)
        // Staged, and applied only once every entity is known to fit: a refused sync changes nothing.
        var staged: [String: TrackedEnemy] = [:]
        var stagedOrder: [String] = []
        var added = 0
        var addedRewards = 0  // the coins the living enemies this sync adds will drop
        for case .object(let reported) in enemies {
            guard let id = reported["enemy_id"]?.stringValue, !self.departedEnemies.contains(id) else { continue }
            try Self.checkID(id, field: "enemies.enemy_id")
            if let known = staged[id] ?? self.enemies[id] {
                guard known.isAlive else { continue }  // the dead stay as they died
                if staged[id] == nil { stagedOrder.append(id) }
                staged[id] = try self.merged(known, with: reported, now: now)
            } else if self.enemies.count + added < self.limits.maxEntitiesPerRoom {
                var fields = reported
                let reward = reported["coin_reward"] ?? reported["coinReward"]
                fields["coin_reward"] = .integer(Int64(Self.clampedReward(reward, limit: self.limits.maxCoinReward)))
                let diedAt = reported["is_alive"] == .bool(false) ? now : nil
                if diedAt != nil {
                    Self.markDead(&fields)
                }
                try self.checkEnemySize(fields)
                if diedAt == nil {
                    addedRewards += Self.clampedReward(fields["coin_reward"], limit: self.limits.maxCoinReward)
                }
                staged[id] = TrackedEnemy(fields: fields, diedAt: diedAt)
                stagedOrder.append(id)
                added += 1
            }
        }
        var stagedCoins: [(id: String, fields: [String: JSONValue])] = []
        for case .object(let reported) in coins {
            guard let id = reported["coin_id"]?.stringValue else { continue }
            try Self.checkID(id, field: "coins.coin_id")
            try self.checkSize(of: reported, kind: "coin")
            stagedCoins.append((id, reported))
        }
        let coinsAfter = min(self.limits.maxEntitiesPerRoom, self.coins.count + stagedCoins.count)
        // Living enemies it adds pay for their drops as spawned ones do (``spawnEnemy(_:by:now:)``).
        var drops = self.currentDropBudget(now: now)
        guard addedRewards == 0 || drops.timeUntilOutOfDebt(now: now) == .zero else { throw .rateLimited }
        try self.takeEntityBudget(listing: self.enemies.count + added + coinsAfter, now: now)
        if addedRewards > 0 {
            drops.spend(Double(addedRewards), now: now)
            self.dropBudget = drops
        }
        for id in stagedOrder { self.enemies[id] = staged[id] }
        for coin in stagedCoins { self.track(coin: coin.fields, id: coin.id) }
        return (self.enemies.values.map { .object($0.fields) }, self.coins.values.map { .object($0) })
    }

    /// Entities a room may write out in bulk per second, on average: listed in `entities_sync`
    /// answers and `game_state`s, and, on a budget of their own, dropped as coins by kills. A full room
    /// (``RelayLimits/maxEntitiesPerRoom`` enemies and as many coins) every two seconds, where the
    /// game's host has a few dozen listed once and drops a few coins a kill. Writing one out costs
    /// the room's event loop 2–5 µs, and other rooms on that loop wait meanwhile.
    public var entityBudgetPerSecond: Double { Double(self.limits.maxEntitiesPerRoom) }

    /// Takes `count` entities from the entity budget (a full room's worth at most at once), or
    /// refuses the sync before it changes anything.
    private mutating func takeEntityBudget(listing count: Int, now: ContinuousClock.Instant) throws(RelayError) {
        var budget = self.currentEntityBudget(now: now)
        defer { self.entityBudget = budget }
        guard budget.take(Double(count), now: now) else { throw .rateLimited }
    }

    /// Refuses a `game_state` answer (`reconnect`) while the entity budget is in debt, before
    /// anything changes. A reconnect that then succeeds spends what it lists
    /// (``spendEntityBudget(onGameStateAt:)``): a client that reconnects in a loop to a full room
    /// gets one full `game_state` every few seconds, not one per connection it can open.
    public func checkEntityBudget(now: ContinuousClock.Instant) throws(RelayError) {
        var budget = self.currentEntityBudget(now: now)  // a copy: refilling it to look changes nothing
        guard budget.timeUntilOutOfDebt(now: now) == .zero else { throw .rateLimited }
    }

    /// Spends what a `game_state` lists from the entity budget, into debt if need be: the living
    /// enemies, coins and power-ups, and the remembered collected ids at 1/25 each (writing an
    /// id costs ~0.1 µs, an entity 2–3).
    public mutating func spendEntityBudget(onGameStateAt now: ContinuousClock.Instant) {
        let entities = self.enemies.values.count(where: \.isAlive) + self.coins.count + self.powerups.count
        let ids = self.collectedCoins.count + self.collectedPowerups.count
        var budget = self.currentEntityBudget(now: now)
        budget.spend(Double(entities) + Double(ids) / 25, now: now)
        self.entityBudget = budget
    }

    /// Coins the room's enemies may drop, at ``entityBudgetPerSecond`` too (``spawnEnemy(_:by:now:)``):
    /// a host that spawns and kills in a loop gets ten 100-coin enemies a second, not a thousand
    /// (the message budget's pace), and one that spawns a thousand first is held back after twenty-one.
    private func currentDropBudget(now: ContinuousClock.Instant) -> TokenBucket {
        let rate = self.entityBudgetPerSecond
        return self.dropBudget ?? TokenBucket(rate: rate, burst: 2 * rate, now: now)
    }

    private func currentEntityBudget(now: ContinuousClock.Instant) -> TokenBucket {
        let rate = self.entityBudgetPerSecond
        return self.entityBudget ?? TokenBucket(rate: rate, burst: 2 * rate, now: now)
    }

    // MARK: Snapshots

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
            "coins": .array(self.coins.values.map { .object($0) }),
            "powerups": .array(self.powerups.values.map { .object($0) }),
            "projectiles": [],
            "collected_coins": .array(self.collectedCoins.ids.sorted().map(JSONValue.string)),
            "collected_powerups": .array(self.collectedPowerups.ids.sorted().map(JSONValue.string)),
            "chat_history": .array(self.chatHistory),
        ]
    }
}

extension Double {
    fileprivate func clamped(to range: ClosedRange<Double>) -> Double { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}

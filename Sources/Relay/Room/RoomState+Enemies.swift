import OrderedCollections

/// An enemy the host spawned, with when it died (for `entities_sync`).
struct TrackedEnemy: Sendable {
    var fields: [String: JSONValue]
    var diedAt: ContinuousClock.Instant?
    /// Its size as JSON: what it holds of the room's and the server's entity bytes.
    var bytes: Int

    var isAlive: Bool { self.diedAt == nil && self.fields["is_alive"]?.boolValue != false }
}

/// What `enemy_killed` did.
public enum KillOutcome: Sendable, Equatable {
    /// The enemy died now; these coins drop (deterministically) where it was.
    case killed(coinDrops: [JSONValue])
    case alreadyDead
}

extension RoomState {
    /// Registers an enemy from the host, filling defaults; returns it as sent to the room. Only
    /// the living and the recently dead count toward the cap, so a long run never fills it. Each
    /// spawn spends the coins its kill will drop from the room's drop budget, into debt if need
    /// be, and while that is in debt a spawn is `rate_limited`: a spawn under the id of a dead
    /// enemy revives it without passing the cap, so only that budget bounds such a loop. Paid at
    /// the spawn, enemies spawned ahead cannot drop more at once than the budget holds; and as
    /// drops have a budget of their own, reconnects (``spendEntityBudget(onGameStateAt:)``) never
    /// hold spawns back.
    public mutating func spawnEnemy(
        _ enemy: [String: JSONValue], by playerID: String, now: ContinuousClock.Instant
    )
        throws(RelayError) -> JSONValue
    {
        try self.requireHost(playerID)
        var drops = self.currentDropBudget(now: now)
        guard drops.timeUntilOutOfDebt(now: now) == .zero else { throw .rateLimited }
        let rewardValue = try self.checkedReward(of: enemy, field: "enemy.coin_reward")
        let id = self.keptSpelling(
            ofEnemy: try self.newEntityID(
                enemy["enemy_id"], prefix: "enemy", field: "enemy.enemy_id", notIn: \.enemies, or: \.departedEnemies))
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
        let bytes = try self.checkEnemySize(fields)
        if self.enemies[id] == nil, self.enemies.count >= self.limits.maxEntitiesPerRoom {
            self.retireDeadEnemies(now: now)
            guard self.enemies.count < self.limits.maxEntitiesPerRoom else {
                throw .limitExceeded("enemies in this room", limit: self.limits.maxEntitiesPerRoom)
            }
        }
        try self.chargeEntityBytes(bytes - (self.enemies[id]?.bytes ?? 0))
        drops.spend(rewardValue.rounded(.down), now: now)  // the coins its kill will drop
        self.dropBudget = drops
        // Spawned again under an old id: alive again, as the host says.
        self.forgetRemembered(id, in: \.departedEnemies)
        self.enemies[id] = TrackedEnemy(fields: fields, bytes: bytes)
        return .object(fields)
    }

    /// Refuses an enemy larger than ``RelayLimits/maxEntityBytes`` as it is, or as it would be
    /// once dead (`"is_alive":false`, `"state":"dead"`), so that its death always fits. Returns
    /// its size as it is.
    func checkEnemySize(_ fields: [String: JSONValue]) throws(RelayError) -> Int {
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
        return current
    }

    private static let deathFields: [(String, JSONValue)] = [("is_alive", .bool(false)), ("state", "dead")]

    /// Gives an enemy's fields the death fields (``deathFields``), as every death writes them.
    static func markDead(_ fields: inout [String: JSONValue]) {
        for (key, value) in Self.deathFields { fields[key] = value }
    }

    /// Moves enemies dead for ``deadEnemyRetention`` out of the list, keeping only their ids.
    mutating func retireDeadEnemies(now: ContinuousClock.Instant) {
        let retention = Self.deadEnemyRetention
        let expired = self.enemies.filter { _, enemy in enemy.diedAt.map { now - $0 >= retention } ?? false }
        guard !expired.isEmpty else { return }
        self.enemies.removeAll { id, _ in expired[id] != nil }
        self.releaseEntityBytes(expired.values.reduce(0) { $0 + $1.bytes })
        self.remember(contentsOf: expired.keys, in: \.departedEnemies)
    }

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
    public mutating func updateEnemy(
        _ enemyID: String, state: [String: JSONValue], now: ContinuousClock.Instant
    )
        throws(RelayError)
    {
        guard let enemy = self.enemies[enemyID] else { return }
        let updated = try self.merged(enemy, with: state, now: now)
        try self.chargeEntityBytes(updated.bytes - enemy.bytes)
        self.enemies[enemyID] = updated
    }

    /// `enemy` with a reported state merged in (see ``updateEnemy(_:state:now:)``), its floats
    /// rounded: kept as `enemy_state_update` and `entities_sync` relay them (as the old backend
    /// kept them), so that a kill's coins drop where the room-mates saw the enemy.
    func merged(
        _ enemy: TrackedEnemy, with state: [String: JSONValue], now: ContinuousClock.Instant
    )
        throws(RelayError) -> TrackedEnemy
    {
        var enemy = enemy
        for (key, value) in state where !Self.fixedEnemyKeys.contains(key) {
            enemy.fields[key] = value.roundingFloats()
        }
        if enemy.diedAt == nil, state["is_alive"] == .bool(false) {
            enemy.diedAt = now
        }
        if enemy.diedAt != nil {
            Self.markDead(&enemy.fields)
        }
        enemy.bytes = try self.checkEnemySize(enemy.fields)
        return enemy
    }

    /// Kills a living enemy and drops its coins (paid for at its spawn: a kill is never refused);
    /// a dead or unknown one is `alreadyDead`.
    public mutating func killEnemy(
        _ enemyID: String, by playerID: String, now: ContinuousClock.Instant
    )
        -> KillOutcome
    {
        guard var enemy = self.enemies[enemyID], enemy.isAlive else { return .alreadyDead }
        enemy.diedAt = now
        Self.markDead(&enemy.fields)
        enemy.fields["killed_by"] = .string(playerID)
        let limit = self.limits.maxEntityBytes
        var bytes = JSONValue.object(enemy.fields).writtenSizeBound(upTo: limit)
        if bytes > limit {
            // The death fields fit (``checkEnemySize(_:)``); the killer, who went out in
            // `enemy_killed`, is left out rather than pass the cap.
            enemy.fields["killed_by"] = nil
            bytes = JSONValue.object(enemy.fields).writtenSizeBound()
        }
        self.forceEntityBytes(bytes - enemy.bytes)  // a kill is never refused
        enemy.bytes = bytes
        self.enemies[enemyID] = enemy
        let reward = Self.clampedReward(enemy.fields["coin_reward"], limit: self.limits.maxCoinReward)
        let drops = Self.coinDrops(
            x: enemy.fields["x"]?.doubleValue ?? 0, y: enemy.fields["y"]?.doubleValue ?? 0, count: reward)
        for drop in drops {
            if case .object(let fields) = drop, let id = fields["coin_id"]?.stringValue {
                // Sent to the room uncollected, as a host's `coin_spawn` is: under the id of a coin
                // collected before (an earlier kill at the same spot) it is back, not shown yet refused.
                self.forgetRemembered(id, in: \.collectedCoins)
                self.track(droppedCoin: fields, id: id)
            }
        }
        return .killed(coinDrops: drops)
    }

    /// The `coin_reward` (or, without one, `coinReward`) a host gave a new enemy: a non-negative
    /// number (0 when there is none, or it is `null`, as the old server's drops read it:
    /// `int(reward or 0)`), at most ``RelayLimits/maxCoinReward``.
    func checkedReward(of enemy: [String: JSONValue], field: String) throws(RelayError) -> Double {
        var reward = enemy["coin_reward"] ?? enemy["coinReward"] ?? .integer(0)
        if reward == .null { reward = .integer(0) }
        guard let value = reward.doubleValue, value >= 0 else {
            throw .invalidField(field, expected: "a non-negative number")
        }
        guard value <= Double(self.limits.maxCoinReward) else {
            throw .limitExceeded("coins per kill", limit: self.limits.maxCoinReward)
        }
        return value
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
}

extension Double {
    fileprivate func clamped(to range: ClosedRange<Double>) -> Double {
        Swift.min(Swift.max(self, range.lowerBound), range.upperBound)
    }
}

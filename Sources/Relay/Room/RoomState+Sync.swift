import OrderedCollections

extension RoomState {
    /// Merges the host's view of enemies and coins, and returns the room's, as the original
    /// server did: every enemy alive or dead for under 10 s, every coin not collected, whether or
    /// not this sync listed it (a guest drops what a sync leaves out). The dead stay dead, a
    /// collected coin stays gone, and one the host lists as collected (`is_collected: true`) is
    /// forgotten, not listed. At most ``syncsPerSecond`` a second, and answers listing at most
    /// ``entityBudgetPerSecond`` entities a second on average: each answer may list a room's
    /// every entity, so a host could not otherwise buy that much work with an empty sync.
    public mutating func sync(
        enemies: [JSONValue], coins: [JSONValue], now: ContinuousClock.Instant
    ) throws(RelayError)
        -> (enemies: [JSONValue], coins: [JSONValue])
    {
        // First: every sync counts, refused or not (README).
        var budget = self.syncBudget ?? TokenBucket(rate: Self.syncsPerSecond, burst: Self.syncsPerSecond, now: now)
        defer { self.syncBudget = budget }
        guard budget.take(now: now) else { throw .rateLimited }
        let limit = self.limits.maxSyncListLength
        guard enemies.count <= limit, coins.count <= limit else {
            throw .limitExceeded("entities in one sync", limit: limit)
        }
        self.retireDeadEnemies(now: now)
        // Kept as `entities_sync` relays them, rounded: a kill's coins drop where the guests saw
        // the enemy, and a reconnect's `game_state` shows what they saw.
        let (enemies, coins) = (enemies.map { $0.roundingFloats() }, coins.map { $0.roundingFloats() })
        // Staged, and applied only once every entity is known to fit: a refused sync changes nothing.
        let staged = try self.stage(enemies: enemies, now: now)
        let (stagedCoins, reportedCollected) = try self.stage(coins: coins)
        let coinsAfter = min(self.limits.maxEntitiesPerRoom, self.coins.count + stagedCoins.count)
        // Living enemies it adds pay for their drops as spawned ones do (``spawnEnemy(_:by:now:)``):
        // each may take the budget into debt, none is added while it is. So all but the largest
        // are paid from what the budget holds, or the sync waits; and more than the budget ever
        // holds is refused. A host adding 500 100-coin enemies in one sync had 50,000 coins to
        // drop, against a burst of 2,000.
        var drops = self.currentDropBudget(now: now)
        if staged.addedRewards > 0 {
            let most = Int(self.dropBurst)
            guard staged.addedRewards <= most else {
                throw .limitExceeded("coins the enemies one sync adds would drop", limit: most)
            }
            guard Double(staged.addedRewards - staged.largestAddedReward) <= drops.tokens(now: now) else {
                throw .rateLimited
            }
        }
        let entityBudget = try self.entityBudget(taking: self.enemies.count + staged.added + coinsAfter, now: now)
        try self.chargeEntityBytes(self.bytesAdded(by: staged) + self.bytesAdded(by: stagedCoins))
        self.entityBudget = entityBudget  // spent only by a sync that is answered
        if staged.addedRewards > 0 {
            drops.spend(Double(staged.addedRewards), now: now)
            self.dropBudget = drops
        }
        for id in staged.order { self.enemies[id] = staged.byID[id] }
        for coin in stagedCoins where !self.collectedCoins.contains(coin.id) {  // a collected coin never comes back
            self.put(coin.item, for: coin.id, in: \.coins)
        }
        for id in reportedCollected { self.forget(id, in: \.coins) }
        return (self.enemies.values.map { .object($0.fields) }, self.coins.values.map { .object($0.fields) })
    }

    /// The bytes the staged enemies add to the room's entity bytes, less those they replace.
    private func bytesAdded(by staged: StagedEnemies) -> Int {
        staged.byID.reduce(0) { sum, entry in sum + entry.value.bytes - (self.enemies[entry.key]?.bytes ?? 0) }
    }

    /// The same for staged coins, put in turn as ``put(_:for:in:)`` will put them: each less the
    /// coin it replaces or, a new one in a full list, the oldest it pushes out (which may be one
    /// the sync listed before it).
    private func bytesAdded(by coins: [(id: String, item: TrackedItem)]) -> Int {
        var sizes = OrderedDictionary(uniqueKeysWithValues: self.coins.lazy.map { ($0.key, $0.value.bytes) })
        var added = 0
        for coin in coins where !self.collectedCoins.contains(coin.id) {
            if let replaced = sizes[coin.id] {
                added -= replaced
            } else if sizes.count >= self.limits.maxEntitiesPerRoom {
                added -= sizes.removeFirst().value
            }
            sizes[coin.id] = coin.item.bytes
            added += coin.item.bytes
        }
        return added
    }

    /// A sync's enemies as they would be once merged, not yet applied.
    private struct StagedEnemies {
        var byID: [String: TrackedEnemy] = [:]
        /// The order to apply them in: as the sync first lists each.
        var order: [String] = []
        /// Enemies the room did not know.
        var added = 0
        /// The coins the living enemies it adds will drop.
        var addedRewards = 0
        /// The most coins one of them will drop.
        var largestAddedReward = 0
    }

    /// The enemies a sync lists, merged into those the room knows: the dead and the departed stay
    /// as they are, and new ones are added if the room has space for them all.
    private func stage(enemies: [JSONValue], now: ContinuousClock.Instant) throws(RelayError) -> StagedEnemies {
        var staged = StagedEnemies()
        for entry in enemies {
            guard case .object(let reported) = entry else { throw .invalidField("enemies", expected: "objects") }
            guard let given = Self.syncedID(reported["enemy_id"]) else { continue }  // nothing to keep it under
            guard let id = given.stringValue else { throw .invalidField("enemies.enemy_id", expected: "a string") }
            guard !self.departedEnemies.contains(id) else { continue }
            try Self.checkID(id, field: "enemies.enemy_id")
            if let known = staged.byID[id] ?? self.enemies[id] {
                guard known.isAlive else { continue }  // the dead stay as they died
                if staged.byID[id] == nil { staged.order.append(id) }
                staged.byID[id] = try self.merged(known, with: reported, now: now)
            } else {
                // Over the cap is an error, as a spawn's is: skipped, the host would never know
                // that its guests, who drop what a sync leaves out, lost those enemies.
                guard self.enemies.count + staged.added < self.limits.maxEntitiesPerRoom else {
                    throw .limitExceeded("enemies in this room", limit: self.limits.maxEntitiesPerRoom)
                }
                var fields = reported
                // Checked as a spawn's is: over the cap is an error (PROTOCOL.md §3), not a clamp.
                let reward = try self.checkedReward(of: reported, field: "enemies.coin_reward")
                fields["coin_reward"] = .integer(Int64(reward))
                let diedAt = reported["is_alive"] == .bool(false) ? now : nil
                if diedAt != nil {
                    Self.markDead(&fields)
                }
                let bytes = try self.checkEnemySize(fields)
                if diedAt == nil {
                    staged.addedRewards += Int(reward)
                    staged.largestAddedReward = max(staged.largestAddedReward, Int(reward))
                }
                staged.byID[id] = TrackedEnemy(fields: fields, diedAt: diedAt, bytes: bytes)
                staged.order.append(id)
                staged.added += 1
            }
        }
        return staged
    }

    /// The id a sync's entry gives, or nil for one it does not: absent, `null` or `""`, which the old
    /// server passed over as it did a missing one (a spawn gives such an entity an id of its own).
    private static func syncedID(_ given: JSONValue?) -> JSONValue? {
        switch given {
        case nil, .null, .string(""): nil
        default: given
        }
    }

    /// The coins a sync lists, each checked, not yet tracked; apart, the ids of those the host lists
    /// as collected, which the original server kept but left out of every list (as a coin collected
    /// in the room is: a guest would otherwise show a coin the host has seen taken).
    private func stage(
        coins: [JSONValue]
    ) throws(RelayError) -> (staged: [(id: String, item: TrackedItem)], collected: [String]) {
        var staged: [(id: String, item: TrackedItem)] = []
        var collected: [String] = []
        for entry in coins {
            guard case .object(let reported) = entry else { throw .invalidField("coins", expected: "objects") }
            guard let given = Self.syncedID(reported["coin_id"]) else { continue }  // nothing to keep it under
            guard let sent = given.stringValue else { throw .invalidField("coins.coin_id", expected: "a string") }
            try Self.checkID(sent, field: "coins.coin_id")
            let id = self.keptSpelling(ofItem: sent, type: "coin")
            var fields = reported
            fields["coin_id"] = .string(id)  // as the room keeps it, in the lists it sends
            let bytes = try self.checkSize(of: fields, kind: "coin")
            if reported["is_collected"] == .bool(true) {
                collected.append(id)
            } else {
                staged.append((id, TrackedItem(fields: fields, bytes: bytes)))
            }
        }
        return (staged, collected)
    }

    /// Entities a room may write out in bulk per second, on average: listed in `entities_sync`
    /// answers and `game_state`s, and, on a budget of their own, dropped as coins by kills. A full room
    /// (``RelayLimits/maxEntitiesPerRoom`` enemies and as many coins) every two seconds, where the
    /// game's host has a few dozen listed once and drops a few coins a kill. Writing one out costs
    /// the room's event loop 2–5 µs, and other rooms on that loop wait meanwhile.
    public var entityBudgetPerSecond: Double { Double(self.limits.maxEntitiesPerRoom) }

    /// The entity budget once an answer listing `count` entities is taken from it (a full room's
    /// worth at most at once), not yet kept; `rate_limited` when it has not that many.
    private func entityBudget(taking count: Int, now: ContinuousClock.Instant) throws(RelayError) -> TokenBucket {
        var budget = self.currentEntityBudget(now: now)
        guard budget.take(Double(count), now: now) else { throw .rateLimited }
        return budget
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
    func currentDropBudget(now: ContinuousClock.Instant) -> TokenBucket {
        self.dropBudget ?? TokenBucket(rate: self.entityBudgetPerSecond, burst: self.dropBurst, now: now)
    }

    /// The most coins the drop budget holds: two seconds' worth.
    var dropBurst: Double { 2 * self.entityBudgetPerSecond }

    private func currentEntityBudget(now: ContinuousClock.Instant) -> TokenBucket {
        let rate = self.entityBudgetPerSecond
        return self.entityBudget ?? TokenBucket(rate: rate, burst: 2 * rate, now: now)
    }
}

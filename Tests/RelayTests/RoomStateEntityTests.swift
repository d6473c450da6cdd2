import Testing

@testable import Relay

@Suite("RoomState — items and enemies")
struct RoomStateEntityTests {
    @Test func firstCollectorWinsACoin() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnCoin(["coin_id": "c1", "x": 5], by: "p1")
        #expect(room.coins["c1"] != nil)
        #expect(try room.collect(itemType: "coin", itemID: "c1", by: "p2") == .collected(coins: 1, score: 10))
        #expect(try room.collect(itemType: "coin", itemID: "c1", by: "p1") == .alreadyCollected)
        #expect(try room.collect(itemType: "coin", itemID: "c1", by: "p2") == .alreadyCollected)
        #expect(room.player("p2")?.coins == 1)
        #expect(room.player("p2")?.score == 10)
        #expect(room.player("p1")?.coins == 0)
        #expect(room.player("p1")?.score == 0)
        #expect(room.coins["c1"] == nil)
        #expect(room.collectedCoins.ids == ["c1"])
        #expect(try room.collect(itemType: "coin", itemID: "c2", by: "p2") == .collected(coins: 2, score: 20))
    }

    @Test func powerupsAreCollectedOnceWithoutScore() throws {
        var room = try makeRoom(players: 2)
        let powerup = try room.spawnPowerup(["powerup_id": "pu", "type": "shield"], by: "p1")
        #expect(powerup == ["powerup_id": "pu", "type": "shield", "x": 0, "y": 0])
        #expect(try room.collect(itemType: "powerup", itemID: "pu", by: "p1") == .collected(coins: 0, score: 0))
        #expect(try room.collect(itemType: "powerup", itemID: "pu", by: "p2") == .alreadyCollected)
        #expect(room.powerups["pu"] == nil)
        #expect(room.collectedPowerups.ids == ["pu"])
    }

    @Test func unknownItemTypeIsInvalid() throws {
        var room = try makeRoom(players: 1)
        let error = relayError { _ = try room.collect(itemType: "gem", itemID: "g", by: "p1") }
        #expect(error?.code == "invalid_field")
        #expect(room.collectedCoins.count == 0)
        #expect(throws: RelayError.notInRoom) { _ = try room.collect(itemType: "coin", itemID: "c", by: "ghost") }
    }

    @Test func spawnEnemyIsHostOnly() throws {
        var room = try makeRoom(players: 2)
        #expect(throws: RelayError.notHost) { _ = try room.spawnEnemy([:], by: "p2", now: .now) }
        #expect(throws: RelayError.notHost) { _ = try room.spawnCoin([:], by: "p2") }
        #expect(throws: RelayError.notHost) { _ = try room.spawnPowerup([:], by: "p2") }
        #expect(room.enemies.isEmpty)
    }

    @Test func spawnEnemyFillsDefaults() throws {
        var room = try makeRoom(players: 2)
        let enemy = try room.spawnEnemy([:], by: "p1", now: .now)
        #expect(
            enemy == [
                "enemy_id": "enemy_0", "enemy_type": "fly", "x": 0, "y": 0, "velocity_x": 0, "velocity_y": 0,
                "health": 10, "max_health": 10, "coin_reward": 0, "scale": .number(1.0), "is_alive": true,
                "facing_right": true, "state": "idle",
            ])
        let second = try room.spawnEnemy(
            ["enemy_type": "slime", "x": .number(3.5), "is_alive": false], by: "p1", now: .now)
        #expect(second["enemy_id"] == "enemy_1")
        #expect(second["enemy_type"] == "slime")
        #expect(second["x"] == .number(3.5))
        #expect(second["is_alive"] == true)  // a spawned enemy is alive
        #expect(room.enemies.count == 2)
    }

    @Test func coinRewardIsCheckedAndAliased() throws {
        var limits = RelayLimits()
        limits.maxCoinReward = 100
        var room = try makeRoom(players: 2, limits: limits)
        #expect(try room.spawnEnemy(["enemy_id": "e1", "coinReward": 5], by: "p1", now: .now)["coin_reward"] == 5)
        #expect(try room.spawnEnemy(["enemy_id": "e2", "coin_reward": 100], by: "p1", now: .now)["coin_reward"] == 100)
        #expect(
            try room.spawnEnemy(["enemy_id": "e3", "coin_reward": .number(2.9)], by: "p1", now: .now)["coin_reward"]
                == 2)
        let over = relayError { _ = try room.spawnEnemy(["enemy_id": "e4", "coin_reward": 101], by: "p1", now: .now) }
        #expect(over?.code == "limit_exceeded")
        let overAlias = relayError {
            _ = try room.spawnEnemy(["enemy_id": "e5", "coinReward": 1_000_000], by: "p1", now: .now)
        }
        #expect(overAlias?.code == "limit_exceeded")
        #expect(
            relayError { _ = try room.spawnEnemy(["coin_reward": -1], by: "p1", now: .now) }?.code == "invalid_field")
        #expect(
            relayError { _ = try room.spawnEnemy(["coin_reward": "5"], by: "p1", now: .now) }?.code == "invalid_field")
        #expect(room.enemies["e4"] == nil)
        #expect(room.enemies["e5"] == nil)
    }

    @Test func entityIDsAreChecked() throws {
        var room = try makeRoom(players: 1)
        #expect(relayError { _ = try room.spawnEnemy(["enemy_id": 5], by: "p1", now: .now) }?.code == "invalid_field")
        let long = String(repeating: "e", count: 129)
        #expect(
            relayError { _ = try room.spawnEnemy(["enemy_id": .string(long)], by: "p1", now: .now) }?.code == "too_long"
        )
        #expect(try room.spawnCoin(["coin_id": ""], by: "p1")["coin_id"] == "coin_0")
    }

    /// An id the server makes up never names an entity the room keeps: a host naming `coin_0`
    /// itself would otherwise have a later unnamed coin bring it back once collected, to be paid again.
    @Test func madeUpIDsPassOverTheIDsTheRoomKeeps() throws {
        var room = try makeRoom(players: 2)
        let start = ContinuousClock.now
        _ = try room.spawnCoin(["coin_id": "coin_0"], by: "p1")
        _ = try room.spawnCoin(["coin_id": "coin_1"], by: "p1")
        #expect(try room.collect(itemType: "coin", itemID: "coin_0", by: "p2") == .collected(coins: 1, score: 10))
        #expect(try room.spawnCoin([:], by: "p1")["coin_id"] == "coin_2")  // collected, then tracked
        #expect(try room.collect(itemType: "coin", itemID: "coin_0", by: "p2") == .alreadyCollected)
        #expect(room.coins["coin_1"] != nil && room.coins.count == 2)
        _ = try room.spawnPowerup(["powerup_id": "powerup_3"], by: "p1")
        _ = try room.collect(itemType: "powerup", itemID: "powerup_4", by: "p1")
        #expect(try room.spawnPowerup([:], by: "p1")["powerup_id"] == "powerup_5")
        #expect(room.collectedPowerups.contains("powerup_4"))
        _ = try room.spawnEnemy(["enemy_id": "enemy_6", "x": 9], by: "p1", now: start)
        #expect(try room.spawnEnemy([:], by: "p1", now: start)["enemy_id"] == "enemy_7")
        #expect(room.enemies["enemy_6"]?.fields["x"] == 9)
        // Departed (dead and kept only as an id), an enemy's id is passed over too.
        _ = room.killEnemy("enemy_7", by: "p1", now: start)
        _ = room.killEnemy("enemy_6", by: "p1", now: start)
        _ = try room.sync(enemies: [], coins: [], now: start + .seconds(11))
        #expect(room.departedEnemies.ids == ["enemy_6", "enemy_7"])
        _ = try room.spawnEnemy(["enemy_id": "enemy_8"], by: "p1", now: start + .seconds(11))
        _ = room.killEnemy("enemy_8", by: "p1", now: start + .seconds(11))
        _ = try room.sync(enemies: [], coins: [], now: start + .seconds(22))
        #expect(room.departedEnemies.contains("enemy_8"))
        #expect(try room.spawnEnemy([:], by: "p1", now: start + .seconds(22))["enemy_id"] == "enemy_9")
        #expect(room.departedEnemies.contains("enemy_8"), "not revived")
    }

    @Test func livingEnemiesAreCappedTheDeadMakeWay() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 2
        var room = try makeRoom(players: 1, limits: limits)
        let start = ContinuousClock.now
        _ = try room.spawnEnemy([:], by: "p1", now: start)
        _ = try room.spawnEnemy([:], by: "p1", now: start)
        #expect(relayError { _ = try room.spawnEnemy([:], by: "p1", now: start) }?.code == "limit_exceeded")
        _ = try room.spawnEnemy(["enemy_id": "enemy_0", "x": 9], by: "p1", now: start)  // replacing one is fine
        _ = room.killEnemy("enemy_0", by: "p1", now: start)
        // Dead for under 10 s it still counts (entities_sync reports it); after that it makes way.
        let soon = start + .seconds(9)
        #expect(
            relayError { _ = try room.spawnEnemy(["enemy_id": "late"], by: "p1", now: soon) }?.code == "limit_exceeded")
        _ = try room.spawnEnemy(["enemy_id": "late"], by: "p1", now: start + .seconds(10))
        #expect(room.enemies["enemy_0"] == nil)
        #expect(room.departedEnemies.ids == ["enemy_0"])
        // Departed, it stays dead: a kill is "already dead", a sync does not bring it back.
        #expect(room.killEnemy("enemy_0", by: "p1", now: start + .seconds(11)) == .alreadyDead)
        let synced = try room.sync(
            enemies: [["enemy_id": "enemy_0", "is_alive": true]], coins: [], now: start + .seconds(11))
        #expect(!synced.enemies.contains { $0["enemy_id"] == "enemy_0" })
        #expect(room.enemies["enemy_0"] == nil)
    }

    @Test func fullCoinAndPowerupListsForgetTheirOldest() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 2
        var room = try makeRoom(players: 1, limits: limits)
        for id in ["c0", "c1", "c2"] { _ = try room.spawnCoin(["coin_id": .string(id)], by: "p1") }
        #expect(Array(room.coins.keys) == ["c1", "c2"])
        for id in ["p0", "p1", "p2"] { _ = try room.spawnPowerup(["powerup_id": .string(id)], by: "p1") }
        #expect(Array(room.powerups.keys) == ["p1", "p2"])
        // An enemy's drops are tracked the same way, and still all sent to the room.
        _ = try room.spawnEnemy(["enemy_id": "e", "coin_reward": 3], by: "p1", now: .now)
        guard case .killed(let drops) = room.killEnemy("e", by: "p1", now: .now) else {
            Issue.record("expected a kill")
            return
        }
        #expect(drops.count == 3)
        #expect(Array(room.coins.keys) == ["coin_drop_0_0_1", "coin_drop_0_0_2"])
    }

    @Test func collectedIDsAreBounded() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 2  // remembers 20 ids of each kind, dropping 5 at a time past 25
        var room = try makeRoom(players: 1, limits: limits)
        for index in 0..<100 { _ = try room.collect(itemType: "coin", itemID: "c\(index)", by: "p1") }
        for index in 0..<100 { _ = try room.collect(itemType: "powerup", itemID: "p\(index)", by: "p1") }
        #expect((20...25).contains(room.collectedCoins.count))
        #expect((20...25).contains(room.collectedPowerups.count))
        #expect(try room.collect(itemType: "coin", itemID: "c99", by: "p1") == .alreadyCollected)
        #expect(try room.collect(itemType: "powerup", itemID: "p80", by: "p1") == .alreadyCollected)
    }

    @Test func collectedIDsAreBoundedInBytes() throws {
        var room = try makeRoom(players: 1)
        let longest = String(repeating: "\u{1F600}", count: RoomState.maxEntityIDLength - 4)  // 4 bytes each
        for index in 0..<2_000 { _ = try room.collect(itemType: "coin", itemID: "\(index)" + longest, by: "p1") }
        let limit = RoomState.rememberedIDBytes
        #expect(room.collectedCoins.bytes <= limit + limit / 4)
        #expect(room.collectedCoins.bytes == room.collectedCoins.ids.reduce(0) { $0 + $1.utf8.count })
        #expect(room.collectedCoins.count < 700)  // of 2,000: 512 bytes each
        #expect(try room.collect(itemType: "coin", itemID: "1999" + longest, by: "p1") == .alreadyCollected)
    }

    @Test func aLongRunNeverFillsTheRoom() throws {
        var room = try makeRoom(players: 2)  // default caps: 1,000 entities, 10,000 remembered ids
        var now = ContinuousClock.now
        // An hour of endless mode at one enemy and one coin a second, most coins left behind.
        for second in 0..<3_600 {
            let enemy = "enemy_\(second)"
            _ = try room.spawnEnemy(["enemy_id": .string(enemy), "coin_reward": 2], by: "p1", now: now)
            _ = room.killEnemy(enemy, by: "p2", now: now)
            if second % 4 == 0 { _ = try room.collect(itemType: "coin", itemID: "coin_drop_0_0_0", by: "p2") }
            now += .seconds(1)
        }
        #expect(room.enemies.count <= 1_000)
        #expect(room.coins.count <= 1_000)
        _ = try room.spawnEnemy(["enemy_id": "still_spawning"], by: "p1", now: now)
    }

    @Test func killingALivingEnemyDropsItsCoins() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnEnemy(
            ["enemy_id": "e1", "x": .number(100.7), "y": .number(-50.2), "coin_reward": 3], by: "p1", now: .now)
        let now = ContinuousClock.now
        let outcome = room.killEnemy("e1", by: "p2", now: now)
        guard case .killed(let drops) = outcome else {
            Issue.record("expected a kill, got \(outcome)")
            return
        }
        #expect(drops == RoomState.coinDrops(x: 100.7, y: -50.2, count: 3))
        #expect(
            drops.compactMap { $0["coin_id"]?.stringValue } == [
                "coin_drop_100_-50_0", "coin_drop_100_-50_1", "coin_drop_100_-50_2",
            ])
        // the drops are tracked as coins of the room
        #expect(Set(room.coins.keys) == ["coin_drop_100_-50_0", "coin_drop_100_-50_1", "coin_drop_100_-50_2"])
        let enemy = try #require(room.enemies["e1"])
        #expect(!enemy.isAlive)
        #expect(enemy.diedAt == now)
        #expect(enemy.fields["killed_by"] == "p2")
        #expect(enemy.fields["state"] == "dead")
        #expect(room.killEnemy("e1", by: "p1", now: now) == .alreadyDead)
        #expect(room.killEnemy("nope", by: "p1", now: now) == .alreadyDead)
    }

    /// Game values are relayed whatever their type (README); the drops then read the axis as 0.
    @Test("A spawn's non-number coordinates are kept as sent, and its kill drops at 0 along them")
    func nonNumberCoordinatesDropAtZero() throws {
        var room = try makeRoom(players: 2)
        let spawned = try room.spawnEnemy(
            ["enemy_id": "e1", "x": "12", "y": .number(7.9), "coin_reward": 1], by: "p1", now: .now)
        #expect(spawned["x"] == "12")
        guard case .killed(let drops) = room.killEnemy("e1", by: "p2", now: .now) else {
            Issue.record("expected a kill")
            return
        }
        #expect(drops.compactMap { $0["coin_id"]?.stringValue } == ["coin_drop_0_7_0"])
    }

    @Test("An enemy's last known position: its numbers only, alive or dead, none once kept only as an id")
    func lastKnownPositionOfAnEnemy() throws {
        var room = try makeRoom(players: 1)
        let start = ContinuousClock.now
        _ = try room.spawnEnemy(["enemy_id": "e1", "x": 12.345, "y": "high"], by: "p1", now: start)
        #expect(room.lastKnownPosition(ofEnemy: "e1") == ["x": 12.345])
        try room.updateEnemy("e1", state: ["y": -7, "velocity_x": 30], now: start)
        _ = room.killEnemy("e1", by: "p1", now: start)
        #expect(room.lastKnownPosition(ofEnemy: "e1") == ["x": 12.345, "y": -7])
        room.retireDeadEnemies(now: start + RoomState.deadEnemyRetention)
        #expect(room.lastKnownPosition(ofEnemy: "e1").isEmpty)
        #expect(room.lastKnownPosition(ofEnemy: "nope").isEmpty)
    }

    @Test("A spawn spends the coins its kill will drop from the drop budget; spawns wait while that is in debt")
    func spawnsSpendTheDropBudget() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10  // 10 entities a second, a burst of 20
        var room = try makeRoom(players: 2, limits: limits)
        let start = ContinuousClock.now
        let enemy: [String: JSONValue] = ["enemy_id": "e", "coin_reward": 15]
        // The same id spawned again revives the dead: only the budget bounds the loop.
        for _ in 0..<2 {
            _ = try room.spawnEnemy(enemy, by: "p1", now: start)
            guard case .killed(let drops) = room.killEnemy("e", by: "p2", now: start) else {
                Issue.record("expected a kill")
                return
            }
            #expect(drops.count == 15)  // the second kill, into debt, still drops every coin
        }
        // 30 coins against a burst of 20: 10 in debt, repaid at 10 a second.
        #expect(
            relayError { _ = try room.spawnEnemy(enemy, by: "p1", now: start + .milliseconds(900)) }?.code
                == "rate_limited")
        #expect(room.enemies["e"]?.isAlive == false)  // the refused spawn changed nothing
        _ = try room.spawnEnemy(enemy, by: "p1", now: start + .milliseconds(1_100))
        #expect(room.enemies["e"]?.isAlive == true)
    }

    /// A host spawns 1,000 enemies of 100 coins at its message budget, then the room kills them
    /// all in half a second: were drops paid at the kill, checked only for debt at the spawn,
    /// 100,000 coins would fall at once (a reviewer's find).
    @Test("Enemies spawned ahead drop no more coins at once than the drop budget holds")
    func enemiesSpawnedAheadDropWithinTheBudget() throws {
        var room = try makeRoom(players: 2)
        let start = ContinuousClock.now
        var spawned = 0
        for index in 0..<1_000 {
            let enemy: [String: JSONValue] = [
                "enemy_id": .string("e\(index)"), "x": .integer(Int64(index)), "coin_reward": 100,
            ]
            if (try? room.spawnEnemy(enemy, by: "p1", now: start + .milliseconds(index))) != nil { spawned += 1 }
        }
        var (coins, killed) = (0, 0)
        for index in 0..<1_000 {
            if case .killed(let drops) = room.killEnemy(
                "e\(index)", by: "p2", now: start + .seconds(1) + .microseconds(500 * index))
            {
                coins += drops.count
                killed += 1
            }
        }
        // Every spawned enemy dies and drops its whole reward, paid for at its spawn; the spawns
        // the budget refused are the ones that do not exist to kill.
        #expect(killed == spawned)
        #expect(coins == spawned * 100, "\(coins) coins dropped, \(spawned) enemies spawned")
        // 1 s at 1,000 a second plus the burst of 2,000, and one spawn into debt.
        #expect(coins <= 3_100, "\(coins) coins dropped, \(spawned) enemies spawned")
        #expect(spawned >= 20)  // the burst's worth at once
    }

    /// Enemies a host's `sync_entities` adds are alive and keep their `coin_reward`: they pay for
    /// their drops as spawned ones do, or a host could add 500 100-coin enemies a sync.
    @Test("Living enemies a sync adds spend their drops; while that is in debt a sync adding more waits")
    func syncAddedEnemiesPayForTheirDrops() throws {
        var room = try makeRoom(players: 1)
        let start = ContinuousClock.now
        let enemies: [JSONValue] = (0..<30).map { .object(["enemy_id": .string("s\($0)"), "coin_reward": 100]) }
        // 3,000 coins: more than the budget ever holds (2,000), refused whole. It used to be taken,
        // and so was one of 500 such enemies, 50,000 coins.
        #expect(throws: RelayError.limitExceeded("coins the enemies one sync adds would drop", limit: 2_000)) {
            _ = try room.sync(enemies: enemies, coins: [], now: start)
        }
        #expect(room.enemies.isEmpty)
        _ = try room.sync(enemies: Array(enemies.prefix(20)), coins: [], now: start)  // the whole burst
        _ = try room.spawnEnemy(["enemy_id": "s20", "coin_reward": 100], by: "p1", now: start)  // into debt
        var coins = 0
        for index in 0..<21 {
            if case .killed(let drops) = room.killEnemy("s\(index)", by: "p1", now: start) { coins += drops.count }
        }
        #expect(coins == 2_100)  // a kill is never refused
        // 100 coins in debt, repaid at 1,000 a second.
        let more: [JSONValue] = [.object(["enemy_id": "t0", "coin_reward": 1])]
        #expect(throws: RelayError.rateLimited) {
            _ = try room.sync(enemies: more, coins: [], now: start + .milliseconds(50))
        }
        #expect(throws: RelayError.rateLimited) {
            _ = try room.spawnEnemy(["enemy_id": "t1"], by: "p1", now: start + .milliseconds(50))
        }
        _ = try room.sync(enemies: [], coins: [], now: start + .milliseconds(60))  // adding nothing: not held back
        // A sync within the burst that waits for the budget goes in once it holds all but the largest.
        let twoHundred: [JSONValue] = (0..<2).map { .object(["enemy_id": .string("w\($0)"), "coin_reward": 100]) }
        #expect(throws: RelayError.rateLimited) {
            _ = try room.sync(enemies: twoHundred, coins: [], now: start + .milliseconds(150))
        }
        _ = try room.sync(enemies: twoHundred, coins: [], now: start + .milliseconds(200))
        _ = try room.sync(enemies: more, coins: [], now: start + .milliseconds(400))
    }

    @Test func killingAnEnemyWithoutRewardDropsNothing() throws {
        var room = try makeRoom(players: 1)
        _ = try room.spawnEnemy(["enemy_id": "e1", "x": 5, "y": 5], by: "p1", now: .now)
        #expect(room.killEnemy("e1", by: "p1", now: .now) == .killed(coinDrops: []))
        #expect(room.coins.isEmpty)
    }

    @Test func updateEnemyNeverRevivesTheDead() throws {
        var room = try makeRoom(players: 1)
        _ = try room.spawnEnemy(["enemy_id": "e1"], by: "p1", now: .now)
        try room.updateEnemy("e1", state: ["x": 42, "enemy_id": "other"], now: .now)
        #expect(room.enemies["e1"]?.fields["x"] == 42)
        #expect(room.enemies["e1"]?.fields["enemy_id"] == "e1")
        _ = room.killEnemy("e1", by: "p1", now: .now)
        try room.updateEnemy("e1", state: ["is_alive": true, "state": "walk", "x": 43], now: .now)
        #expect(room.enemies["e1"]?.fields["is_alive"] == false)
        #expect(room.enemies["e1"]?.fields["state"] == "dead")
        #expect(room.enemies["e1"]?.fields["x"] == 43)
        try room.updateEnemy("unknown", state: ["x": 1], now: .now)
        #expect(room.enemies["unknown"] == nil)
    }

    @Test func aReportedDeathCountsAndTheRewardCannotBeRewritten() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnEnemy(["enemy_id": "e1", "coin_reward": 2], by: "p1", now: .now)
        try room.updateEnemy("e1", state: ["coin_reward": .number(1e300), "coinReward": 5], now: .now)
        #expect(room.enemies["e1"]?.fields["coin_reward"] == 2)
        let now = ContinuousClock.now
        try room.updateEnemy("e1", state: ["is_alive": false], now: now)
        #expect(room.enemies["e1"]?.diedAt == now)
        try room.updateEnemy("e1", state: ["is_alive": true], now: now)
        #expect(room.enemies["e1"]?.isAlive == false)
        #expect(room.killEnemy("e1", by: "p2", now: now) == .alreadyDead)
    }

    /// The game's host gives each level's coins the ids it gave the last level's.
    @Test func itemsSpawnedAgainUnderACollectedIDAreBack() throws {
        var room = try makeRoom(players: 1)
        _ = try room.collect(itemType: "coin", itemID: "c1", by: "p1")
        _ = try room.collect(itemType: "powerup", itemID: "u1", by: "p1")
        #expect(try room.spawnCoin(["coin_id": "c1"], by: "p1")["coin_id"] == "c1")
        #expect(try room.spawnPowerup(["powerup_id": "u1"], by: "p1")["powerup_id"] == "u1")
        #expect(room.coins["c1"] != nil && room.powerups["u1"] != nil)
        #expect(room.collectedCoins.ids.isEmpty && room.collectedPowerups.ids.isEmpty)
        #expect(try room.collect(itemType: "coin", itemID: "c1", by: "p1") == .collected(coins: 2, score: 20))
        #expect(try room.collect(itemType: "powerup", itemID: "u1", by: "p1") == .collected(coins: 2, score: 20))
        // A refused spawn changes nothing: the coin stays collected.
        _ = try room.collect(itemType: "coin", itemID: "c2", by: "p1")
        #expect(throws: RelayError.self) {
            _ = try room.spawnCoin(["coin_id": "c2", "x": .string(String(repeating: "x", count: 4_000))], by: "p1")
        }
        #expect(room.collectedCoins.contains("c2") && room.coins["c2"] == nil)
    }

    /// A kill's drops go to the room as new coins; another kill at the same spot drops them under
    /// the same ids, and they must be collectable again, as a host's spawn under a collected id is.
    @Test func dropsUnderACollectedIDAreBack() throws {
        var room = try makeRoom(players: 2)
        let enemy: [String: JSONValue] = ["x": .number(100.7), "y": .number(-50.2), "coin_reward": 1]
        for (index, id) in ["e1", "e2"].enumerated() {
            _ = try room.spawnEnemy(enemy.merging(["enemy_id": .string(id)]) { $1 }, by: "p1", now: .now)
            #expect(room.killEnemy(id, by: "p2", now: .now) != .alreadyDead)
            #expect(room.coins["coin_drop_100_-50_0"] != nil)
            let total = Int64(index + 1)
            #expect(
                try room.collect(itemType: "coin", itemID: "coin_drop_100_-50_0", by: "p2")
                    == .collected(coins: total, score: 10 * total))
        }
    }

    @Test func rewardsOfAnySizeAreClampedNotTrapped() {
        for value: JSONValue in [.number(1e300), .integer(.max), .number(-.infinity), .number(-5), "lots", .null] {
            let reward = RoomState.clampedReward(value, limit: 100)
            #expect((0...100).contains(reward))
        }
        #expect(RoomState.clampedReward(.number(7.9), limit: 100) == 7)
    }
}

import Testing

@testable import Relay

@Suite("RoomState — sync")
struct RoomStateSyncTests {
    @Test func deadEnemiesStayDeadThenDisappear() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnEnemy(["enemy_id": "e1"], by: "p1", now: .now)
        let killedAt = ContinuousClock.now
        _ = room.killEnemy("e1", by: "p2", now: killedAt)
        let report: [JSONValue] = [["enemy_id": "e1", "is_alive": true, "state": "walk", "x": 7]]

        let soon = try room.sync(enemies: report, coins: [], now: killedAt + .seconds(9))
        #expect(soon.enemies.count == 1)
        #expect(soon.enemies.first?["is_alive"] == false)
        #expect(soon.enemies.first?["state"] == "dead")
        #expect(soon.enemies.first?["x"] == 0)  // as it died: a stale report does not move the dead
        #expect(room.enemies["e1"]?.isAlive == false)

        let later = try room.sync(enemies: report, coins: [], now: killedAt + .seconds(10))
        #expect(later.enemies.isEmpty)
        let muchLater = try room.sync(enemies: report, coins: [], now: killedAt + .seconds(60))
        #expect(muchLater.enemies.isEmpty)
        #expect(room.enemies["e1"] == nil)  // retired: only its id is kept, so it stays dead
        #expect(room.departedEnemies.contains("e1"))
    }

    @Test func livingAndNewEnemiesAreMergedAndRelayed() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnEnemy(["enemy_id": "e1"], by: "p1", now: .now)
        let visible = try room.sync(
            enemies: [["enemy_id": "e1", "x": 50], ["enemy_id": "new", "x": 1], ["no_id": true]],
            coins: [], now: .now)
        #expect(visible.enemies.map { $0["enemy_id"] } == ["e1", "new"])
        #expect(visible.enemies.map { $0["x"] } == [50, 1])
        #expect(visible.enemies.first?["enemy_type"] == "fly")  // the room's copy, defaults and all
        #expect(room.enemies["e1"]?.fields["x"] == 50)
        #expect(room.enemies["new"] != nil)
    }

    @Test func theAnswerIsTheRoomsViewNotTheReport() throws {
        var room = try makeRoom(players: 2)
        _ = try room.spawnEnemy(["enemy_id": "a"], by: "p1", now: .now)
        _ = try room.spawnCoin(["coin_id": "c1"], by: "p1")
        let visible = try room.sync(
            enemies: [["enemy_id": "b", "x": 3]], coins: [["coin_id": "c2", "x": 4]], now: .now)
        #expect(visible.enemies.map { $0["enemy_id"] } == ["a", "b"])
        #expect(visible.coins.map { $0["coin_id"] } == ["c1", "c2"])
    }

    @Test func syncsAreBudgetedPerRoom() throws {
        #expect(RoomState.syncsPerSecond == 10)  // README: at most 10 a second, the game's ~1
        var room = try makeRoom(players: 2)
        let start = ContinuousClock.now
        for _ in 0..<Int(RoomState.syncsPerSecond) { _ = try room.sync(enemies: [], coins: [], now: start) }
        #expect(relayError { _ = try room.sync(enemies: [], coins: [], now: start) }?.code == "rate_limited")
        _ = try room.sync(enemies: [], coins: [], now: start + .seconds(1))
    }

    /// The host may list every enemy the room may hold: with a shorter list cap, a host that had
    /// spawned 600 enemies one by one had its every sync refused.
    @Test func aSyncMayListEveryEnemyTheRoomMayHold() throws {
        var room = try makeRoom(players: 2)
        let everyEnemy: [JSONValue] = (0..<RelayLimits().maxEntitiesPerRoom).map {
            ["enemy_id": .string("e\($0)"), "coin_reward": 0]
        }
        let answer = try room.sync(enemies: everyEnemy, coins: [], now: .now)
        #expect(answer.enemies.count == everyEnemy.count)
    }

    @Test func refusedSyncsCountTowardTheBudget() throws {
        var limits = RelayLimits()
        limits.maxSyncListLength = 2
        var room = try makeRoom(players: 2, limits: limits)
        let start = ContinuousClock.now
        let tooLong: [JSONValue] = [["enemy_id": "a"], ["enemy_id": "b"], ["enemy_id": "c"]]
        for index in 0..<Int(RoomState.syncsPerSecond) {
            let (enemies, code): ([JSONValue], String) =
                index.isMultiple(of: 2) ? (tooLong, "limit_exceeded") : ([1], "invalid_field")
            #expect(relayError { _ = try room.sync(enemies: enemies, coins: [], now: start) }?.code == code)
        }
        #expect(relayError { _ = try room.sync(enemies: [], coins: [], now: start) }?.code == "rate_limited")
    }

    /// A two-player room whose caps are 10 entities of each kind, filled with 10 enemies and 10
    /// coins (and 10 power-ups).
    private func filledRoom(powerups: Bool = false, now: ContinuousClock.Instant) throws -> RoomState {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10
        var room = try makeRoom(players: 2, limits: limits)
        for index in 0..<10 {
            _ = try room.spawnEnemy(["enemy_id": .string("e\(index)")], by: "p1", now: now)
            _ = try room.spawnCoin(["coin_id": .string("c\(index)")], by: "p1")
            if powerups { _ = try room.spawnPowerup(["powerup_id": .string("p\(index)")], by: "p1") }
        }
        return room
    }

    @Test("New enemies past the room's cap refuse the whole sync with limit_exceeded, as a spawn past it is refused")
    func newEnemiesPastTheCapRefuseTheSync() throws {
        let start = ContinuousClock.now
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10
        var room = try makeRoom(players: 2, limits: limits)
        for index in 0..<8 { _ = try room.spawnEnemy(["enemy_id": .string("e\(index)")], by: "p1", now: start) }
        let threeNew: [JSONValue] = [
            ["enemy_id": "n0"], ["enemy_id": "n1"], ["enemy_id": "e0", "x": 5], ["enemy_id": "n2"],
        ]
        #expect(relayError { _ = try room.sync(enemies: threeNew, coins: [], now: start) }?.code == "limit_exceeded")
        #expect(room.enemies.count == 8)
        #expect(room.enemies["n0"] == nil && room.enemies["e0"]?.fields["x"] == 0, "the refused sync changed nothing")
        let twoNew = Array(threeNew.prefix(3))
        #expect(try room.sync(enemies: twoNew, coins: [], now: start).enemies.count == 10)
    }

    @Test("A sync refused for its bytes spends none of the entity budget")
    func aSyncRefusedForItsBytesSpendsNoEntityBudget() throws {
        let start = ContinuousClock.now
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10  // 10 entities a second, a burst of 20
        limits.maxEntityBytesPerRoom = 2_500
        var room = try makeRoom(players: 2, limits: limits)
        for index in 0..<10 { _ = try room.spawnCoin(["coin_id": .string("c\(index)")], by: "p1") }
        // Under a coin's own 2 KiB, over what the room has left, even less the oldest it pushes out.
        let big: [JSONValue] = [["coin_id": "big", "padding": .string(String(repeating: "x", count: 1_900))]]
        let oldest = try #require(room.coins.values.first)
        #expect(room.entityBytes - oldest.bytes + 1_900 > 2_500)
        for _ in 0..<3 {
            #expect(relayError { _ = try room.sync(enemies: [], coins: big, now: start) }?.code == "limit_exceeded")
        }
        // Each refused sync would have listed 10 (a full list): had they spent it, the burst of 20 would be gone.
        #expect(try room.sync(enemies: [], coins: [], now: start).coins.count == 10)
    }

    @Test func answersAreBudgetedByTheEntitiesTheyList() throws {
        let start = ContinuousClock.now
        var room = try self.filledRoom(now: start)
        // A full room (20 entities) once: the whole burst, refilled at 10 entities a second.
        #expect(room.entityBudgetPerSecond == 10)
        #expect(try room.sync(enemies: [], coins: [], now: start).coins.count == 10)
        let newCoin: [JSONValue] = [["coin_id": "new"]]
        let later = start + .milliseconds(1_900)
        #expect(relayError { _ = try room.sync(enemies: [], coins: newCoin, now: later) }?.code == "rate_limited")
        #expect(room.coins["new"] == nil)  // refused before anything changed
        #expect(room.coins["c0"] != nil)
        #expect(try room.sync(enemies: [], coins: newCoin, now: start + .seconds(3)).coins.count == 10)
        #expect(room.coins["new"] != nil)
    }

    @Test("A game_state spends what it lists, into debt; no other answer is given until that is repaid")
    func gameStatesSpendTheEntityBudget() throws {
        let start = ContinuousClock.now
        var room = try self.filledRoom(powerups: true, now: start)
        for index in 0..<50 { _ = try room.collect(itemType: "coin", itemID: "gone\(index)", by: "p2") }
        // 30 entities and 50 ids (2 entities' worth): 12 past the burst of 20, repaid at 10 a second.
        try room.checkEntityBudget(now: start)
        room.spendEntityBudget(onGameStateAt: start)
        #expect(relayError { try room.checkEntityBudget(now: start + .milliseconds(1_100)) }?.code == "rate_limited")
        #expect(
            relayError { _ = try room.sync(enemies: [], coins: [], now: start + .milliseconds(1_100)) }?.code
                == "rate_limited")
        try room.checkEntityBudget(now: start + .milliseconds(1_300))
    }

    @Test func smallAnswersCostLittleOfTheBudget() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10
        var room = try makeRoom(players: 2, limits: limits)
        let start = ContinuousClock.now
        _ = try room.spawnEnemy(["enemy_id": "e"], by: "p1", now: start)
        // 1 entity per answer, 10 answers a second: within both budgets, second after second.
        for tenth in 0..<30 {
            let now = start + .milliseconds(100 * tenth)
            #expect(try room.sync(enemies: [], coins: [], now: now).enemies.count == 1)
        }
    }

    @Test func collectedCoinsAreDropped() throws {
        var room = try makeRoom(players: 2)
        _ = try room.collect(itemType: "coin", itemID: "gone", by: "p2")
        let visible = try room.sync(
            enemies: [], coins: [["coin_id": "gone", "x": 1], ["coin_id": "kept", "x": 2], ["x": 3]], now: .now)
        #expect(visible.coins == [["coin_id": "kept", "x": 2]])
        #expect(room.coins["kept"] != nil)
        #expect(room.coins["gone"] == nil)
    }

    @Test func longListsAreRefused() throws {
        var limits = RelayLimits()
        limits.maxSyncListLength = 3
        var room = try makeRoom(players: 2, limits: limits)
        let four = (0..<4).map { JSONValue.object(["enemy_id": .string("e\($0)")]) }
        let fourCoins = (0..<4).map { JSONValue.object(["coin_id": .string("c\($0)")]) }
        #expect(relayError { _ = try room.sync(enemies: four, coins: [], now: .now) }?.code == "limit_exceeded")
        #expect(relayError { _ = try room.sync(enemies: [], coins: fourCoins, now: .now) }?.code == "limit_exceeded")
        #expect(room.enemies.isEmpty)
        #expect(room.coins.isEmpty)
        #expect(
            try room.sync(enemies: Array(four.prefix(3)), coins: Array(fourCoins.prefix(3)), now: .now).enemies.count
                == 3)
    }
}

import Testing

@testable import Relay

/// A room with `players` already added (ids "p1", "p2", …, tokens "t1", "t2", …).
private func makeRoom(
    maxPlayers: Int = 2, players count: Int = 0, limits: RelayLimits = RelayLimits()
) throws -> RoomState {
    var room = RoomState(roomID: "ABC234", roomName: "Test room", hostID: "", maxPlayers: maxPlayers, limits: limits, seed: 4242)
    for index in stride(from: 1, through: count, by: 1) {
        _ = try room.addPlayer(id: "p\(index)", name: "Player \(index)", reconnectToken: "t\(index)")
    }
    return room
}

/// A two-player room whose game has started (host p1).
private func startedRoom(limits: RelayLimits = RelayLimits()) throws -> RoomState {
    var room = try makeRoom(players: 2, limits: limits)
    _ = room.setReady("p1", true)
    _ = room.setReady("p2", true)
    try room.startGame(by: "p1", nowMilliseconds: 1_000)
    return room
}

/// The error `body` throws.
private func relayError(_ body: () throws -> Void) -> RelayError? {
    do {
        try body()
        return nil
    } catch let error as RelayError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite("RoomState — membership")
struct RoomStateMembershipTests {
    @Test func playersAreNumberedInJoinOrderWithStartDefaults() throws {
        var room = try makeRoom(maxPlayers: 3)
        let first = try room.addPlayer(id: "a", name: "Ann", reconnectToken: "ta")
        let second = try room.addPlayer(id: "b", name: "Bob", reconnectToken: "tb")
        let third = try room.addPlayer(id: "c", name: "Cy", reconnectToken: "tc")
        #expect(room.players.map(\.id) == ["a", "b", "c"])
        #expect([room.number(of: "a"), room.number(of: "b"), room.number(of: "c")] == [1, 2, 3])
        #expect(room.number(of: "nobody") == 0)
        #expect(first.skin == "alienGreen")
        #expect(second.skin == "alienPink")
        #expect(third.skin == "alienPink")
        #expect(first.state["x"]?.doubleValue == 400)
        #expect(second.state["x"]?.doubleValue == 500)
        #expect(third.state["x"]?.doubleValue == 500)
        for player in [first, second, third] {
            #expect(player.state["y"]?.doubleValue == 550)
            #expect(player.state["health"] == .integer(100))
            #expect(player.state["lives"] == .integer(3))
            #expect(player.state["weapon"] == "raygun")
            #expect(player.score == 0)
            #expect(player.coins == 0)
            #expect(!player.isReady)
            #expect(player.isConnected)
        }
        #expect(room.hostID == "a")
    }

    @Test func duplicatePlayerIDIsRefused() throws {
        var room = try makeRoom(maxPlayers: 3, players: 1)
        #expect(throws: RelayError.duplicatePlayerID) { _ = try room.addPlayer(id: "p1", name: "Other", reconnectToken: "x") }
        #expect(room.players.count == 1)
        #expect(room.player("p1")?.name == "Player 1")
    }

    @Test func fullRoomRefusesJoins() throws {
        var room = try makeRoom(maxPlayers: 2, players: 2)
        #expect(throws: RelayError.joinFailed) { _ = try room.addPlayer(id: "p3", name: "Late", reconnectToken: "x") }
        #expect(room.players.count == 2)
    }

    @Test func startedRoomRefusesJoins() throws {
        var room = try makeRoom(maxPlayers: 4, players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        try room.startGame(by: "p1", nowMilliseconds: 0)
        #expect(throws: RelayError.joinFailed) { _ = try room.addPlayer(id: "p3", name: "Late", reconnectToken: "x") }
    }

    @Test func hostLeavingHandsOverToEarliestRemainingPlayer() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.hostID == "p1")
        #expect(room.removePlayer("p1") == true)
        #expect(room.hostID == "p2")
        #expect(room.number(of: "p3") == 2)
        #expect(room.removePlayer("p3") == false)  // not the host: no change
        #expect(room.hostID == "p2")
        room.removePlayer("p2")
        #expect(room.isAbandoned)
    }

    @Test func hostHandOverSkipsDisconnectedPlayers() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.markDisconnected("p2") == false)
        #expect(room.removePlayer("p1") == true)
        #expect(room.hostID == "p3")
    }

    @Test func hostDroppingHandsOverAtOnce() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.markDisconnected("p1") == true)
        #expect(room.hostID == "p2")
        #expect(room.player("p1")?.isConnected == false)
        #expect(!room.isAbandoned)
        // coming back does not take the role back
        _ = try room.reconnect("p1", token: "t1", newToken: "t1b")
        #expect(room.hostID == "p2")
    }

    @Test func aJoinerFindingTheHostDroppedBecomesHostAtOnce() throws {
        var room = try makeRoom(maxPlayers: 3, players: 1)
        #expect(room.markDisconnected("p1") == false)  // nobody else to take it
        #expect(room.hostID == "p1")
        _ = try room.addPlayer(id: "p2", name: "Player 2", reconnectToken: "t2")
        #expect(room.hostID == "p2")
        _ = try room.addPlayer(id: "p3", name: "Player 3", reconnectToken: "t3")
        #expect(room.hostID == "p2")
        // coming back does not take the role back
        _ = try room.reconnect("p1", token: "t1", newToken: "t1b")
        #expect(room.hostID == "p2")
    }

    @Test func unknownPlayerDisconnectChangesNothing() throws {
        var room = try makeRoom(players: 2)
        #expect(room.markDisconnected("ghost") == false)
        #expect(room.hostID == "p1")
    }

    @Test func leavingTheLobbyClearsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        room.removePlayer("p3")
        #expect(room.players.allSatisfy { !$0.isReady })
    }

    @Test func droppingFromTheLobbyClearsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        room.markDisconnected("p3")
        #expect(room.players.allSatisfy { !$0.isReady })
    }

    @Test func leavingOrDroppingDuringTheGameKeepsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        for id in ["p1", "p2", "p3"] { _ = room.setReady(id, true) }
        try room.startGame(by: "p1", nowMilliseconds: 0)
        room.removePlayer("p3")
        #expect(room.players.allSatisfy { $0.isReady })
        room.markDisconnected("p2")
        #expect(room.players.allSatisfy { $0.isReady })
    }

    @Test func reconnectNeedsTheRightTokenAndRotatesIt() throws {
        var room = try makeRoom(players: 2)
        room.markDisconnected("p2")
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "wrong", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "t1", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("ghost", token: "t2", newToken: "n") }
        #expect(room.player("p2")?.isConnected == false)
        let player = try room.reconnect("p2", token: "t2", newToken: "fresh")
        #expect(player.isConnected)
        #expect(player.reconnectToken == "fresh")
        #expect(room.player("p2")?.reconnectToken == "fresh")
        // the old token is spent
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "t2", newToken: "again") }
    }

    @Test func constantTimeEqualsComparesWholeStrings() {
        #expect(constantTimeEquals("abc", "abc"))
        #expect(!constantTimeEquals("abc", "abd"))
        #expect(!constantTimeEquals("abc", "ab"))
        #expect(constantTimeEquals("", ""))
    }
}

@Suite("RoomState — lobby")
struct RoomStateLobbyTests {
    @Test func setReadyTogglesWhenNil() throws {
        var room = try makeRoom(players: 2)
        #expect(room.setReady("p1", nil) == true)
        #expect(room.setReady("p1", nil) == false)
        #expect(room.setReady("p1", true) == true)
        #expect(room.setReady("p1", true) == true)
        #expect(room.setReady("p1", false) == false)
        #expect(room.setReady("ghost", true) == false)
    }

    @Test func onlyTheHostStarts() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        #expect(throws: RelayError.notHost) { try room.startGame(by: "p2", nowMilliseconds: 0) }
        #expect(!room.gameStarted)
    }

    @Test func startNeedsTwoPlayers() throws {
        var room = try makeRoom(players: 1)
        _ = room.setReady("p1", true)
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
    }

    @Test func startNeedsEveryoneReady() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
        #expect(!room.gameStarted)
        #expect(room.gameStartTimestamp == nil)
    }

    @Test func startNeedsEveryoneConnected() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        for id in ["p1", "p2", "p3"] { _ = room.setReady(id, true) }
        room.players[2].isConnected = false
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
    }

    @Test func startSetsTheTimestampAndOnlyOnce() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        try room.startGame(by: "p1", nowMilliseconds: 1_700_000_000_000.5)
        #expect(room.gameStarted)
        #expect(room.gameStartTimestamp == 1_700_000_000_500.5)
        #expect(throws: RelayError.gameAlreadyStarted) { try room.startGame(by: "p1", nowMilliseconds: 2) }
        #expect(room.gameStartTimestamp == 1_700_000_000_500.5)
    }

    @Test func sequenceGrowsByOne() throws {
        var room = try makeRoom(players: 1)
        #expect(room.sequenceID == 0)
        #expect(room.nextSequence() == 1)
        #expect(room.nextSequence() == 2)
        #expect(room.sequenceID == 2)
    }
}

@Suite("RoomState — player state")
struct RoomStatePlayerStateTests {
    @Test func knownKeysUpdateTheServerCopy() throws {
        var room = try makeRoom(players: 2)
        let relayed = try room.applyPlayerState(
            "p1",
            [
                "x": .number(12.5), "y": 3, "velocity_x": .number(-1.25), "health": 80, "weapon": "laser",
                "skin": "alienBlue", "is_alive": false, "facing_right": false, "is_jumping": true,
            ])
        let player = try #require(room.player("p1"))
        #expect(player.state["x"] == .number(12.5))
        #expect(player.state["y"] == .integer(3))
        #expect(player.state["velocity_x"] == .number(-1.25))
        #expect(player.state["health"] == .integer(80))
        #expect(player.state["weapon"] == "laser")
        #expect(player.skin == "alienBlue")
        #expect(player.state["is_alive"] == false)
        #expect(player.state["is_jumping"] == true)
        #expect(relayed["x"] == .number(12.5))
        #expect(relayed.count == 9)
        // the other player is untouched
        #expect(room.player("p2")?.state["x"]?.doubleValue == 500)
    }

    @Test(arguments: [
        ("x", "a" as JSONValue), ("y", true), ("health", nil), ("is_alive", 1), ("facing_right", "true"),
        ("weapon", 5), ("skin", ["a": 1]), ("checkpoint", [1]), ("lives", "3"),
    ] as [(String, JSONValue)])
    func wrongKindsAreRefused(_ key: String, _ value: JSONValue) throws {
        var room = try makeRoom(players: 1)
        let before = try #require(room.player("p1"))
        let error = relayError { _ = try room.applyPlayerState("p1", ["velocity_x": 1, key: value]) }
        #expect(error?.code == "invalid_field")
        #expect(error?.message.contains("state.\(key)") == true)
        // nothing was applied, not even the valid key
        #expect(room.player("p1") == before)
    }

    @Test func identityKeysAreStrippedUnknownKeysKept() throws {
        var room = try makeRoom(players: 2)
        let relayed = try room.applyPlayerState(
            "p2",
            [
                "x": 1, "player_id": "p1", "player_name": "Mallory", "player_number": 1, "is_ready": true,
                "score": 999_999, "coins": 500, "custom": ["any": "thing"], "animation": "run",
            ])
        #expect(relayed["player_id"] == nil)
        #expect(relayed["player_name"] == nil)
        #expect(relayed["player_number"] == nil)
        #expect(relayed["is_ready"] == nil)
        #expect(relayed["custom"] == ["any": "thing"])
        #expect(relayed["animation"] == "run")
        #expect(relayed["x"] == 1)
        let player = try #require(room.player("p2"))
        #expect(player.id == "p2")
        #expect(player.name == "Player 2")
        #expect(player.score == 0)
        #expect(player.coins == 0)
        #expect(!player.isReady)
        #expect(player.state["custom"] == nil)
        #expect(player.state["score"] == nil)
        #expect(room.number(of: "p2") == 2)
        // p1 was not touched by the spoofed player_id
        #expect(room.player("p1")?.name == "Player 1")
        #expect(room.player("p1")?.state["x"]?.doubleValue == 400)
    }

    @Test func unknownPlayerIsNotInRoom() throws {
        var room = try makeRoom(players: 1)
        #expect(throws: RelayError.notInRoom) { _ = try room.applyPlayerState("ghost", ["x": 1]) }
    }

    @Test func assistMovesOnlyFromTheHost() throws {
        var room = try makeRoom(players: 2)
        #expect(room.assist(by: "p2", target: "p1", x: 1, y: 2) == false)
        #expect(room.assist(by: "p1", target: "ghost", x: 1, y: 2) == false)
        #expect(room.assist(by: "p1", target: "p2", x: 10.5, y: 20) == true)
        #expect(room.player("p2")?.state["x"] == .number(10.5))
        #expect(room.player("p2")?.state["y"] == .number(20))
    }
}

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
        // a collected coin never comes back
        _ = try room.spawnCoin(["coin_id": "c1"], by: "p1")
        #expect(room.coins["c1"] == nil)
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
        let second = try room.spawnEnemy(["enemy_type": "slime", "x": .number(3.5), "is_alive": false], by: "p1", now: .now)
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
        #expect(try room.spawnEnemy(["enemy_id": "e3", "coin_reward": .number(2.9)], by: "p1", now: .now)["coin_reward"] == 2)
        let over = relayError { _ = try room.spawnEnemy(["enemy_id": "e4", "coin_reward": 101], by: "p1", now: .now) }
        #expect(over?.code == "limit_exceeded")
        let overAlias = relayError { _ = try room.spawnEnemy(["enemy_id": "e5", "coinReward": 1_000_000], by: "p1", now: .now) }
        #expect(overAlias?.code == "limit_exceeded")
        #expect(relayError { _ = try room.spawnEnemy(["coin_reward": -1], by: "p1", now: .now) }?.code == "invalid_field")
        #expect(relayError { _ = try room.spawnEnemy(["coin_reward": "5"], by: "p1", now: .now) }?.code == "invalid_field")
        #expect(room.enemies["e4"] == nil)
        #expect(room.enemies["e5"] == nil)
    }

    @Test func entityIDsAreChecked() throws {
        var room = try makeRoom(players: 1)
        #expect(relayError { _ = try room.spawnEnemy(["enemy_id": 5], by: "p1", now: .now) }?.code == "invalid_field")
        let long = String(repeating: "e", count: 129)
        #expect(relayError { _ = try room.spawnEnemy(["enemy_id": .string(long)], by: "p1", now: .now) }?.code == "too_long")
        #expect(try room.spawnCoin(["coin_id": ""], by: "p1")?["coin_id"] == "coin_0")
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
        _ = try room.spawnEnemy(["enemy_id": "e1", "x": .number(100.7), "y": .number(-50.2), "coin_reward": 3], by: "p1", now: .now)
        let now = ContinuousClock.now
        let outcome = room.killEnemy("e1", by: "p2", now: now)
        guard case .killed(let drops) = outcome else {
            Issue.record("expected a kill, got \(outcome)")
            return
        }
        #expect(drops == RoomState.coinDrops(x: 100.7, y: -50.2, count: 3))
        #expect(drops.compactMap { $0["coin_id"]?.stringValue } == ["coin_drop_100_-50_0", "coin_drop_100_-50_1", "coin_drop_100_-50_2"])
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
        #expect(relayError { _ = try room.spawnEnemy(enemy, by: "p1", now: start + .milliseconds(900)) }?.code == "rate_limited")
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
            let enemy: [String: JSONValue] = ["enemy_id": .string("e\(index)"), "x": .integer(Int64(index)), "coin_reward": 100]
            if (try? room.spawnEnemy(enemy, by: "p1", now: start + .milliseconds(index))) != nil { spawned += 1 }
        }
        var coins = 0
        for index in 0..<1_000 {
            if case .killed(let drops) = room.killEnemy("e\(index)", by: "p2", now: start + .seconds(1) + .microseconds(500 * index)) {
                coins += drops.count
            }
        }
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
        _ = try room.sync(enemies: enemies, coins: [], now: start)  // 3,000 coins against a burst of 2,000
        var coins = 0
        for index in 0..<30 {
            if case .killed(let drops) = room.killEnemy("s\(index)", by: "p1", now: start) { coins += drops.count }
        }
        #expect(coins == 3_000)  // a kill is never refused
        let more: [JSONValue] = [.object(["enemy_id": "t0", "coin_reward": 1])]
        #expect(throws: RelayError.rateLimited) { _ = try room.sync(enemies: more, coins: [], now: start + .milliseconds(500)) }
        #expect(throws: RelayError.rateLimited) { _ = try room.spawnEnemy(["enemy_id": "t1"], by: "p1", now: start + .milliseconds(500)) }
        _ = try room.sync(enemies: [], coins: [], now: start + .milliseconds(600))  // adding nothing: not held back
        _ = try room.sync(enemies: more, coins: [], now: start + .milliseconds(1_100))
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

    @Test func collectedItemsAreNotSpawnedAgain() throws {
        var room = try makeRoom(players: 1)
        _ = try room.collect(itemType: "coin", itemID: "c1", by: "p1")
        _ = try room.collect(itemType: "powerup", itemID: "u1", by: "p1")
        #expect(try room.spawnCoin(["coin_id": "c1"], by: "p1") == nil)
        #expect(try room.spawnPowerup(["powerup_id": "u1"], by: "p1") == nil)
        #expect(room.coins["c1"] == nil)
    }

    @Test func rewardsOfAnySizeAreClampedNotTrapped() {
        for value: JSONValue in [.number(1e300), .integer(.max), .number(-.infinity), .number(-5), "lots", .null] {
            let reward = RoomState.clampedReward(value, limit: 100)
            #expect((0...100).contains(reward))
        }
        #expect(RoomState.clampedReward(.number(7.9), limit: 100) == 7)
    }
}

@Suite("RoomState — coin drops")
struct CoinDropTests {
    /// (x, y, velocity_x, velocity_y, coin_id) of each drop.
    private func summary(_ drops: [JSONValue]) -> [[JSONValue]] {
        drops.map { [$0["x"]!, $0["y"]!, $0["velocity_x"]!, $0["velocity_y"]!, $0["coin_id"]!] }
    }

    // Expected values computed by hand with Python's `%` (never negative) and `int()` truncation.

    @Test func matchesTheFormulaForMixedSigns() {
        let drops = RoomState.coinDrops(x: 100.7, y: -50.2, count: 3)
        #expect(
            self.summary(drops) == [
                [99, -53, -1, -147, "coin_drop_100_-50_0"],
                [112, -57, 18, -124, "coin_drop_100_-50_1"],
                [125, -61, 37, -101, "coin_drop_100_-50_2"],
            ])
        #expect(drops[0] == [
            "coin_id": "coin_drop_100_-50_0", "x": 99, "y": -53, "velocity_x": -1, "velocity_y": -147, "value": 1,
            "is_collected": false, "collected_by": nil,
        ])
    }

    @Test func matchesTheFormulaForNegativeCoordinates() {
        #expect(
            self.summary(RoomState.coinDrops(x: -333.9, y: -7.5, count: 3)) == [
                [-315, -20, -94, -134, "coin_drop_-333_-7_0"],
                [-363, -24, -75, -111, "coin_drop_-333_-7_1"],
                [-350, -7, -56, -189, "coin_drop_-333_-7_2"],
            ])
    }

    @Test func matchesTheFormulaForPositiveCoordinates() {
        #expect(
            self.summary(RoomState.coinDrops(x: 250.0, y: 120.99, count: 2)) == [
                [262, 118, 47, -105, "coin_drop_250_120_0"],
                [275, 114, 66, -183, "coin_drop_250_120_1"],
            ])
    }

    @Test func truncatesTowardZero() {
        // int(-0.5) == 0 in Python: no "-0" in the id
        #expect(self.summary(RoomState.coinDrops(x: -0.5, y: 0.5, count: 1)) == [[-30, -20, -100, -200, "coin_drop_0_0_0"]])
    }

    @Test func countZeroOrNegativeDropsNothing() {
        #expect(RoomState.coinDrops(x: 10, y: 10, count: 0).isEmpty)
        #expect(RoomState.coinDrops(x: 10, y: 10, count: -3).isEmpty)
    }

    @Test func nonFiniteAndHugePositionsDoNotTrap() {
        #expect(RoomState.coinDrops(x: .nan, y: .infinity, count: 1)[0]["coin_id"] == "coin_drop_0_0_0")
        #expect(RoomState.coinDrops(x: 1e300, y: -1e300, count: 2).count == 2)
    }

    @Test func valuesStayInTheirRanges() {
        for x in stride(from: -500.0, through: 500, by: 37.3) {
            for drop in RoomState.coinDrops(x: x, y: -x, count: 5) {
                let vx = drop["velocity_x"]!.doubleValue!
                let vy = drop["velocity_y"]!.doubleValue!
                #expect((-100...100).contains(vx))
                #expect((-200 ... -100).contains(vy))
            }
        }
    }
}

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
            enemies: [["enemy_id": "e1", "x": 50], ["enemy_id": "new", "x": 1], ["no_id": true], "not an object"],
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
        var room = try makeRoom(players: 2)
        let start = ContinuousClock.now
        for _ in 0..<Int(RoomState.syncsPerSecond) { _ = try room.sync(enemies: [], coins: [], now: start) }
        #expect(relayError { _ = try room.sync(enemies: [], coins: [], now: start) }?.code == "rate_limited")
        _ = try room.sync(enemies: [], coins: [], now: start + .seconds(1))
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
        #expect(relayError { _ = try room.sync(enemies: [], coins: [], now: start + .milliseconds(1_100)) }?.code == "rate_limited")
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
        #expect(try room.sync(enemies: Array(four.prefix(3)), coins: Array(fourCoins.prefix(3)), now: .now).enemies.count == 3)
    }
}

@Suite("RoomState — snapshots")
struct RoomStateSnapshotTests {
    @Test func roomInfoListsConnectedPlayersOnly() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        room.markDisconnected("p3")
        _ = room.setReady("p2", true)
        let info = room.roomInfo
        #expect(info["room_id"] == "ABC234")
        #expect(info["room_name"] == "Test room")
        #expect(info["host_id"] == "p1")
        #expect(info["player_count"] == 2)
        #expect(info["max_players"] == 3)
        #expect(info["game_started"] == false)
        #expect(
            info["players"] == [
                ["player_id": "p1", "player_name": "Player 1", "player_number": 1, "is_ready": false, "skin": "alienGreen"],
                ["player_id": "p2", "player_name": "Player 2", "player_number": 2, "is_ready": true, "skin": "alienPink"],
            ])
    }

    @Test func gameStateCarriesPlayersScoresAndEntities() throws {
        var room = try startedRoom()
        _ = try room.collect(itemType: "coin", itemID: "c9", by: "p2")
        _ = try room.spawnEnemy(["enemy_id": "alive"], by: "p1", now: .now)
        _ = try room.spawnEnemy(["enemy_id": "dead"], by: "p1", now: .now)
        _ = room.killEnemy("dead", by: "p1", now: .now)
        _ = try room.spawnCoin(["coin_id": "c1"], by: "p1")
        _ = try room.spawnPowerup(["powerup_id": "pu1"], by: "p1")
        _ = room.nextSequence()
        let state = room.gameState(nowMilliseconds: 123.5)
        #expect(state["seed"] == 4242)
        #expect(state["level"] == 1)
        #expect(state["game_mode"] == "online_coop")
        #expect(state["server_timestamp"] == .number(123.5))
        #expect(state["game_start_timestamp"] == .number(1_500))
        #expect(state["sequence_id"] == 1)
        let players = try #require(state["players"]?.objectValue)
        #expect(Set(players.keys) == ["p1", "p2"])
        #expect(players["p2"]?["score"] == 10)
        #expect(players["p2"]?["coins"] == 1)
        #expect(players["p2"]?["player_number"] == 2)
        #expect(players["p2"]?["player_name"] == "Player 2")
        #expect(players["p1"]?["score"] == 0)
        #expect(players["p1"]?["x"]?.doubleValue == 400)
        #expect(state["enemies"]?.arrayValue?.compactMap { $0["enemy_id"]?.stringValue } == ["alive"])
        #expect(state["coins"]?.arrayValue?.compactMap { $0["coin_id"]?.stringValue } == ["c1"])
        #expect(state["powerups"]?.arrayValue?.compactMap { $0["powerup_id"]?.stringValue } == ["pu1"])
        #expect(state["collected_coins"] == ["c9"])
        #expect(state["collected_powerups"] == [])
        #expect(state["projectiles"] == [])
        #expect(state["chat_history"] == [])
    }

    @Test func lobbyGameStateHasNoStartTimestamp() throws {
        let room = try makeRoom(players: 1)
        #expect(room.gameState(nowMilliseconds: 0)["game_start_timestamp"] == .null)
    }

    @Test func chatIsRecordedOnlyWhileTheGameRuns() throws {
        var lobby = try makeRoom(players: 2)
        lobby.recordChat(["message": "hi"])
        #expect(lobby.chatHistory.isEmpty)
        #expect(lobby.gameState(nowMilliseconds: 0)["chat_history"] == [])

        var room = try startedRoom()
        for index in 0..<25 { room.recordChat(["message": .string("line \(index)")]) }
        #expect(room.chatHistory.count == RoomState.chatHistoryLength)
        let history = try #require(room.gameState(nowMilliseconds: 0)["chat_history"]?.arrayValue)
        #expect(history.count == 20)
        #expect(history.first?["message"] == "line 5")
        #expect(history.last?["message"] == "line 24")
    }
}

@Suite("RememberedIDs")
struct RememberedIDsTests {
    @Test func forgetsTheOldestPastEitherLimitAQuarterOver() {
        var ids = RememberedIDs(countLimit: 8, byteLimit: 1_000)
        for index in 0..<10 { _ = ids.insert("id\(index)") }  // 10 ids of 3 bytes: within 8 + 2
        #expect(ids.count == 10)
        _ = ids.insert("id10")  // 11: back to 8, oldest first
        #expect(Array(ids.ids) == (3...10).map { "id\($0)" })
        #expect(ids.bytes == 3 * 7 + 4)

        var large = RememberedIDs(countLimit: 100, byteLimit: 100)
        for name in ["a", "b", "c", "d"] { _ = large.insert(String(repeating: name, count: 30)) }  // 120 bytes
        #expect(large.count == 4)
        _ = large.insert("e")  // 121 bytes, past 125? no: stays
        #expect(large.count == 5)
        _ = large.insert(String(repeating: "f", count: 10))  // 131: back to at most 100 bytes
        #expect(Array(large.ids) == [String(repeating: "c", count: 30), String(repeating: "d", count: 30), "e", String(repeating: "f", count: 10)])
        #expect(large.bytes == 71)
    }

    @Test func repeatsAndRemovalsKeepTheByteCount() {
        var ids = RememberedIDs(countLimit: 10, byteLimit: 1_000)
        let (first, again) = (ids.insert("abc"), ids.insert("abc"))
        #expect(first && !again)
        ids.insert(contentsOf: ["de", "f"])
        ids.remove("de")
        ids.remove("missing")
        #expect(Array(ids.ids) == ["abc", "f"] && ids.bytes == 4)
        #expect(ids.contains("f") && !ids.contains("de"))
    }
}

import Testing

@testable import Handlers
@testable import Relay

/// Review findings on the entity budget (commit 88bde5f).
@Suite("review22: entity budget")
struct Review22EntityBudgetTests {
    /// A host spawns 1,000 enemies of 100 coins while the budget is in credit (each spawn only
    /// checks for debt), then the room kills them all: 100,000 coin drops at once, where the
    /// README promises ten 100-coin kills a second.
    @Test("Enemies spawned in advance all drop their coins at once")
    func preSpawnedEnemiesDropPastTheBudget() throws {
        var room = RoomState(roomID: "ABC234", roomName: "r", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1)
        _ = try room.addPlayer(id: "p1", name: "Host", reconnectToken: "t1")
        _ = try room.addPlayer(id: "p2", name: "Guest", reconnectToken: "t2")
        let start = ContinuousClock.now
        var spawned = 0
        for index in 0..<1_000 {
            let at = start + .milliseconds(index)  // the host's message budget: 1,000 a second
            if (try? room.spawnEnemy(["enemy_id": .string("e\(index)"), "x": .integer(Int64(index)), "coin_reward": 100], by: "p1", now: at)) != nil {
                spawned += 1
            }
        }
        var coins = 0
        for index in 0..<1_000 {
            let at = start + .seconds(1) + .microseconds(500 * index)  // host and guest kill them in 0.5 s
            if case .killed(let drops) = room.killEnemy("e\(index)", by: "p2", now: at) { coins += drops.count }
        }
        // 1.5 s at 1,000 a second plus a burst of 2,000: 3,500 coins at most if the budget bounded peaks.
        #expect(coins <= 3_500, "coins dropped in 1.5 s: \(coins) (\(spawned) spawned)")
        #expect(spawned >= 20)  // the burst's worth spawned at once
    }

    /// A guest that reconnects (each time on a fresh connection, replacing its own) spends the
    /// room's entity budget with every game_state; since 88bde5f that debt also refuses the
    /// host's enemy_spawn, which a reconnect loop can keep refused.
    @Test("A guest's reconnects put the host's spawns on hold")
    func reconnectsBlockTheHostsSpawns() async throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10  // a budget of 10 a second, bursts of 20 (as 1,000 / 2,000 scaled)
        let harness = try Harness(limits: limits)
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty","player_id":"guest"}"#)
        var token = try #require(await guest.received().last?["reconnect_token"]?.stringValue)
        _ = await host.received()
        for index in 0..<8 {  // coins left on the floor, as a long game has (up to 1,000)
            await host.send(#"{"type":"coin_spawn","coin":{"coin_id":"c\#(index)"}}"#)
        }
        _ = await host.received()
        _ = await guest.received()
        // Three reconnects, each listing 8 coins: 24 against a burst of 20.
        for _ in 0..<3 {
            let comeback = harness.client(url: "new")
            await comeback.send(#"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#)
            let answer = try #require(await comeback.received().first)
            #expect(answer.type == "reconnected", "\(answer)")
            token = try #require(answer["reconnect_token"]?.stringValue)
        }
        _ = await host.received()
        // Nothing was killed, yet the host may not spawn.
        await host.send(#"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","coin_reward":1}}"#)
        #expect(await host.received().map(\.type) == ["enemy_spawned"])
    }
}

@Suite("review22: drops of enemies a sync adds")
struct Review22SyncDropTests {
    /// Enemies a host's `sync_entities` adds are alive and keep their `coin_reward`: they pay for
    /// their drops as spawned ones do, or a host could add 1,000 100-coin enemies a sync.
    @Test("Living enemies a sync adds spend their drops; while that is in debt a sync adding more waits")
    func syncAddedEnemiesPayForTheirDrops() throws {
        var room = RoomState(roomID: "ABC234", roomName: "r", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1)
        _ = try room.addPlayer(id: "p1", name: "Host", reconnectToken: "t1")
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
}

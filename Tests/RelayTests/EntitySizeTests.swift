import SeededRandom
import Testing

@testable import Relay

@Suite("JSONValue — the written size bound")
struct WrittenSizeTests {
    /// Whether `value` holds a number the writer prints by its shortest round trip (which the bound
    /// counts at its longest).
    private func hasFractionalNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number): number.isFinite && !(number == number.rounded() && abs(number) < 1e15)
        case .array(let array): array.contains(where: self.hasFractionalNumber)
        case .object(let object): object.values.contains(where: self.hasFractionalNumber)
        default: false
        }
    }

    @Test func exactForEveryValueWithoutFractionsAtLeastTheSizeForAll() {
        var rng = SplitMix64(seed: 0x517E)
        for iteration in 0..<2_000 {
            let value = randomJSONValue(&rng)
            let size = written(value).utf8.count
            let bound = value.writtenSizeBound()
            if self.hasFractionalNumber(value) {
                #expect(bound >= size, "iteration \(iteration): \(written(value))")
            } else {
                #expect(bound == size, "iteration \(iteration): \(written(value))")
            }
        }
    }

    private static let knownValues: [(JSONValue, Int)] = [
        (.integer(.min), 20), (.integer(-1), 2), (.integer(0), 1), (.integer(10), 2), (.integer(.max), 19),
        (.number(3), 3), (.number(-1e14), 18), (.number(.nan), 4), (.number(.infinity), 4), (.number(0.5), 24),
        (.string("a\"\\\n\u{01}é"), 2 + 1 + 2 + 2 + 2 + 6 + 2), (.array([]), 2), (.object([:]), 2),
        (.object(["k": .array([.integer(1), .bool(true), .null])]), 2 + 3 + 1 + 2 + 1 + 2 + 4 + 4),
    ]

    @Test(arguments: Self.knownValues)
    func knownSizes(_ value: JSONValue, _ size: Int) {
        #expect(value.writtenSizeBound() == size)
        if !self.hasFractionalNumber(value) { #expect(written(value).utf8.count == size) }
    }

    @Test func aLimitedCountPassesTheLimitExactlyWhenTheValueDoes() {
        var rng = SplitMix64(seed: 0x11_417)
        for iteration in 0..<2_000 {
            let value = randomJSONValue(&rng)
            let exact = value.writtenSizeBound()
            let limit = Int.random(in: 0...(exact + 2), using: &rng)
            let limited = value.writtenSizeBound(upTo: limit)
            #expect((limited > limit) == (exact > limit), "iteration \(iteration), limit \(limit): \(written(value))")
            if exact <= limit { #expect(limited == exact, "iteration \(iteration)") }
        }
    }

    @Test func theLongestNumbersFitTheirCount() {
        let extremes: [Double] = [
            -2.2250738585072014e-308, -.leastNonzeroMagnitude, -.greatestFiniteMagnitude, -1.2345678901234567e-100,
            -0.30000000000000004, 1e15, -123456789012345.67,
        ]
        for number in extremes {
            #expect(written(.number(number)).utf8.count <= JSONValue.number(number).writtenSizeBound(), "\(number)")
        }
    }

    @Test func countingStopsPastTheLimit() {
        let large = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 1_000)), count: 10_000))
        let whole = written(large).utf8.count
        #expect(large.writtenSizeBound() == whole)
        let bound = large.writtenSizeBound(upTo: 2_048)
        #expect(bound > 2_048 && bound < 20_000, "stops a few elements past the limit: \(bound) of \(whole)")
        // Inside nested containers too, where the brackets alone are far from the limit.
        let nested: JSONValue = [
            "a": ["b": .array(Array(repeating: .string(String(repeating: "x", count: 1_000)), count: 50))]
        ]
        let nestedBound = nested.writtenSizeBound(upTo: 2_048)
        #expect(nestedBound > 2_048 && nestedBound < 4_096, "\(nestedBound) of \(written(nested).utf8.count)")
    }
}

@Suite("RoomState — entity sizes")
struct EntitySizeTests {
    private static let limit = RelayLimits().maxEntityBytes

    private func room() throws -> RoomState {
        var room = RoomState(
            roomID: "ABC234", roomName: "Room", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 7)
        _ = try room.addPlayer(id: "host", name: "Host", reconnectToken: "t1")
        _ = try room.addPlayer(id: "guest", name: "Guest", reconnectToken: "t2")
        return room
    }

    private func text(_ count: Int) -> JSONValue { .string(String(repeating: "x", count: count)) }

    private func expectRefused(
        _ kind: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        #expect(
            throws: RelayError.limitExceeded("bytes in one \(kind)", limit: Self.limit), sourceLocation: sourceLocation
        ) {
            try body()
        }
    }

    @Test func theGamesOwnEntitiesFitWithRoomToSpare() throws {
        var room = try self.room()
        let enemy: [String: JSONValue] = [
            "enemy_id": "enemy_1700000000000_abc123", "enemy_type": "slimeGreen", "x": .number(1234.56),
            "y": .number(-456.78), "velocity_x": .number(-120.25), "velocity_y": .number(0.5), "health": 3,
            "max_health": 3, "is_alive": true, "facing_right": false, "state": "moving", "coin_reward": 2,
        ]
        let stored = try room.spawnEnemy(enemy, by: "host", now: .now)
        #expect(stored.writtenSizeBound() * 4 < Self.limit, "\(stored.writtenSizeBound()) bytes")
    }

    @Test func oversizedSpawnsAreRefusedAndNothingIsStored() throws {
        var room = try self.room()
        self.expectRefused("enemy") {
            _ = try room.spawnEnemy(["enemy_id": "e", "enemy_type": self.text(Self.limit)], by: "host", now: .now)
        }
        self.expectRefused("coin") {
            _ = try room.spawnCoin(["coin_id": "c", "x": .array(Array(repeating: 1, count: 2_000))], by: "host")
        }
        self.expectRefused("power-up") {
            _ = try room.spawnPowerup(["powerup_id": "p", "note": self.text(Self.limit)], by: "host")
        }
        #expect(room.enemies.isEmpty && room.coins.isEmpty && room.powerups.isEmpty)
        _ = try room.spawnEnemy(["enemy_id": "e", "enemy_type": self.text(Self.limit / 2)], by: "host", now: .now)
        #expect(room.enemies.count == 1, "half the limit fits")
    }

    @Test func enemyStatesCannotGrowAnEnemyPastTheLimit() throws {
        var room = try self.room()
        _ = try room.spawnEnemy(["enemy_id": "e"], by: "host", now: .now)
        var added = 0
        do {
            // A new key each time: the old server kept every one.
            for index in 0..<100 {
                try room.updateEnemy("e", state: ["key\(index)": self.text(100)], now: .now)
                added += 1
            }
            Issue.record("100 keys of 100 bytes were all taken")
        } catch {
            #expect(error == .limitExceeded("bytes in one enemy", limit: Self.limit))
        }
        let stored = try #require(room.enemies["e"])
        #expect(added > 10 && JSONValue.object(stored.fields).writtenSizeBound() <= Self.limit)
        #expect(stored.fields["key\(added)"] == nil, "the refused state changed nothing")
        try room.updateEnemy("e", state: ["x": 5, "key0": "short"], now: .now)
        #expect(room.enemies["e"]?.fields["key0"] == "short", "replacing values still works once full")
    }

    /// Spawns enemy `id` whose stored JSON takes exactly `size` bytes while alive (its `state`,
    /// "idle", is as long as "dead"; `true` is one byte shorter than `false`).
    private func spawnEnemy(_ id: String, size: Int, in room: inout RoomState) throws {
        let base = try room.spawnEnemy(["enemy_id": .string(id), "enemy_type": ""], by: "host", now: .now)
        let padding = self.text(size - base.writtenSizeBound())
        _ = try room.spawnEnemy(["enemy_id": .string(id), "enemy_type": padding], by: "host", now: .now)
        #expect(JSONValue.object(room.enemies[id]?.fields ?? [:]).writtenSizeBound() == size)
    }

    @Test func anEnemyMustFitTheCapOnceDeadAndItsKillerIsLeftOutRatherThanPassIt() throws {
        var room = try self.room()
        #expect(throws: RelayError.limitExceeded("bytes in one enemy", limit: Self.limit)) {
            try self.spawnEnemy("too_big_to_die", size: Self.limit, in: &room)
        }
        try self.spawnEnemy("e", size: Self.limit - 1, in: &room)
        #expect(room.killEnemy("e", by: "guest", now: .now) == .killed(coinDrops: []))
        let dead = try #require(room.enemies["e"])
        #expect(dead.fields["is_alive"] == false && dead.fields["killed_by"] == nil)
        #expect(JSONValue.object(dead.fields).writtenSizeBound() == Self.limit)
        try room.updateEnemy("e", state: ["x": 5], now: .now)  // a dead enemy at the cap still takes updates
        try room.updateEnemy("e", state: ["is_alive": false], now: .now)
        _ = try room.spawnEnemy(["enemy_id": "small"], by: "host", now: .now)
        _ = room.killEnemy("small", by: "guest", now: .now)
        #expect(room.enemies["small"]?.fields["killed_by"] == "guest", "the killer is kept where it fits")
    }

    @Test func aReportedDeathOfAnEnemyAtTheCapIsTaken() throws {
        var room = try self.room()
        try self.spawnEnemy("e", size: Self.limit - 1, in: &room)
        try room.updateEnemy("e", state: ["is_alive": false], now: .now)
        #expect(room.enemies["e"]?.isAlive == false)
        let (enemies, _) = try room.sync(enemies: [["enemy_id": "e", "is_alive": false]], coins: [], now: .now)
        #expect(enemies.count == 1)
    }

    @Test func itemIDsAreBoundedInCodePoints() throws {
        var room = try self.room()
        let longest = String(repeating: "i", count: RoomState.maxEntityIDLength)
        #expect(try room.collect(itemType: "coin", itemID: longest, by: "guest") == .collected(coins: 1, score: 10))
        #expect(throws: RelayError.tooLong("item_id", limit: RoomState.maxEntityIDLength)) {
            _ = try room.collect(itemType: "coin", itemID: longest + "i", by: "guest")
        }
        let accented = "a" + String(repeating: "\u{0301}", count: 300)  // one Character, 301 code points
        #expect(throws: RelayError.tooLong("enemy.enemy_id", limit: RoomState.maxEntityIDLength)) {
            _ = try room.spawnEnemy(["enemy_id": .string(accented)], by: "host", now: .now)
        }
        #expect(throws: RelayError.tooLong("item_id", limit: RoomState.maxEntityIDLength)) {
            _ = try room.collect(itemType: "powerup", itemID: accented, by: "guest")
        }
    }

    @Test func aLargeStateOrIsAliveCountsWhileTheEnemyLives() throws {
        var room = try self.room()
        self.expectRefused("enemy") {
            _ = try room.spawnEnemy(["enemy_id": "e", "state": self.text(3_000)], by: "host", now: .now)
        }
        _ = try room.spawnEnemy(["enemy_id": "e"], by: "host", now: .now)
        self.expectRefused("enemy") { try room.updateEnemy("e", state: ["state": self.text(3_000)], now: .now) }
        self.expectRefused("enemy") {
            _ = try room.sync(enemies: [["enemy_id": "a", "is_alive": self.text(3_000)]], coins: [], now: .now)
        }
        self.expectRefused("enemy") {
            _ = try room.sync(
                enemies: [["enemy_id": "b", "state": self.text(3_000)]], coins: [], now: .now + .seconds(1))
        }
        #expect(Array(room.enemies.keys) == ["e"])
        #expect(JSONValue.object(room.enemies["e"]?.fields ?? [:]).writtenSizeBound() < Self.limit)
    }

    @Test func aSyncBoundsIDsAsSpawnsDo() throws {
        var room = try self.room()
        let longID = JSONValue.string(String(repeating: "i", count: RoomState.maxEntityIDLength + 1))
        #expect(throws: RelayError.tooLong("enemies.enemy_id", limit: RoomState.maxEntityIDLength)) {
            _ = try room.sync(enemies: [["enemy_id": "fine"], ["enemy_id": longID]], coins: [], now: .now)
        }
        #expect(throws: RelayError.tooLong("coins.coin_id", limit: RoomState.maxEntityIDLength)) {
            _ = try room.sync(enemies: [], coins: [["coin_id": longID]], now: .now + .seconds(1))
        }
        #expect(room.enemies.isEmpty && room.coins.isEmpty)
    }

    @Test func aSyncWithAnyOversizedEntityChangesNothing() throws {
        var room = try self.room()
        _ = try room.spawnEnemy(["enemy_id": "known", "x": 1], by: "host", now: .now)
        let fine: JSONValue = ["enemy_id": "new", "x": 2]
        let update: JSONValue = ["enemy_id": "known", "x": 3]
        self.expectRefused("enemy") {
            _ = try room.sync(
                enemies: [update, fine, ["enemy_id": "big", "blob": self.text(Self.limit)]], coins: [], now: .now)
        }
        self.expectRefused("enemy") {
            _ = try room.sync(
                enemies: [fine, ["enemy_id": "known", "blob": self.text(Self.limit)]], coins: [], now: .now)
        }
        self.expectRefused("coin") {
            _ = try room.sync(
                enemies: [update, fine], coins: [["coin_id": "c", "blob": self.text(Self.limit)]], now: .now)
        }
        #expect(Array(room.enemies.keys) == ["known"])
        #expect(room.enemies["known"]?.fields["x"] == 1)
        #expect(room.coins.isEmpty)
    }

    @Test func aSyncAppliesRepeatedAndNewEnemiesInOrder() throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 3
        var room = RoomState(roomID: "ABC234", roomName: "Room", hostID: "", maxPlayers: 2, limits: limits, seed: 7)
        _ = try room.addPlayer(id: "host", name: "Host", reconnectToken: "t1")
        _ = try room.spawnEnemy(["enemy_id": "a", "x": 1], by: "host", now: .now)
        let reported: [JSONValue] = [
            ["enemy_id": "b", "x": 1], ["enemy_id": "a", "x": 2], ["enemy_id": "b", "y": 5], ["enemy_id": "c"],
        ]
        let pastTheCap = reported + [["enemy_id": "d"]]  // past the room's 3: the whole sync is refused
        #expect(
            relayError { _ = try room.sync(enemies: pastTheCap, coins: [["coin_id": "c1"]], now: .now) }?.code
                == "limit_exceeded")
        #expect(Array(room.enemies.keys) == ["a"] && room.coins.isEmpty)
        let (enemies, _) = try room.sync(enemies: reported, coins: [["coin_id": "c1"]], now: .now)
        #expect(enemies.compactMap { $0["enemy_id"]?.stringValue } == ["a", "b", "c"])
        #expect(room.enemies["a"]?.fields["x"] == 2)
        #expect(room.enemies["b"]?.fields["x"] == 1 && room.enemies["b"]?.fields["y"] == 5)
        #expect(room.coins["c1"] != nil)
    }
}

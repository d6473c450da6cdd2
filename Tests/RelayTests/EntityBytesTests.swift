import SeededRandom
import Testing

@testable import Relay

/// What a room's enemies, coins and power-ups hold as JSON, against the room's cap and, shared
/// with the server's other rooms, the server's (``MemoryBudget``).
@Suite("RoomState — entity bytes")
struct EntityBytesTests {
    private static func limits(room: Int = 1 << 20, entities: Int = 1_000, floor: Int = 0) -> RelayLimits {
        var limits = RelayLimits()
        limits.maxEntityBytesPerRoom = room
        limits.maxEntitiesPerRoom = entities
        limits.entityBytesEveryRoomMayHold = floor
        return limits
    }

    /// A started two-player room (host p1) sharing `memory`.
    private static func room(_ limits: RelayLimits, memory: MemoryBudget?) throws -> RoomState {
        try makeRoom(players: 2, limits: limits, entityMemory: memory)
    }

    private static func powerup(_ id: String, padding: Int = 900) -> [String: JSONValue] {
        ["powerup_id": .string(id), "pad": .string(String(repeating: "x", count: padding))]
    }

    /// The bytes the room's entities hold, counted afresh.
    private static func recount(_ room: RoomState) -> Int {
        room.enemies.values.reduce(0) { $0 + JSONValue.object($1.fields).writtenSizeBound() }
            + room.coins.values.reduce(0) { $0 + JSONValue.object($1.fields).writtenSizeBound() }
            + room.powerups.values.reduce(0) { $0 + JSONValue.object($1.fields).writtenSizeBound() }
    }

    @Test("After any mix of spawns, updates, deaths, collections, syncs and retirements the count is exact")
    func accountingStaysExact() throws {
        let memory = MemoryBudget(limit: 1 << 30)
        var room = try Self.room(Self.limits(entities: 40), memory: memory)
        var generator = SplitMix64(seed: 11)
        func pick(_ count: Int) -> Int { Int.random(in: 0..<count, using: &generator) }
        var now = ContinuousClock.now
        // Operations that changed the room, by kind: the count must be exact after each kind.
        var changes: [String: Int] = [:]
        func count(_ kind: String, if changed: Bool) { if changed { changes[kind, default: 0] += 1 } }
        for step in 0..<2_000 {
            let id = "e\(pick(20))"
            let padding = String(repeating: "p", count: pick(300))
            let operation = pick(9)
            switch operation {
            case 0:
                let spawned = try? room.spawnEnemy(
                    ["enemy_id": .string(id), "pad": .string(padding)], by: "p1", now: now)
                count("spawn enemy", if: spawned != nil)
            case 1:
                let tracked = room.tracksEnemy(id)  // an untracked id is relayed, not kept
                let updated: Void? = try? room.updateEnemy(
                    id, state: ["x": .integer(Int64(pick(1_000))), "pad": .string(padding)], now: now)
                count("update enemy", if: tracked && updated != nil)
            case 2:
                count("kill enemy", if: room.killEnemy(id, by: "p2", now: now) != .alreadyDead)
            case 3:
                let coin = try? room.spawnCoin(
                    ["coin_id": .string("c\(pick(60))"), "value": .string(padding)], by: "p1")
                count("spawn coin", if: coin != nil)
            case 4:
                let powerup = try? room.spawnPowerup(Self.powerup("u\(pick(60))", padding: padding.count), by: "p1")
                count("spawn powerup", if: powerup != nil)
            case 5:
                let collected = try? room.collect(
                    itemType: pick(2) == 0 ? "coin" : "powerup", itemID: "\(["c", "u"][pick(2)])\(pick(60))", by: "p2")
                count("collect", if: collected != nil && collected != .alreadyCollected)
            case 6:
                let enemies: [JSONValue] = (0..<pick(5)).map { _ in
                    .object(["enemy_id": .string("e\(pick(30))"), "pad": .string(padding)])
                }
                let coins: [JSONValue] = (0..<pick(5)).map { _ in
                    .object(["coin_id": .string("c\(pick(60))"), "pad": .string(padding)])
                }
                let synced = try? room.sync(enemies: enemies, coins: coins, now: now)
                count("sync", if: synced != nil && !(enemies.isEmpty && coins.isEmpty))
            case 7:
                now += .seconds(pick(12))
                let before = room.entityBytes
                room.retireDeadEnemies(now: now)
                count("retire", if: room.entityBytes < before)
            default:
                now += .milliseconds(pick(500))
            }
            try #require(room.entityBytes == Self.recount(room), "step \(step), operation \(operation)")
            let remembered = [room.collectedCoins, room.collectedPowerups, room.departedEnemies].reduce(0) {
                $0 + $1.ids.reduce(0) { $0 + $1.utf8.count + RememberedIDs.bytesHeldPerID }
            }
            try #require(room.rememberedIDBytes == remembered, "step \(step), operation \(operation)")
            try #require(
                memory.heldBytes == room.entityBytes + room.rememberedIDBytes, "step \(step), operation \(operation)")
        }
        #expect(room.entityBytes > 0 && room.rememberedIDBytes > 0)
        let kinds = [
            "spawn enemy", "update enemy", "kill enemy", "spawn coin", "spawn powerup", "collect", "sync", "retire",
        ]
        for kind in kinds { #expect(changes[kind, default: 0] >= 25, "\(changes)") }
        room.forgetEntities()
        #expect(room.entityBytes == 0 && room.rememberedIDBytes == 0 && memory.heldBytes == 0)
    }

    @Test("Past the room's cap a spawn is refused and changes nothing; a collection makes room again")
    func roomCap() throws {
        // Ids of one length, so that every power-up is the same size.
        let size = JSONValue.object(Self.powerup("u00").merging(["type": "health", "x": 0, "y": 0]) { $1 })
            .writtenSizeBound()
        var room = try Self.room(Self.limits(room: 10 * size), memory: nil)
        for index in 0..<10 { _ = try room.spawnPowerup(Self.powerup("u0\(index)"), by: "p1") }
        #expect(room.entityBytes == 10 * size)
        let refused = relayError { _ = try room.spawnPowerup(Self.powerup("u10"), by: "p1") }
        #expect(refused?.code == "limit_exceeded")
        #expect(room.powerups["u10"] == nil && room.entityBytes == 10 * size)
        // A bigger copy of one the room has is refused too; one of the same size is not.
        let bigger = relayError { _ = try room.spawnPowerup(Self.powerup("u00", padding: 901), by: "p1") }
        #expect(bigger?.code == "limit_exceeded")
        _ = try room.spawnPowerup(Self.powerup("u00"), by: "p1")
        _ = try room.collect(itemType: "powerup", itemID: "u03", by: "p2")
        _ = try room.spawnPowerup(Self.powerup("u10"), by: "p1")
        #expect(room.entityBytes == 10 * size)
    }

    @Test("Rooms share the server's cap: one room's entities can refuse another's until it closes")
    func serverCap() throws {
        let memory = MemoryBudget(limit: 20_000)
        var first = try Self.room(Self.limits(), memory: memory)
        var second = try Self.room(Self.limits(), memory: memory)
        var index = 0
        while index < 100, (try? first.spawnPowerup(Self.powerup("u\(index)"), by: "p1")) != nil { index += 1 }
        #expect((10..<100).contains(index) && memory.heldBytes <= 20_000)
        let refused = relayError { _ = try second.spawnPowerup(Self.powerup("v"), by: "p1") }
        #expect(refused == .limitExceeded("bytes of enemies, coins and power-ups on this server", limit: 20_000))
        #expect(second.entityBytes == 0)
        first.forgetEntities()
        _ = try second.spawnPowerup(Self.powerup("v"), by: "p1")
        #expect(memory.heldBytes == second.entityBytes)
    }

    @Test("A room under what every room may hold keeps spawning, and its enemies keep growing, with the server full")
    func everyRoomsShare() throws {
        let memory = MemoryBudget(limit: 10_000)
        let limits = Self.limits(floor: 4_000)
        var filler = try Self.room(limits, memory: memory)
        var index = 0
        while index < 100, (try? filler.spawnPowerup(Self.powerup("u\(index)"), by: "p1")) != nil { index += 1 }
        // Then small coins, until not even one fits.
        while index < 1_000, (try? filler.spawnCoin(["coin_id": .string("c\(index)")], by: "p1")) != nil { index += 1 }
        #expect(filler.entityBytes > 9_800 && filler.entityBytes <= 10_000, "\(filler.entityBytes)")

        var game = try Self.room(limits, memory: memory)
        _ = try game.spawnEnemy(["enemy_id": "e1", "x": 1], by: "p1", now: .now)
        try game.updateEnemy("e1", state: ["x": 123_456.5, "velocity_x": 12.5], now: .now)
        _ = try game.spawnCoin(["coin_id": "c1"], by: "p1")
        #expect(game.enemies["e1"]?.fields["x"] == 123_456.5)
        #expect(memory.heldBytes == filler.entityBytes + game.entityBytes)
        // Past its share, the server's cap applies to it too.
        var refused: RelayError?
        for index in 0..<10 where refused == nil {
            refused = relayError { _ = try game.spawnPowerup(Self.powerup("g\(index)"), by: "p1") }
        }
        #expect(refused == .limitExceeded("bytes of enemies, coins and power-ups on this server", limit: 10_000))
        #expect(game.entityBytes <= 4_000)
    }

    @Test("A new coin in a full list at the room's cap replaces the oldest, so it fits if no larger")
    func fullListAtTheCap() throws {
        let coin: (String) -> [String: JSONValue] = { ["coin_id": .string($0), "value": 1] }
        var room = try Self.room(Self.limits(entities: 3), memory: nil)
        for id in ["c1", "c2", "c3"] { _ = try room.spawnCoin(coin(id), by: "p1") }
        var limits = Self.limits(room: room.entityBytes, entities: 3)
        limits.entityBytesEveryRoomMayHold = 0
        var full = try Self.room(limits, memory: nil)
        for id in ["c1", "c2", "c3", "c4"] { _ = try full.spawnCoin(coin(id), by: "p1") }
        #expect(Array(full.coins.keys) == ["c2", "c3", "c4"])
        // A sync listing coins the room has is no growth either, nor one with a new coin that
        // pushes out the oldest.
        _ = try full.sync(enemies: [], coins: full.coins.values.map { .object($0.fields) }, now: .now)
        _ = try full.sync(enemies: [], coins: [.object(coin("c5"))], now: .now + .seconds(1))
        #expect(Array(full.coins.keys) == ["c3", "c4", "c5"])
        #expect(full.entityBytes == Self.recount(full))
    }

    @Test("At the cap a kill is still taken, its death written; its dropped coins go out untracked")
    func killsAtTheCap() throws {
        let memory = MemoryBudget(limit: 1 << 30)
        var room = try Self.room(Self.limits(), memory: memory)
        _ = try room.spawnEnemy(["enemy_id": "e1", "coin_reward": 3], by: "p1", now: .now)
        var limits = Self.limits(room: room.entityBytes)
        limits.maxEntityBytesPerRoom = room.entityBytes
        var full = try Self.room(limits, memory: memory)
        _ = try full.spawnEnemy(["enemy_id": "e1", "coin_reward": 3], by: "p1", now: .now)
        guard case .killed(let drops) = full.killEnemy("e1", by: "p2", now: .now) else {
            Issue.record("the kill was not taken")
            return
        }
        #expect(drops.count == 3)
        #expect(full.enemies["e1"]?.fields["is_alive"] == false)
        #expect(full.coins.isEmpty)
        #expect(full.entityBytes == Self.recount(full))
        #expect(memory.heldBytes == room.entityBytes + full.entityBytes)
    }

    @Test("A sync past the cap is refused whole: nothing it lists is kept")
    func syncPastTheCap() throws {
        var room = try Self.room(Self.limits(room: 4_000), memory: nil)
        let coins: [JSONValue] = (0..<5).map {
            .object(["coin_id": .string("c\($0)"), "pad": .string(String(repeating: "x", count: 900))])
        }
        let refused = relayError { _ = try room.sync(enemies: [], coins: coins, now: .now) }
        #expect(refused?.code == "limit_exceeded")
        #expect(room.coins.isEmpty && room.entityBytes == 0)
        _ = try room.sync(enemies: [], coins: Array(coins.prefix(3)), now: .now)
        #expect(room.coins.count == 3 && room.entityBytes == Self.recount(room))
    }
}

import Testing

@testable import Relay

/// The ids rooms remember (collected coins and power-ups, departed enemies) count toward the
/// server's total (``MemoryBudget``) past what every room may hold; a room that finds the total
/// full forgets its oldest instead of refusing a collection.
@Suite("RoomState — remembered ids across rooms")
struct RememberedIDMemoryTests {
    /// A started two-player room (host p1) sharing `memory`, which may remember `floor` bytes whatever the total.
    private static func room(memory: MemoryBudget, floor: Int) throws -> RoomState {
        var limits = RelayLimits()
        limits.rememberedIDBytesEveryRoomMayHold = floor
        return try makeRoom(players: 2, limits: limits, entityMemory: memory)
    }

    /// What an id of `length` characters holds.
    private static func held(length: Int) -> Int { length + RememberedIDs.bytesHeldPerID }

    /// Collects coins `coin_0000`… from `first` on: every one is taken, none refused.
    private static func collect(_ count: Int, from first: Int = 0, in room: inout RoomState) throws {
        for index in first..<(first + count) {
            let outcome = try room.collect(itemType: "coin", itemID: Self.coinID(index), by: "p2")
            guard case .collected = outcome else {
                Issue.record("coin \(index): \(outcome)")
                return
            }
        }
    }

    private static func coinID(_ index: Int) -> String {
        "coin_" + String(repeating: "0", count: 4 - String(index).count) + String(index)
    }

    @Test("Past its share a room remembers only what the total has room for, forgetting its oldest; never refusing")
    func aFullTotalMakesARoomForgetItsOldest() throws {
        let each = Self.held(length: 9)
        let memory = MemoryBudget(limit: 100 * each)
        var room = try Self.room(memory: memory, floor: 20 * each)
        try Self.collect(500, in: &room)
        #expect(memory.heldBytes <= 100 * each, "\(memory.heldBytes)")
        #expect(memory.heldBytes == room.rememberedIDBytes)
        #expect((60...100).contains(room.collectedCoins.count), "\(room.collectedCoins.count) remembered")
        // The newest are remembered, the oldest forgotten.
        #expect(try room.collect(itemType: "coin", itemID: Self.coinID(499), by: "p1") == .alreadyCollected)
        #expect(!room.collectedCoins.contains(Self.coinID(0)))
    }

    @Test("With the total full, another room still remembers its share, then forgets its own oldest")
    func everyRoomKeepsItsShare() throws {
        let each = Self.held(length: 9)
        let memory = MemoryBudget(limit: 100 * each)
        var filler = try Self.room(memory: memory, floor: 20 * each)
        try Self.collect(500, in: &filler)
        let fillerRemembers = filler.collectedCoins.count
        var game = try Self.room(memory: memory, floor: 20 * each)
        try Self.collect(20, in: &game)
        #expect(game.collectedCoins.count == 20, "its share, whatever the total")
        try Self.collect(30, from: 20, in: &game)
        #expect((15...21).contains(game.collectedCoins.count), "\(game.collectedCoins.count) remembered")
        #expect(game.collectedCoins.contains(Self.coinID(49)))
        #expect(filler.collectedCoins.count == fillerRemembers, "the other room's ids are not touched")
        #expect(memory.heldBytes == filler.rememberedIDBytes + game.rememberedIDBytes)
        // A closing room gives its share back, and the other may grow into it.
        filler.forgetEntities()
        #expect(memory.heldBytes == game.rememberedIDBytes)
        try Self.collect(50, from: 50, in: &game)
        #expect(game.collectedCoins.count > 60)
        game.forgetEntities()
        #expect(memory.heldBytes == 0)
    }

    @Test("Departed enemies and collected power-ups count as collected coins do")
    func everySetCounts() throws {
        let memory = MemoryBudget(limit: 1 << 30)
        var room = try Self.room(memory: memory, floor: 0)
        var now = ContinuousClock.now
        _ = try room.spawnEnemy(["enemy_id": "e1"], by: "p1", now: now)
        _ = room.killEnemy("e1", by: "p2", now: now)
        let afterKill = memory.heldBytes
        now += .seconds(11)
        room.retireDeadEnemies(now: now)  // now only its id is kept
        #expect(room.rememberedIDBytes == Self.held(length: 2))
        _ = try room.collect(itemType: "powerup", itemID: "u1", by: "p2")
        #expect(room.rememberedIDBytes == 2 * Self.held(length: 2))
        #expect(memory.heldBytes == room.entityBytes + room.rememberedIDBytes)
        #expect(memory.heldBytes < afterKill + 2 * Self.held(length: 2))
        _ = try room.spawnEnemy(["enemy_id": "e1"], by: "p1", now: now)  // alive again: forgotten
        _ = try room.spawnPowerup(["powerup_id": "u1"], by: "p1")
        #expect(room.rememberedIDBytes == 0)
        #expect(memory.heldBytes == room.entityBytes)
    }

    @Test("A set emptied by removals gives its storage back, so that what a room holds is what it is charged")
    func removalsGiveStorageBack() {
        var set = RememberedIDs(countLimit: 10_000, byteLimit: 1 << 20)
        for index in 0..<4_000 { _ = set.insert("id\(index)") }
        let full = set.ids.elements.capacity
        for index in 0..<3_900 { set.remove("id\(index)") }
        #expect(set.count == 100)
        #expect(set.ids.elements.capacity <= 4 * set.count + 64, "capacity \(set.ids.elements.capacity) of \(full)")
        #expect(set.contains("id3999") && !set.contains("id0"))
        for _ in 0..<6 { set.forgetOldestQuarter() }
        #expect(set.ids.elements.capacity <= max(64, 4 * set.count), "capacity \(set.ids.elements.capacity)")
    }

    @Test("An id removed by a canonically equal spelling of other bytes gives back the bytes it held, no more")
    func removalByAnotherSpelling() {
        let composed = String(repeating: "\u{D55C}", count: 42)  // 한: 3 bytes
        let decomposed = String(repeating: "\u{1112}\u{1161}\u{11AB}", count: 42)  // ᄒ ᅡ ᆫ: 9 bytes
        #expect(composed == decomposed && composed.utf8.count == 126 && decomposed.utf8.count == 378)
        for (kept, removedBy) in [(composed, decomposed), (decomposed, composed)] {
            var set = RememberedIDs(countLimit: 100, byteLimit: 1 << 20)
            _ = set.insert("other")
            _ = set.insert(kept)
            set.remove(removedBy)
            #expect(set.count == 1)
            #expect(set.bytes == 5, "kept \(kept.utf8.count) bytes, removed by \(removedBy.utf8.count)")
        }
    }

    @Test("A host collecting a coin and spawning it back under another spelling, again and again, holds nothing")
    func collectAndRespawnUnderAnotherSpelling() throws {
        let memory = MemoryBudget(limit: 1 << 20)
        var room = try Self.room(memory: memory, floor: 0)
        let composed = String(repeating: "\u{D55C}", count: 42)
        let decomposed = String(repeating: "\u{1112}\u{1161}\u{11AB}", count: 42)
        for _ in 0..<100 {
            _ = try room.collect(itemType: "coin", itemID: composed, by: "p1")
            _ = try room.spawnCoin(["coin_id": .string(decomposed)], by: "p1")
        }
        #expect(room.rememberedIDBytes == 0)
        #expect(memory.heldBytes == room.entityBytes)
        room.forgetEntities()
        #expect(memory.heldBytes == 0)
    }

    @Test("With no room at all, a room still remembers its newest collection: a coin is never collected twice in a row")
    func theNewestIsAlwaysRemembered() throws {
        let memory = MemoryBudget(limit: 0)
        var room = try Self.room(memory: memory, floor: 0)
        for index in 0..<50 {
            try Self.collect(1, from: index, in: &room)
            #expect(try room.collect(itemType: "coin", itemID: Self.coinID(index), by: "p1") == .alreadyCollected)
        }
        #expect(room.collectedCoins.count == 1)
        #expect(memory.heldBytes == room.rememberedIDBytes)
        room.forgetEntities()
        #expect(memory.heldBytes == 0)
    }
}

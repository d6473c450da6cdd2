import Testing

@testable import Handlers
@testable import Relay

/// The server-wide cap on what rooms' enemies, coins and power-ups hold (``MemoryBudget``),
/// through the messages that fill it and the room that gives it back as it closes.
@Suite("Entity bytes across rooms")
struct EntityMemoryTests {
    static func powerup(_ id: String) -> String {
        #"{"type":"powerup_spawn","powerup":{"powerup_id":"\#(id)","pad":"\#(String(repeating: "x", count: 900))"}}"#
    }

    @Test("A host alone cannot fill the server: past its cap spawns are refused in every room until a room closes")
    func serverCapAcrossRooms() async throws {
        var limits = RelayLimits()
        limits.maxEntityBytesPerServer = 10_000
        limits.entityBytesEveryRoomMayHold = 0  // else each room holds 128 KiB whatever the total
        let harness = try Harness(limits: limits)
        let filler = harness.client()
        _ = try await filler.createRoom(playerID: "filler", name: "Filler")
        var spawned = 0
        while spawned < 100 {
            await filler.send(Self.powerup("p\(spawned)"))
            let answer = await filler.received()
            if answer.first?.type == "error" {
                #expect(answer.first?["code"]?.stringValue == "limit_exceeded", "\(answer)")
                break
            }
            #expect(answer.first?.type == "powerup_spawned", "\(answer)")
            spawned += 1
        }
        #expect((5...10).contains(spawned), "\(spawned) spawned")
        #expect(harness.registry.entityMemory.heldBytes <= 10_000)

        let other = harness.client()
        _ = try await other.createRoom(playerID: "other", name: "Other")
        await other.expectError("limit_exceeded", after: Self.powerup("q"))

        await filler.send(#"{"type":"leave_room"}"#)
        _ = await filler.received()
        try await harness.eventually { harness.registry.entityMemory.heldBytes == 0 }
        await other.send(Self.powerup("q"))
        #expect(await other.received().map(\.type) == ["powerup_spawned"])
        #expect(harness.registry.entityMemory.heldBytes > 0)
    }

    @Test(
        "A lone client collecting made-up ids holds no more than the server's total; the room gives it back as it closes"
    )
    func rememberedIDsAcrossRooms() async throws {
        var limits = RelayLimits()
        limits.maxEntityBytesPerServer = 20_000
        limits.rememberedIDBytesEveryRoomMayHold = 2_000
        let harness = try Harness(limits: limits)
        let collector = harness.client()
        _ = try await collector.createRoom(playerID: "collector", name: "Collector")
        for index in 0..<600 {
            let answer = await collector.exchange(
                #"{"type":"collect_item","item_type":"\#(index % 2 == 0 ? "coin" : "powerup")","item_id":"made_up_\#(index)"}"#
            )
            try #require(answer.map(\.type) == ["item_collected"], "\(index): \(answer)")
        }
        #expect(harness.registry.entityMemory.heldBytes <= 20_000, "\(harness.registry.entityMemory.heldBytes)")
        #expect(harness.registry.entityMemory.heldBytes > 10_000)
        await collector.send(#"{"type":"leave_room"}"#)
        _ = await collector.received()
        try await harness.eventually { harness.registry.entityMemory.heldBytes == 0 }
    }
}

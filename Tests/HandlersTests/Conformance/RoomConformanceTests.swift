import Testing

@testable import Handlers
@testable import Relay

/// Random sessions of many clients in many rooms, every message each client receives and both
/// room lists checked against a reference model of PROTOCOL.md §2 and the README's rules
/// (``RoomConformanceRun``). A mismatch names its seed and the steps before it, to replay.
@Suite("room conformance")
struct RoomConformanceTests {
    /// Types the runs must reach, so that a generator gone wrong cannot pass by checking little.
    static let reached = [
        "room_created", "room_joined", "player_left", "player_disconnected", "player_reconnected", "game_starting",
        "player_state_update", "item_collected", "item_already_collected", "coin_spawned", "enemy_killed",
        "entities_sync", "error duplicate_player_id", "error join_failed", "error reconnect_failed",
        "error already_in_room", "error start_failed",
    ]

    @Test(arguments: [20_261_205, 11, 4_242] as [UInt64])
    func roomsFollowTheModel(seed: UInt64) async throws {
        try await Self.run(seed: seed, steps: 2_000)
    }

    /// At `--max-rooms` a vacant room makes way for a new one; with none, `server_full`.
    @Test(arguments: [20_261_206, 12] as [UInt64])
    func aServerAtItsRoomCapFollowsTheModel(seed: UInt64) async throws {
        try await Self.run(seed: seed, steps: 2_000, maxRooms: 3, reaching: ["error server_full"])
    }

    static func run(seed: UInt64, steps: Int, maxRooms: Int? = nil, reaching more: [String] = []) async throws {
        let run = try RoomConformanceRun(seed: seed, maxRooms: maxRooms)
        do {
            try await run.run(steps: steps)
        } catch let mismatch as RoomConformanceRun.Mismatch {
            Issue.record("seed \(seed), \(mismatch)")
            return
        }
        for type in Self.reached + more {
            #expect(
                run.seen[type, default: 0] > 0, "seed \(seed): no \(type) in \(run.seen.sorted { $0.key < $1.key })")
        }
    }
}

import Testing

@testable import Handlers
@testable import Relay

/// Random sessions of many clients in many rooms, every message each client receives, both room
/// lists and what each room tells its observers checked against a reference model of PROTOCOL.md
/// §2 and the README's rules (``RoomConformanceRun``). A mismatch names its seed and the steps
/// before it, to replay.
@Suite("room conformance")
struct RoomConformanceTests {
    /// Types the runs must reach, so that a generator gone wrong cannot pass by checking little.
    static let reached = [
        "room_created", "room_joined", "reconnected", "enemy_spawned", "time_sync_response", "player_left",
        "player_disconnected", "player_reconnected", "game_starting",
        "player_state_update", "item_collected", "item_already_collected", "coin_spawned", "enemy_killed",
        "entities_sync", "emote", "pong", "error duplicate_player_id", "error join_failed", "error reconnect_failed",
        "error already_in_room", "error start_failed", "error too_long",
    ]
    /// The model's rarer branches the runs must take, and a drop (``RoomConformanceRun/race()``)
    /// or a reconnect (``RoomConformanceRun/raceAReconnect()``) handled both before and after
    /// what it raced.
    static let branches =
        [
            "dropped member made way", "own room re-entered", "dropped member let go at the start",
            "token used last accepted", "connection replaced", "dropped under a collected coin's id", "raced",
            "retried reconnect raced",
        ]
        + ["drop", "reconnect", "live reconnect", "last-moment reconnect"].flatMap { kind in
            ["\(kind) handled first", "\(kind) handled second"]
        }

    @Test func roomsFollowTheModel() async throws {
        try await Self.run(seeds: [20_261_205, 11, 4_242]) { try RoomConformanceRun(seed: $0) }
    }

    /// At `--max-rooms` a vacant room makes way for a new one; with none, `server_full`.
    @Test func aServerAtItsRoomCapFollowsTheModel() async throws {
        try await Self.run(seeds: [20_261_206, 12, 4_243], reaching: ["error server_full"], branches: ["room evicted"])
        {
            try RoomConformanceRun(seed: $0, maxRooms: 3)
        }
    }

    /// Messages as the socket handler reads them, clients and rooms on two event loops: the state
    /// relays' raw paths (in place, or handed to the room's loop) follow the same model, also when
    /// a member's moves sent back to back are on their way to the room's loop together ("burst
    /// handed on"), and races of two members' messages are handled in both orders (seldom so with
    /// one loop).
    @Test func messagesAsTheSocketReadsThemFollowTheModel() async throws {
        try await Self.run(
            seeds: [20_261_207, 13, 4_244],
            branches: [
                "handled in place", "handed to the room's loop", "race handled the other way round", "burst handed on",
            ]
        ) { try RoomConformanceRun(seed: $0, asTheSocketReads: true) }
    }

    /// Runs one seed after another, each to its first mismatch; then the types and branches must
    /// have been reached by at least one of them (each seed's path may vary a little with the
    /// clock and the threads' scheduling: see ``RoomConformanceRun``).
    static func run(
        seeds: [UInt64], steps: Int = 2_000, reaching more: [String] = [], branches moreBranches: [String] = [],
        _ makeRun: (UInt64) throws -> RoomConformanceRun
    ) async throws {
        var seen: [String: Int] = [:]
        var branches: [String: Int] = [:]
        for seed in seeds {
            let run = try makeRun(seed)
            do {
                try await run.run(steps: steps)
            } catch let mismatch as RoomConformanceRun.Mismatch {
                Issue.record("seed \(seed), \(mismatch)")
            }
            seen.merge(run.seen, uniquingKeysWith: +)
            branches.merge(run.branches, uniquingKeysWith: +)
        }
        // The model follows a `rate_limited` answer (the clock refills those budgets), but the runs
        // send far less than the default rates: a few refusals at most (none in 3 × 3 runs here;
        // a server refusing one enemy_spawn in ten, 18 to 25), never a server that throttles
        // what it should take.
        let refusedByRate = branches.filter { $0.key.hasSuffix("refused by its rate") }.values.reduce(0, +)
        #expect(refusedByRate <= 2 * seeds.count, "seeds \(seeds): \(branches)")
        for type in Self.reached + more {
            #expect(seen[type, default: 0] > 0, "seeds \(seeds): no \(type) in \(seen.sorted { $0.key < $1.key })")
        }
        for branch in Self.branches + moreBranches {
            #expect(branches[branch, default: 0] > 0, "seeds \(seeds): never \(branch) in \(branches)")
        }
    }
}

import Foundation
import Testing

/// A short session of the game's own browser client, in the shapes it builds them
/// (`OnlineCoopService`, `OnlinePlayerManager`, `GameScene`): lobby, a game, then a second game
/// on the same sockets, as after quitting to the menu. The game shows every `error` as a popup.
@Suite("The game's client, message for message")
struct GameClientSessionTests {
    @Test("Lobby, game and a second game in the client's shapes: no error reaches either player")
    func realClientSession() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            host.send(["type": "create_room", "room_name": "Alice's Room", "player_name": "Alice"])
            try await host.expect("player_joined")
            let code = try #require(try await host.expect("room_created")["room_id"] as? String)
            host.send(["type": "time_sync", "client_time": 1_796_180_698_941])
            let guest = TestSocket.connect(port: port, path: "/ws/room/\(code)")
            guest.send(["type": "join_room", "room_id": code, "player_name": "Bob"])
            let guestID = try #require(try await guest.skip(until: "room_joined")["player_id"] as? String)
            guest.send(["type": "time_sync", "client_time": 1_796_180_699_002])
            host.send(["type": "chat", "message": "ready?"])
            for ready in [true, false, true] { guest.send(["type": "player_ready", "is_ready": ready]) }
            host.send(["type": "player_ready", "is_ready": true])
            try await Self.settle(host, guest)
            host.send(["type": "start_game"])
            try await host.skip(until: "game_starting")
            try await guest.skip(until: "game_starting")

            // The host's GameScene.create: spawns, then a sync of everything 300 ms later.
            let enemies = [
                Self.enemy(
                    "enemy_chunk_-1_0", "fly", x: 812, y: 377, health: 2, coinReward: 5, scale: 0.6, facingRight: true),
                Self.enemy(
                    "enemy_chunk_-1_1", "slimeGreen", x: 1213, y: 468, health: 4, coinReward: 10, scale: 1.0,
                    facingRight: false),
                Self.enemy(
                    "enemy_chunk_-1_2", "wormPink", x: 1614, y: 559, health: 8, coinReward: 15, scale: 1.3,
                    facingRight: true),
            ]
            for enemy in enemies { host.send(["type": "enemy_spawn", "enemy": enemy]) }
            let coins = [(600, 450), (1000, 400), (1400, 350)].enumerated().map { index, position in
                Self.coin("coin_init_\(index)_\(position.0)_\(position.1)", x: position.0, y: position.1)
            }
            for coin in coins { host.send(["type": "coin_spawn", "coin": coin]) }
            host.send([
                "type": "powerup_spawn",
                "powerup": ["powerup_id": "powerup_0_2345_412", "type": "powerLife", "x": 2345, "y": 412],
            ])
            host.send(["type": "sync_entities", "enemies": enemies, "coins": coins])

            for frame in 0..<30 {
                for (socket, x0) in [(host, 400.0), (guest, 500.0)] {
                    let state: [String: Any] = [
                        "x": x0 + 3.3333333333333335 * Double(frame), "y": 550.4166666666666, "velocity_x": 200,
                        "velocity_y": -12.345678901234, "health": 100, "lives": 3, "score": 0, "is_alive": true,
                        "facing_right": true, "is_jumping": frame % 7 == 0, "is_shooting": false,
                    ]
                    socket.send(["type": "player_state", "state": state])
                }
                for enemy in enemies where frame % 3 == 0 {  // every 50 ms, each tracked enemy
                    let state: [String: Any] = [
                        "x": enemy["x"]!, "y": enemy["y"]!, "velocity_x": -40, "velocity_y": 0,
                        "health": enemy["health"]!, "is_alive": true,
                    ]
                    host.send(["type": "enemy_state", "enemy_id": enemy["enemy_id"]!, "state": state])
                }
            }
            // The guest collects only coins it has been sent: let the host's spawns reach it first.
            let spawned = try await Self.settle(host, guest)
            host.send([
                "type": "game_action", "action": "shoot",
                "data": [
                    "x": 431.2345, "y": 552.5, "velocityX": 598.1234567, "velocityY": -43.21, "weapon": "raygun",
                    "angle": -0.0722,
                ],
            ])
            guest.send(["type": "collect_item", "item_type": "coin", "item_id": coins[0]["coin_id"]!])
            host.send(["type": "collect_item", "item_type": "coin", "item_id": coins[0]["coin_id"]!])
            guest.send(["type": "collect_item", "item_type": "powerup", "item_id": "powerup_0_2345_412"])
            // Both kill the same enemy; the host, still tracking it while it fades out, sends its dead state.
            guest.send(["type": "enemy_killed", "enemy_id": "enemy_chunk_-1_0"])
            host.send(["type": "enemy_killed", "enemy_id": "enemy_chunk_-1_0"])
            host.send([
                "type": "enemy_state", "enemy_id": "enemy_chunk_-1_0",
                "state": ["x": 812, "y": 377, "velocity_x": 0, "velocity_y": 0, "health": -1, "is_alive": false],
            ])
            var drop = Self.coin("coin_drop_1_812_377_0", x: 813, y: 360)
            drop["velocity_x"] = -64
            drop["velocity_y"] = -192
            host.send(["type": "coin_spawn", "coin": drop])
            guest.send(["type": "collect_item", "item_type": "coin", "item_id": "coin_drop_812_377_0"])
            guest.send(["type": "game_action", "action": "death", "data": ["lives": 2, "is_permanent": false]])
            guest.send(["type": "game_action", "action": "respawn", "data": ["x": 400, "y": 550, "lives": 2]])
            guest.send(["type": "chat", "message": "nice"])
            host.send([
                "type": "enemy_spawn",
                "enemy": enemies[0].merging(["enemy_id": "enemy_respawn_1_812_377", "x": 812.5]) { $1 },
            ])
            host.send(["type": "game_action", "action": "level_complete", "data": [String: Any]()])
            host.send(["type": "time_sync", "client_time": 1_796_180_704_100])
            var played = try await Self.settle(host, guest)
            played = (played.host.union(spawned.host), played.guest.union(spawned.guest))
            for type in [
                "player_state_update", "enemy_spawned", "coin_spawned", "powerup_spawned", "item_collected",
                "enemy_killed", "game_action", "chat",
            ] {
                #expect(played.host.contains(type) && played.guest.contains(type), "\(type)")
            }
            #expect(played.guest.contains("entities_sync") && played.guest.contains("enemy_state_update"))
            // Each race has one loser, told so: the kill's and the first coin's.
            #expect(played.host.union(played.guest).isSuperset(of: ["enemy_already_dead", "item_already_collected"]))

            // Both quit to the menu: the client closes nothing, so the next game starts on these sockets.
            host.send(["type": "create_room", "room_name": "Alice's Room", "player_name": "Alice"])
            try await host.expect("player_joined")
            let again = try #require(try await host.expect("room_created")["room_id"] as? String)
            try await guest.expect("player_left")
            guest.send(["type": "join_room", "room_id": again, "player_name": "Bob"])
            try await guest.expect("player_joined")
            let rejoinedAs = try #require(try await guest.expect("room_joined")["player_id"] as? String)
            #expect(rejoinedAs != guestID)
            try await host.expect("player_joined")
            try await Self.settle(host, guest)
        }
    }

    /// An enemy as `GameScene.spawnRandomEnemy` reports it.
    static func enemy(
        _ id: String, _ type: String, x: Int, y: Int, health: Int, coinReward: Int, scale: Double, facingRight: Bool
    ) -> [String: Any] {
        [
            "enemy_id": id, "enemy_type": type, "x": x, "y": y, "velocity_x": 0, "velocity_y": 0, "health": health,
            "max_health": health, "is_alive": true, "facing_right": facingRight, "state": "idle",
            "coin_reward": coinReward,
            "scale": scale,
        ]
    }

    /// A coin as `GameScene.reportCoinSpawnToServer` reports it.
    static func coin(_ id: String, x: Int, y: Int) -> [String: Any] {
        [
            "coin_id": id, "x": x, "y": y, "is_collected": false, "collected_by": NSNull(), "value": 1, "velocity_x": 0,
            "velocity_y": 0,
        ]
    }

    /// Pings both and reads each one's messages up to its `pong`, twice (the first round leaves
    /// the other's broadcasts behind it); no message may be an `error`. Returns the types seen.
    @discardableResult
    static func settle(
        _ host: TestSocket, _ guest: TestSocket, sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws -> (host: Set<String>, guest: Set<String>)
    {
        var seen: [Set<String>] = [[], []]
        for _ in 0..<2 {
            for (index, socket) in [host, guest].enumerated() {
                socket.send(["type": "ping"])
                while true {
                    let message = try await socket.next()
                    let type = message["type"] as? String ?? "?"
                    #expect(
                        type != "error", "\(index == 0 ? "host" : "guest") got \(message)",
                        sourceLocation: sourceLocation)
                    if type == "pong" { break }
                    seen[index].insert(type)
                }
            }
        }
        return (seen[0], seen[1])
    }
}

import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOPosix
import Testing

@testable import Relay
@testable import RelayServer

/// Two (or three) real WebSocket clients playing through the relay.
@Suite("Room relay over WebSockets")
struct RelayFlowTests {
    /// Creates a room with `host` and joins `guest`; returns (room code, host id, guest id, host token).
    static func openRoom(
        _ port: Int, host: TestSocket, guest: TestSocket, maxPlayers: Int? = nil
    ) async throws
        -> (code: String, hostID: String, guestID: String, hostToken: String)
    {
        var create: [String: Any] = ["type": "create_room", "room_name": "Test room", "player_name": "Host"]
        if let maxPlayers { create["max_players"] = maxPlayers }
        host.send(create)
        let joined = try await host.expect("player_joined")
        let created = try await host.expect("room_created")
        let code = try #require(created["room_id"] as? String)
        let hostID = try #require(created["player_id"] as? String)
        #expect(joined["player_id"] as? String == hostID)
        guest.send(["type": "join_room", "room_id": code, "player_name": "Guest"])
        let guestJoined = try await guest.expect("player_joined")
        let welcome = try await guest.expect("room_joined")
        #expect(guestJoined["player_id"] as? String == welcome["player_id"] as? String)
        try await host.expect("player_joined")
        return (
            code, hostID, try #require(welcome["player_id"] as? String),
            try #require(created["reconnect_token"] as? String)
        )
    }

    @Test("Create, join, ready, start, play: the protocol's order and shapes")
    func fullGame() async throws {
        try await withRelayServer { port, registry in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            #expect(room.code.count == 6)
            #expect(room.code.allSatisfy { RoomRegistry.codeAlphabet.contains($0) })

            let listed = try await TestClient.withClient(host: "localhost", port: port, configuration: .patient) {
                client in
                try await client.get("/api/rooms/all", host: "localhost")
            }
            let rooms = try #require(
                try JSONSerialization.jsonObject(with: Data(buffer: listed.body!)) as? [[String: Any]])
            #expect(rooms.map { $0["room_id"] as? String } == [room.code])
            #expect(rooms.first?["player_count"] as? Int == 2)

            for socket in [host, guest] { socket.send(["type": "player_ready", "is_ready": true]) }
            for socket in [host, guest] {
                try await socket.expect("player_ready_changed")
                try await socket.expect("player_ready_changed")
            }
            host.send(["type": "start_game"])
            for socket in [host, guest] {
                let starting = try await socket.expect("game_starting")
                let state = try #require(starting["game_state"] as? [String: Any])
                let start = try #require(state["game_start_timestamp"] as? Double)
                let now = try #require(state["server_timestamp"] as? Double)
                #expect(abs(start - now - 500) < 5)
                #expect((state["players"] as? [String: Any])?.count == 2)
                #expect((1...999_999).contains(state["seed"] as? Int ?? 0))
            }
            let joinable = try await TestClient.withClient(host: "localhost", port: port, configuration: .patient) {
                client in
                try await client.get("/api/rooms", host: "localhost")
            }
            #expect(String(buffer: joinable.body!) == "[]")

            host.send([
                "type": "player_state",
                "state": ["x": 12.3456, "y": 7, "velocity_x": -0.005, "player_id": room.guestID],
            ])
            let update = try await guest.expect("player_state_update")
            #expect(update["player_id"] as? String == room.hostID)
            let state = try #require(update["state"] as? [String: Any])
            #expect(state["x"] as? Double == 12.35)
            #expect(state["y"] as? Int == 7)
            #expect(state["player_id"] == nil)

            host.send(["type": "ping"])
            try await host.expect("pong")  // the sender got no echo of its own player_state
            #expect(registry.count == 1)
        }
    }

    @Test("GET /api/rooms lists a lobby room with a free seat, and no longer once it is full")
    func joinableRoomsOverHTTP() async throws {
        try await withRelayServer { port, _ in
            let joinable = {
                let answer = try await TestClient.withClient(host: "localhost", port: port, configuration: .patient) {
                    client in
                    try await client.get("/api/rooms", host: "localhost")
                }
                let body = try #require(answer.body)
                return try #require(try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [[String: Any]])
            }
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Lobby")
            let listed = try await joinable()
            #expect(listed.map { $0["room_id"] as? String } == [code])
            #expect(listed.first?["room_name"] as? String == "Lobby")
            #expect(listed.first?["player_count"] as? Int == 1)
            #expect(listed.first?["max_players"] as? Int == 2)
            #expect(listed.first?["game_started"] as? Bool == false)

            let guest = TestSocket.connect(port: port)
            guest.send(["type": "join_room", "room_id": code, "player_name": "Guest"])
            try await guest.skip(until: "room_joined")
            #expect(try await joinable().isEmpty)
        }
    }

    @Test("Two players collecting the same coin at once: exactly one item_collected")
    func collectRace() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await Self.openRoom(port, host: host, guest: guest)
            for round in 0..<20 {
                let coin = "coin_\(round)"
                host.send(["type": "collect_item", "item_type": "coin", "item_id": coin])
                guest.send(["type": "collect_item", "item_type": "coin", "item_id": coin])
                var refused = 0
                for socket in [host, guest] {
                    // Both see the one win; the loser's refusal arrives before its pong.
                    socket.send(["type": "ping"])
                    var sawWin = false
                    while true {
                        let message = try await socket.next()
                        switch message["type"] as? String {
                        case "item_collected":
                            #expect(!sawWin, "only one item_collected")
                            #expect(message["item_id"] as? String == coin)
                            sawWin = true
                        case "item_already_collected": refused += 1
                        case "pong" where sawWin: break
                        case "pong": continue
                        default: Issue.record("unexpected \(message)")
                        }
                        if message["type"] as? String == "pong", sawWin { break }
                    }
                }
                #expect(refused == 1, "exactly one loser")
            }
        }
    }

    /// The room takes a `time_sync`'s id and queues its answer in one step: a broadcast with a
    /// later id (an `entities_sync` the host sent meanwhile) once overtook the answer on its way.
    @Test("A player gets the room's sequence ids in order: time_sync answers and broadcasts alike")
    func sequenceIDsArriveInOrder() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await Self.openRoom(port, host: host, guest: guest)
            let (rounds, timeSyncsPerRound) = (10, 40)  // one sync_entities a round: the room takes 10 a second
            for round in 0..<rounds {
                // The sync comes while the guest's reader is busy answering time_syncs.
                for index in 0..<timeSyncsPerRound {
                    guest.send(["type": "time_sync", "client_time": round])
                    if index == timeSyncsPerRound / 2 {
                        host.send(["type": "sync_entities", "enemies": [], "coins": []])
                    }
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            var ids: [Int] = []
            while ids.count < rounds * (timeSyncsPerRound + 1) {
                let message = try await guest.next()
                if let id = message["sequence_id"] as? Int { ids.append(id) }
            }
            #expect(ids == Array(1...ids.count), "\(zip(ids, ids.dropFirst()).filter { $0 >= $1 })")
        }
    }

    @Test("Host-only messages from a guest are refused; host hand-over when the host drops")
    func hostRules() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            guest.send(["type": "enemy_spawn", "enemy": ["enemy_type": "fly", "x": 1, "y": 2]])
            #expect(try await guest.expect("error")["code"] as? String == "not_host")
            guest.send(["type": "start_game"])
            #expect(try await guest.expect("error")["code"] as? String == "not_host")

            host.close()
            let dropped = try await guest.expect("player_disconnected")
            #expect(dropped["player_id"] as? String == room.hostID)
            #expect(dropped["can_reconnect"] as? Bool == true)
            #expect((dropped["room_info"] as? [String: Any])?["host_id"] as? String == room.guestID)
            guest.send(["type": "coin_spawn", "coin": ["x": 5, "y": 6]])
            #expect(try await guest.expect("coin_spawned")["coin"] != nil)
        }
    }

    @Test("A dropped player reconnects with the token from room_created, in the lobby")
    func reconnectInLobby() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            host.close()
            try await guest.expect("player_disconnected")

            let wrong = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            wrong.send(["type": "reconnect", "room_id": room.code, "player_id": room.hostID, "token": "nope"])
            #expect(try await wrong.expect("error")["code"] as? String == "reconnect_failed")

            let back = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            back.send(["type": "reconnect", "room_id": room.code, "player_id": room.hostID, "token": room.hostToken])
            let reconnected = try await back.expect("reconnected")
            #expect(reconnected["player_number"] as? Int == 1)
            #expect(reconnected["game_state"] is [String: Any])
            let newToken = try #require(reconnected["reconnect_token"] as? String)
            #expect(newToken != room.hostToken)
            try await back.expect("player_reconnected")
            let announcement = try await guest.expect("player_reconnected")
            #expect(announcement["player_id"] as? String == room.hostID)

            // The identity is bound: the reconnected socket speaks as the host.
            back.send(["type": "player_state", "state": ["x": 1]])
            #expect(try await guest.expect("player_state_update")["player_id"] as? String == room.hostID)
        }
    }

    @Test("A reconnect whose game_state is larger than the outbound queue's bytes still gets back in")
    func reconnectIntoALargeRoom() async throws {
        var limits = RelayLimits()
        limits.outboundQueueBytes = 4_096  // the room's state alone is past it
        try await Self.reconnectIntoALargeRoom(limits: limits)
    }

    @Test(
        "A reconnect whose game_state is past the queue's floor gets back in while slow clients fill the server's total"
    )
    func reconnectIntoALargeRoomWithTheServersTotalFull() async throws {
        var limits = RelayLimits()
        limits.outboundBytesEveryConnectionMayHold = 2_048  // the room's state alone is past it
        try await Self.reconnectIntoALargeRoom(limits: limits) { registry in
            // As stalled clients' backlogs would: the total is full.
            registry.outboundMemory.force(registry.outboundMemory.limit)
        }
    }

    /// A host drops from a room holding three enemies of 1.5 KB, `whileDropped` runs, and the host
    /// reconnects on a new socket: it gets its `reconnected` with the enemies, the room's
    /// `player_reconnected`, and answers after them.
    static func reconnectIntoALargeRoom(
        limits: RelayLimits, whileDropped: @escaping @Sendable (RoomRegistry) -> Void = { _ in }
    ) async throws {
        // One loop: the room's turn queues both the welcome and the announcement before the
        // reconnected socket's writer (on the same loop) can take the first.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        try await withRelayServer(limits: limits, eventLoopGroup: group) { port, registry in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            let padding = String(repeating: "p", count: 1_500)
            for index in 0..<3 {
                host.send(["type": "enemy_spawn", "enemy": ["enemy_id": "e\(index)", "enemy_type": padding]])
                try await host.expect("enemy_spawned")
            }
            host.close()
            try await guest.skip(until: "player_disconnected")
            whileDropped(registry)
            let back = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            back.send(["type": "reconnect", "room_id": room.code, "player_id": room.hostID, "token": room.hostToken])
            let reconnected = try await back.expect("reconnected")
            let enemies = (reconnected["game_state"] as? [String: Any])?["enemies"] as? [Any]
            #expect(enemies?.count == 3)
            try await back.expect("player_reconnected")
            back.send(["type": "ping"])
            try await back.expect("pong")
        }
    }

    @Test("A reconnect naming the player in another Unicode form speaks under the member's own id")
    func reconnectBindsTheMembersOwnID() async throws {
        try await withRelayServer { port, _ in
            let composed = "\u{E9}"  // é as one code point; "e\u{301}" is the same to Swift's ==
            let host = TestSocket.connect(port: port)
            host.send(raw: #"{"type":"create_room","player_name":"Host","player_id":"\#(composed)"}"#)
            try await host.expect("player_joined")
            let created = try await host.expect("room_created")
            let code = try #require(created["room_id"] as? String)
            let token = try #require(created["reconnect_token"] as? String)
            let guest = TestSocket.connect(port: port, path: "/ws/room/\(code)")
            guest.send(["type": "join_room", "player_name": "Guest"])
            try await guest.expect("player_joined")
            try await guest.expect("room_joined")
            try await host.expect("player_joined")
            host.close()
            try await guest.expect("player_disconnected")

            let back = TestSocket.connect(port: port, path: "/ws/room/\(code)")
            back.send(raw: #"{"type":"reconnect","room_id":"\#(code)","player_id":"e\u0301","token":"\#(token)"}"#)
            try await back.expect("reconnected")
            try await guest.expect("player_reconnected")
            back.send(["type": "chat", "message": "back"])
            let chat = try await guest.expect("chat")
            // Code points, not String ==: the guest's client compares ids by code unit.
            #expect((chat["player_id"] as? String).map { Array($0.unicodeScalars) } == Array(composed.unicodeScalars))
        }
    }

    @Test("After the reconnect window the dropped player is gone")
    func reconnectWindowExpires() async throws {
        var limits = RelayLimits()
        limits.reconnectWindow = .milliseconds(300)
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            host.close()  // the player whose token the test holds
            try await guest.expect("player_disconnected")
            let left = try await guest.expect("player_left")
            #expect(left["can_reconnect"] as? Bool == false)
            #expect((left["room_info"] as? [String: Any])?["player_count"] as? Int == 1)

            // With the token that was good until the window ended.
            let late = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            late.send(["type": "reconnect", "player_id": room.hostID, "token": room.hostToken])
            #expect(try await late.expect("error")["code"] as? String == "reconnect_failed")
        }
    }

    @Test("leave_room: the others get player_left, the leaver room_left, the room frees the slot")
    func leaveRoom() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await Self.openRoom(port, host: host, guest: guest)
            guest.send(["type": "leave_room"])
            try await guest.expect("room_left")
            let left = try await host.expect("player_left")
            #expect(left["player_id"] as? String == room.guestID)
            #expect(left["can_reconnect"] as? Bool == false)
            guest.send(["type": "player_state", "state": ["x": 1]])
            #expect(try await guest.expect("error")["code"] as? String == "not_in_room")

            let newcomer = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            newcomer.send(["type": "join_room", "player_name": "Third"])
            try await newcomer.expect("player_joined")
            #expect(try await newcomer.expect("room_joined")["player_number"] as? Int == 2)
        }
    }

    @Test("1,000 rooms created and abandoned leave the registry empty after the window")
    func abandonedRoomsDisappear() async throws {
        var limits = RelayLimits()
        limits.reconnectWindow = .milliseconds(200)
        try await withRelayServer(limits: limits) { port, registry in
            for batch in 0..<20 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<50 {
                        group.addTask {
                            let socket = TestSocket.connect(port: port)
                            socket.send(["type": "create_room", "room_name": "r\(batch)-\(index)", "player_name": "p"])
                            try await socket.skip(until: "room_created")
                            socket.close()
                            _ = try await socket.closeCode()
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await eventually { registry.count == 0 }
            #expect(registry.count == 0)
        }
    }
}

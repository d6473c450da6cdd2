import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import RecordedLogs
import Relay
import Testing

@testable import RelayServer

/// Bad input, floods, oversized frames, foreign origins and clients that stop reading.
@Suite("Relay under bad input")
struct RelayAbuseTests {
    private func expectError(
        _ socket: TestSocket, _ code: String, sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws
    {
        let error = try await socket.expect("error", sourceLocation: sourceLocation)
        #expect(error["code"] as? String == code, sourceLocation: sourceLocation)
        #expect(error["message"] is String, sourceLocation: sourceLocation)
    }

    @Test("Every kind of bad message gets an error with a stable code, and the connection stays open")
    func badMessagesKeepTheConnection() async throws {
        try await withRelayServer { port, _ in
            let socket = TestSocket.connect(port: port)
            let cases: [(String, String)] = [
                ("{not json", "invalid_json"), ("[1,2]", "invalid_message"), ("\"text\"", "invalid_message"),
                ("{}", "missing_type"), ("{\"type\":5}", "missing_type"), ("{\"type\":\"teleport\"}", "unknown_type"),
                ("{\"type\":\"player_state\",\"state\":{}}", "not_in_room"),
                ("{\"type\":\"create_room\",\"player_name\":5}", "invalid_field"),
                ("{\"type\":\"create_room\",\"player_name\":\"a\",\"max_players\":99}", "invalid_field"),
                ("{\"type\":\"create_room\",\"player_name\":\"x\\ud800\"}", "invalid_field"),
                // One Character of 320 code points: ids are counted as names are. (A combining
                // grapheme joiner after every 15 accents: runs of over 30 are refused outright.)
                (
                    "{\"type\":\"create_room\",\"player_name\":\"a\",\"player_id\":\"a"
                        + String(repeating: "\u{0301}", count: 15)
                        + String(repeating: "\u{034F}" + String(repeating: "\u{0301}", count: 15), count: 19) + "\"}",
                    "too_long"
                ),
                (
                    "{\"type\":\"create_room\",\"player_name\":\"a\",\"player_id\":\"a"
                        + String(repeating: "\u{0301}", count: 300) + "\"}", "invalid_field"
                ),
                ("{\"type\":\"time_sync\",\"client_time\":NaN}", "invalid_json"),
                ("{\"type\":\"time_sync\",\"client_time\":1e999}", "invalid_json"),
                // The old server's `json.loads` of a frame's text refused a byte-order mark (an HTTP
                // body's bytes it skipped, as RequestBodyFields does).
                ("\u{FEFF}{\"type\":\"ping\"}", "invalid_json"),
                ("{\"type\":\"time_sync\",\"client_time\":\"soon\"}", "invalid_field"),
            ]
            for (text, code) in cases {
                socket.send(raw: text)
                try await self.expectError(socket, code)
            }
            socket.sendBinary([1, 2, 3])
            try await self.expectError(socket, "invalid_message")
            socket.send(["type": "ping"])
            try await socket.expect("pong")
        }
    }

    @Test("Wrong field types inside a room are refused without relaying anything")
    func fieldTypesInRoom() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            // Each with the code PROTOCOL.md §3 / the README give it, so a refusal for another reason fails.
            let bad: [([String: Any], String)] = [
                (["type": "player_state", "state": "moving"], "invalid_field"),
                (["type": "player_state", "state": ["x": "left"]], "invalid_field"),
                (["type": "player_ready", "is_ready": "yes"], "invalid_field"),
                (["type": "chat", "message": 42], "invalid_field"),
                (["type": "game_action", "action": "jump", "data": [1, 2]], "invalid_field"),
                (["type": "enemy_state", "enemy_id": 7, "state": [:]], "invalid_field"),
                (["type": "collect_item", "item_type": "gem", "item_id": "g1"], "invalid_field"),
                (["type": "chat", "message": String(repeating: "a", count: 501)], "too_long"),
                // Every room_info lists each player's skin: at most 64 code points, ASCII (the
                // in-place path) or not (the general one).
                (["type": "player_state", "state": ["x": 1, "skin": String(repeating: "s", count: 65)]], "too_long"),
                (["type": "player_state", "state": ["weapon": String(repeating: "é", count: 65)]], "too_long"),
                (
                    ["type": "reconnect", "room_id": room.code, "player_id": room.guestID, "token": "x"],
                    "already_in_room"
                ),
            ]
            for (message, code) in bad {
                guest.send(message)
                try await self.expectError(guest, code)
            }
            host.send(["type": "ping"])
            try await host.expect("pong")  // the host received none of the refused messages
        }
    }

    @Test("No entity grows past its byte cap: a refused enemy_state is not relayed, nor kept for the next sync")
    func entitiesStayBounded() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            let oversized = ["enemy_id": "e1", "enemy_type": String(repeating: "b", count: 2_100)]
            host.send(["type": "enemy_spawn", "enemy": oversized])
            try await self.expectError(host, "limit_exceeded")
            host.send(["type": "enemy_spawn", "enemy": ["enemy_id": "e1"]])
            try await host.expect("enemy_spawned")
            try await guest.expect("enemy_spawned")
            // The old server kept every key an enemy_state named: each one a new key of 900 bytes.
            let padding = String(repeating: "p", count: 900)
            for key in ["k0", "k1"] {
                host.send(["type": "enemy_state", "enemy_id": "e1", "state": [key: padding]])
                try await guest.expect("enemy_state_update")
            }
            host.send(["type": "enemy_state", "enemy_id": "e1", "state": ["k2": padding]])
            let error = try await host.expect("error")
            #expect(error["code"] as? String == "limit_exceeded")
            #expect(error["message"] as? String == "Too many bytes in one enemy (limit 2048)")
            host.send(["type": "sync_entities", "enemies": [], "coins": []])
            let sync = try await guest.expect("entities_sync")  // and not the refused update before it
            let enemy = try #require((sync["enemies"] as? [[String: Any]])?.first)
            #expect(enemy["k1"] as? String == padding && enemy["k2"] == nil)
        }
    }

    @Test("An enemy id over 128 characters is refused in enemy_state and enemy_killed, not relayed or echoed")
    func longEnemyIDs() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            // ASCII, as the relay straight from the bytes takes only that; the longest is 256 bytes.
            let tooLong = String(repeating: "e", count: RoomState.maxEntityIDLength + 1)
            let longest = String(repeating: "\u{E9}", count: RoomState.maxEntityIDLength)
            // Straight from its bytes, then decoded (`state` before `enemy_id` takes the general path).
            for tooLongState in [
                #"{"type":"enemy_state","enemy_id":"\#(tooLong)","state":{"x":1}}"#,
                #"{"type":"enemy_state","state":{"x":1},"enemy_id":"\#(tooLong)"}"#,
            ] {
                guest.send(raw: tooLongState)
                try await self.expectError(guest, "too_long")
            }
            guest.send(["type": "enemy_killed", "enemy_id": tooLong])
            try await self.expectError(guest, "too_long")
            guest.send(["type": "enemy_state", "enemy_id": longest, "state": ["x": 1]])
            #expect(try await host.expect("enemy_state_update")["enemy_id"] as? String == longest)
            guest.send(["type": "enemy_killed", "enemy_id": longest])
            try await guest.expect("enemy_already_dead")
        }
    }

    @Test("A full room's entities_sync answers are budgeted: the next comes back rate_limited, and the room goes on")
    func syncAnswersAreBudgeted() async throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 5  // answers list 5 entities a second, a full room's 10 at once
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            for index in 0..<5 {
                host.send(["type": "enemy_spawn", "enemy": ["enemy_id": "e\(index)"]])
                host.send(["type": "coin_spawn", "coin": ["coin_id": "c\(index)"]])
            }
            _ = try await guest.skip(until: "coin_spawned")
            host.send(["type": "sync_entities", "enemies": [], "coins": []])
            host.send(["type": "sync_entities", "enemies": [], "coins": [["coin_id": "late"]]])
            host.send(["type": "ping"])
            let sync = try await guest.skip(until: "entities_sync")
            #expect((sync["enemies"] as? [Any])?.count == 5 && (sync["coins"] as? [Any])?.count == 5)
            let error = try await host.skip(until: "error")  // past the host's own spawn echoes
            #expect(error["code"] as? String == "rate_limited")
            try await host.expect("pong")
            guest.send(["type": "ping"])
            try await guest.expect("pong")  // the refused sync sent the guest nothing
        }
    }

    @Test("A client cannot speak for another player or reuse a taken player_id")
    func spoofedIdentity() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            guest.send(["type": "player_state", "player_id": room.hostID, "state": ["x": 3, "player_id": room.hostID]])
            let update = try await host.expect("player_state_update")
            #expect(update["player_id"] as? String == room.guestID)

            let impostor = TestSocket.connect(port: port, path: "/ws/room/\(room.code)")
            impostor.send(["type": "join_room", "player_name": "Mallory", "player_id": room.hostID])
            try await self.expectError(impostor, "duplicate_player_id")
        }
    }

    /// Timed by `InboundMessageTests.overLongFlagNamesAreRefusedInLinearTime`, not here: over
    /// 64 KB frames a debug build on a loaded machine may take seconds anyway.
    @Test("64 KB names of flag letters are refused with too_long, and the connection goes on")
    func overLongFlagNames() async throws {
        try await withRelayServer { port, _ in
            let socket = TestSocket.connect(port: port)
            let flags = String(repeating: "\u{1F1E6}", count: 16_000)  // trimming them took a loop 1 s
            socket.send(["type": "create_room", "player_name": flags])
            try await self.expectError(socket, "too_long")
            socket.send(["type": "create_room", "player_name": "a", "room_name": " \(flags) "])
            try await self.expectError(socket, "too_long")
            socket.send(["type": "ping"])
            try await socket.expect("pong")
        }
    }

    @Test("A client that creates rooms and hangs up cannot lock anyone out of creating one")
    func vacantRoomsMakeWay() async throws {
        var limits = RelayLimits()
        limits.maxRooms = 20
        let maxRooms = limits.maxRooms
        try await withRelayServer(limits: limits) { port, registry in
            var rooms: [GameRoom] = []
            for index in 0..<maxRooms {
                let attacker = TestSocket.connect(port: port)
                attacker.send(["type": "create_room", "player_name": "bot\(index)"])
                let created = try await attacker.skip(until: "room_created")
                let code = try #require(created["room_id"] as? String)
                rooms.append(try #require(registry.room(code: code)))
                attacker.close()
                _ = try? await attacker.closeCode()
            }
            for room in rooms { try await eventually { await room.connectionCount == 0 } }
            let player = TestSocket.connect(port: port)
            player.send(["type": "create_room", "player_name": "Alice"])
            try await player.expect("player_joined")
            try await player.expect("room_created")
            #expect(registry.count == maxRooms)
            #expect(registry.room(code: rooms[0].code) == nil)  // vacant longest
        }
    }

    /// Rooms held open are not vacant, and never make way: a few addresses each holding as many
    /// as they liked could hold every room the server allows.
    @Test("An address has at most its limit of rooms open that it created; others still create theirs")
    func roomsPerAddress() async throws {
        var limits = RelayLimits()
        limits.maxRoomsPerAddress = 2
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await withRelayServer(limits: limits, logger: logger) { port, registry in
            // Clients named by the loopback proxy, which is trusted: counted by the address it names.
            func client(_ address: String) -> TestSocket {
                var headers = HTTPFields()
                headers[HTTPField.Name("X-Forwarded-For")!] = address
                return TestSocket.connect(port: port, headers: headers)
            }
            var held: [TestSocket] = []
            for index in 0..<2 {
                let socket = client("192.0.2.1")
                socket.send(["type": "create_room", "player_name": "bot\(index)"])
                _ = try await socket.skip(until: "room_created")
                held.append(socket)
            }
            let third = client("192.0.2.1")
            third.send(["type": "create_room", "player_name": "bot2"])
            try await self.expectError(third, "limit_exceeded")
            third.send(["type": "ping"])
            try await third.expect("pong")
            let warning = records.entries.first { $0.message == "rooms.per_address_limit" }
            #expect(warning?.level == .warning)
            #expect(warning?.metadata["client.address"] == "192.0.2.1")
            let other = client("192.0.2.2")
            other.send(["type": "create_room", "player_name": "Alice"])
            _ = try await other.skip(until: "room_created")
            #expect(registry.roomsOpen(createdBy: "192.0.2.1") == 2)
            // A room closed (its only player left) frees its place.
            held[0].send(["type": "leave_room"])
            try await eventually { registry.roomsOpen(createdBy: "192.0.2.1") == 1 }
            third.send(["type": "create_room", "player_name": "bot2"])
            _ = try await third.skip(until: "room_created")
        }
    }

    @Test("An oversized frame closes that connection with 1009; the room goes on")
    func oversizedFrame() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 4096
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            guest.send(["type": "chat", "message": String(repeating: "x", count: 5000)])
            #expect(try await guest.closeCode() == 1009)
            try await host.expect("player_disconnected")
            host.send(["type": "ping"])
            try await host.expect("pong")
        }
    }

    /// 5 messages a second, in bursts of 5; a connection closed once `closingAfter` more are limited.
    static func floodLimits(closingAfter threshold: Int) -> RelayLimits {
        var limits = RelayLimits()
        limits.messagesPerSecond = 5
        limits.messageBurst = 5
        limits.floodCloseThreshold = threshold
        return limits
    }

    @Test("A flood gets rate_limited, then a 1008 close")
    func flood() async throws {
        try await withRelayServer(limits: Self.floodLimits(closingAfter: 40)) { port, _ in
            let socket = TestSocket.connect(port: port)
            let started = ContinuousClock.now
            for _ in 0..<100 { socket.send(["type": "ping"]) }
            var pongs = 0
            var limited = 0
            while let message = try? await socket.next() {  // until the 1008 close ends the stream
                switch message["type"] as? String {
                case "pong": pongs += 1
                case "error" where message["code"] as? String == "rate_limited": limited += 1
                default: Issue.record("unexpected \(message)")
                }
            }
            // The burst, and what the budget refilled meanwhile (a slow machine's seconds included).
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            #expect(pongs >= 5 && Double(pongs) <= 5 + 5 * elapsed + 1, "\(pongs) pongs in \(elapsed) s")
            #expect(limited >= 1)
            let code = try await socket.closeCode()
            #expect(code == 1008)
        }
    }

    @Test("Connections closed for flooding are logged as a notice at most every 10 s, the others at debug")
    func floodClosesAreLoggedSparingly() async throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await withRelayServer(
            limits: Self.floodLimits(closingAfter: 10), logger: logger,
            configure: { $0.repeatedCloseLogInterval = .seconds(3600) }  // a loaded run took over 10 s
        ) { port, _ in
            for _ in 0..<2 {
                let socket = TestSocket.connect(port: port)
                for _ in 0..<40 { socket.send(["type": "ping"]) }
                while (try? await socket.next()) != nil {}
                let code = try await socket.closeCode()
                #expect(code == 1008)
            }
        }
        let flooding = records.entries.filter { $0.message == "relay.connection.flooding" }
        #expect(flooding.map(\.level) == [.notice, .debug])
    }

    @Test(
        "The game's own traffic is never rate limited: a host's player_state at 60 Hz and 15 enemies' states at 20 Hz")
    func gameTrafficIsNotLimited() async throws {
        try await withRelayServer { port, _ in  // default limits
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            // Two seconds as the client paces it (OnlinePlayerManager: state every 16 ms, every
            // tracked enemy every 50 ms): 720 messages, which the old 120/s limit cut after ~480.
            let ticks = 40
            for tick in 0..<ticks {
                for step in 0..<3 { host.send(["type": "player_state", "state": ["x": tick * 3 + step, "y": 550]]) }
                for enemy in 0..<15 {
                    host.send(["type": "enemy_state", "enemy_id": "enemy_\(enemy)", "state": ["x": tick, "y": 400]])
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            for _ in 0..<ticks * 18 {
                let type = try await guest.next()["type"] as? String
                #expect(type == "player_state_update" || type == "enemy_state_update", "\(type ?? "?")")
            }
            host.send(["type": "ping"])
            try await host.expect("pong")  // no rate_limited error came first
        }
    }

    @Test("State relays past their budget are shed silently; the one-off messages among them all get through")
    func stateRelaysAreShedNotTheRest() async throws {
        var limits = RelayLimits()
        limits.stateMessagesPerSecond = 1  // as a long game's host outgrowing the default 10,000;
        limits.stateMessageBurst = 50  // refilling slowly, so a slow machine still sheds most
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            for item in 0..<10 {
                for enemy in 0..<50 {
                    // Written out, as a dictionary's member order changes from run to run: half
                    // as the game writes them, half with `type` last as other clients may.
                    host.send(
                        raw: enemy.isMultiple(of: 2)
                            ? #"{"type":"enemy_state","enemy_id":"enemy_\#(enemy)","state":{"x":\#(item)}}"#
                            : #"{"enemy_id":"enemy_\#(enemy)","state":{"x":\#(item)},"type":"enemy_state"}"#)
                }
                host.send(["type": "collect_item", "item_type": "coin", "item_id": "coin_\(item)"])
            }
            host.send(["type": "ping"])
            var collected: [String] = []
            while true {
                let message = try await host.next()
                let type = try #require(message["type"] as? String)
                if type == "pong" { break }
                #expect(type == "item_collected", "\(message)")  // no rate_limited error
                if let id = message["item_id"] as? String { collected.append(id) }
            }
            #expect(collected == (0..<10).map { "coin_\($0)" })
            // Everything relayed comes before the last item_collected (one reader, in order).
            var relayed = 0
            while true {
                let message = try await guest.next()
                if message["type"] as? String == "item_collected", message["item_id"] as? String == "coin_9" { break }
                if message["type"] as? String == "enemy_state_update" { relayed += 1 }
            }
            #expect(relayed >= 50 && relayed < 250, "\(relayed) of 500 enemy states relayed")
        }
    }

    @Test("Past its byte rate a connection is read more slowly, and nothing it sent is refused")
    func bytesPastTheRatePauseReading() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 1_024
        limits.inboundBytesPerSecond = 4_096
        limits.inboundByteBurst = 1_024
        let pings = 400
        let earliest = Double(pings * 21 - limits.inboundByteBurst) / Double(limits.inboundBytesPerSecond)
        try await withRelayServer(limits: limits) { port, _ in
            let start = ContinuousClock.now  // before the connection's byte budget starts
            let client = TestSocket.connect(port: port)
            // ~8 KB of pings at once: eight times the burst, two seconds' worth. Each is answered,
            // none refused (the connection's message budget has room for them all).
            for _ in 0..<pings { client.send(["type": "ping"]) }
            for index in 0..<pings {
                let answer = try await client.next(timeout: .seconds(30))
                #expect(answer["type"] as? String == "pong", "answer \(index): \(answer)")
            }
            // The next read waits until what was read is paid for: a ping is 15 bytes, in a
            // masked frame of 21, so the rate after the burst makes that ~1.8 s after the start at
            // the earliest, however the reads fell.
            client.send(["type": "ping"])
            _ = try await client.expect("pong", timeout: .seconds(30))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .seconds(earliest * 0.9), "answered after \(elapsed)")
            // Another connection has its own budget.
            let other = TestSocket.connect(port: port)
            other.send(["type": "ping"])
            _ = try await other.expect("pong")
        }
    }

    @Test("Each JSON value of a decoded message costs its connection's byte budget too")
    func decodedValuesSpendTheByteBudget() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 8_192
        limits.inboundByteBurst = 8_192
        limits.inboundBytesPerSecond = 65_536
        limits.inboundBytesPerDecodedValue = 32
        let values = 2_000
        // The chat below is ~4 KB, within the burst; its 2,000 values cost ~63,000 bytes more, so
        // the next read waits until ~0.84 s after the start at the earliest.
        let earliest =
            Double(limits.bytesCharged(forDecodedValues: values) - limits.inboundByteBurst)
            / Double(limits.inboundBytesPerSecond)
        try await withRelayServer(limits: limits) { port, _ in
            let start = ContinuousClock.now  // before the connection's byte budget starts
            let client = TestSocket.connect(port: port)
            _ = try await client.createRoom(named: "Pad")
            // The object, `type`, `message`, the array and its elements.
            client.send(["type": "chat", "message": "hi", "pad": Array(repeating: 0, count: values - 4)])
            _ = try await client.expect("chat")
            // The read after the chat's may have been asked for before the reader charged it: a
            // ping may get in; the next waits.
            for _ in 0..<2 {
                client.send(["type": "ping"])
                _ = try await client.expect("pong", timeout: .seconds(30))
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .seconds(earliest * 0.9), "answered after \(elapsed)")
        }
    }

    @Test("A message's first values are paid for by its bytes; each past them costs the set price")
    func valuesPastTheAllowanceCost() {
        var limits = RelayLimits()
        let paid = RelayLimits.decodedValuesPaidByBytes
        #expect(paid >= 16)  // a game's messages have fewer values: play is never charged
        #expect(
            [0, 1, paid, paid + 1, paid + 100].map { limits.bytesCharged(forDecodedValues: $0) } == [
                0, 0, 0, 64, 6_400,
            ])
        limits.inboundBytesPerDecodedValue = 10
        #expect(limits.bytesCharged(forDecodedValues: paid + 3) == 30)
    }

    @Test("Browser upgrades from a foreign Origin are refused; allowed, same-origin, non-browser and no Origin connect")
    func originCheck() async throws {
        try await withRelayServer { port, _ in
            // A refused upgrade is answered 403, as the plain GET below; the same request from an
            // allowed Origin gets 101, so the Origin is what is refused.
            for origin in ["http://evil.example", "http://127.0.0.1:1", "null"] {
                let refusal = await StalledClient.refusal(
                    port: port, path: "/ws/room/new", extraHeaders: "Origin: \(origin)\r\n")
                #expect(refusal?.status == 403, "\(origin)")
                #expect(refusal?.header("Strict-Transport-Security") != nil, "\(origin)")
                #expect(refusal?.header("Connection") == "close", "\(origin)")  // the server ends it
                #expect(refusal?.header("Date").map(HTTPDateTests.isRecent) == true, "\(origin)")
                #expect(refusal?.body == #"{"detail":"WebSocket origin not allowed"}"#, "\(origin)")
            }
            _ = try await StalledClient.connect(
                port: port, path: "/ws/room/new", extraHeaders: "Origin: http://localhost:3000\r\n")
            _ = try await StalledClient.connect(port: port, path: "/ws/room/new")
            _ = try await StalledClient.connect(
                port: port, path: "/ws/room/new", extraHeaders: "Origin: http://127.0.0.1:\(port)\r\n")
            let refused = try await TestClient.withClient(host: "localhost", port: port, configuration: .patient) {
                client in
                try await client.get("/ws/room/new", headers: [.origin: "http://evil.example"], host: "localhost")
            }
            #expect(refused.status == .forbidden)

            let library = TestSocket.connect(port: port)  // a client library: sends Origin ws://localhost
            library.send(["type": "ping"])
            try await library.expect("pong")
        }
    }

    @Test("Same origin is the whole Host: an Origin that only begins with the server's host and port is refused")
    func sameOriginMeansTheWholeHost() async throws {
        try await withRelayServer { port, _ in
            for origin in ["http://127.0.0.1:\(port).evil.example", "https://127.0.0.1:\(port)0"] {
                let refusal = await StalledClient.refusal(
                    port: port, path: "/ws/room/new", extraHeaders: "Origin: \(origin)\r\n")
                #expect(refusal?.status == 403, "\(origin)")
            }
        }
    }

    @Test("A client that stops reading is dropped when its queue is full in frames; its room-mates get every update")
    func slowConsumer() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 64
        limits.outboundQueueBytes = .max  // the frames' limit alone
        limits.outboundQueueAgeLimit = .zero  // however long a loaded machine takes to fill it
        try await self.slowConsumerIsDropped(limits: limits)
    }

    @Test("A client that stops reading is dropped when its queue is full in bytes; its room-mates get every update")
    func slowConsumerByBytes() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 100_000
        limits.outboundQueueBytes = 256 * 1024  // 63 of the 4 KB updates below
        limits.outboundQueueAgeLimit = .zero  // however long a loaded machine takes to fill it
        try await self.slowConsumerIsDropped(limits: limits)
    }

    /// Its queue emptied, nothing is left to send a slow consumer but the close frame, behind
    /// what the socket holds: the player kept its seat, and the host's role, until the client
    /// answered the close or the drain gave up on it (a second without progress, by default).
    @Test("A slow consumer leaves its room when its queue overflows, not when its socket closes")
    func slowConsumerLeavesAtOnce() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 16
        limits.outboundQueueAgeLimit = .zero  // the overflow alone
        // The drain checks for progress every grace period: here the socket would stay open for minutes.
        limits.closeGracePeriod = .seconds(300)
        limits.closeDrainLimit = .seconds(600)
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Stalled")
            let stalled = try await StalledClient.joining(port: port, code: code)
            let stalledID = try #require(try await host.expect("player_joined")["player_id"] as? String)
            // 12 MB it never reads: far more than its socket holds and 16 frames.
            let padding = String(repeating: "p", count: 4000)
            for index in 0..<3_000 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
            let gone = try await host.skip(until: "player_disconnected", timeout: .seconds(120))
            #expect(gone["player_id"] as? String == stalledID)
            stalled.hangUp()  // else the server's stop would wait for it
        }
    }

    /// Has `host` send `count` updates of ~4 KB in batches that `reader` reads whole before the
    /// next, so that only a client that stopped reading falls behind, however loaded the machine,
    /// and checks their order. Whether `reader` heard of `stalledID`'s drop meanwhile.
    static func relayInBatches(
        host: TestSocket, reader: TestSocket, stalledID: String, count: Int, batch: Int
    ) async throws -> Bool {
        let padding = String(repeating: "p", count: 4000)
        var (received, sawDrop) = (0, false)
        for start in stride(from: 0, to: count, by: batch) {
            for index in start..<(start + batch) {
                host.send(["type": "player_state", "state": ["x": index, "pad": padding]])
            }
            while received < start + batch {
                let message = try await reader.next()
                switch message["type"] as? String {
                case "player_state_update":
                    #expect((message["state"] as? [String: Any])?["x"] as? Int == received)
                    received += 1
                case "player_disconnected":
                    #expect(message["player_id"] as? String == stalledID)
                    sawDrop = true
                default: Issue.record("unexpected \(message)")
                }
            }
        }
        return sawDrop
    }

    private func slowConsumerIsDropped(limits: RelayLimits) async throws {
        var limits = limits
        limits.messagesPerSecond = 1_000_000
        limits.messageBurst = 1_000_000
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30  // 12 MB sent as fast as the reader takes them
        limits.inboundByteBurst = 1 << 30
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let reader = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: reader, maxPlayers: 3)
            let stalled = try await StalledClient.connect(port: port, path: "/ws/room/\(room.code)")
            try stalled.send(#"{"type":"join_room","player_name":"Sleepy"}"#)
            let stalledID = try #require(try await host.expect("player_joined")["player_id"] as? String)
            try await reader.expect("player_joined")

            // 12 MB, in batches well within the reader's queue.
            let sawDrop = try await Self.relayInBatches(
                host: host, reader: reader, stalledID: stalledID, count: 3000, batch: 50)
            if !sawDrop {
                #expect(try await reader.expect("player_disconnected")["player_id"] as? String == stalledID)
            }
            #expect(try await host.skip(until: "player_disconnected")["player_id"] as? String == stalledID)
            withExtendedLifetime(stalled) {}
        }
    }
}

import SeededRandom
import Testing

@testable import Handlers
@testable import Relay

/// Thousands of random messages of every type from a few clients, most of them nearly right
/// (the fields the protocol names, some of the wrong kind, some missing, some extra), so they
/// reach deep into the handlers: every answer is a well-formed message, every error carries a
/// documented code (never `internal_error`), the rooms keep their rules, and the server still
/// serves a clean room afterwards. A failure names its seed and message, to replay: nothing
/// depends on the clock (no reconnect window runs out during a run) or on the server's random
/// room codes (rooms are picked by the order they were seen).
@Suite("random messages")
struct RandomMessageTests {
    /// The codes README documents for built-in types (plugins add their own; none run here).
    static let documentedCodes: Set<String> = [
        "invalid_json", "invalid_message", "missing_type", "unknown_type", "invalid_field", "too_long",
        "not_in_room", "already_in_room", "join_failed", "duplicate_player_id", "not_host", "start_failed",
        "game_already_started", "reconnect_failed", "rate_limited", "limit_exceeded", "server_full",
    ]

    @Test(arguments: [20_261_130, 7, 424_242] as [UInt64])
    func randomMessagesGetWellFormedAnswers(seed: UInt64) async throws {
        let harness = try Harness()
        var generator = MessageGenerator(seed: seed, types: harness.dispatcher.messageTypes)
        var seen: [String: Int] = [:]
        func deliver(_ text: String, from sender: TestClient, to clients: [TestClient], step: Int) async {
            await sender.send(text)
            for client in clients {
                for reply in await client.received() {
                    Self.check(reply, after: text, seed: seed, step: step)
                    generator.learn(from: reply)
                    seen[
                        reply.type == "error" ? "error " + (reply["code"]?.stringValue ?? "?") : reply.type ?? "?",
                        default: 0] += 1
                }
            }
        }

        // Three players in one room to start with, so most messages reach a room.
        var clients = [harness.client()]
        await deliver(
            #"{"type":"create_room","room_name":"r","player_name":"H","player_id":"host","max_players":3}"#,
            from: clients[0], to: clients, step: -1)
        let code = try #require(generator.roomCodes.first)
        for id in ["guest", "third"] {
            clients.append(harness.client(url: code))
            await deliver(
                #"{"type":"join_room","player_name":"G","player_id":"\#(id)"}"#, from: clients.last!, to: clients,
                step: -1)
        }

        for step in 0..<1_500 {
            // Now and then a client's socket closes; half the time its player comes back at once.
            if generator.chance(2) {
                let index = generator.index(clients.count)
                let membership = clients[index].session.membership
                if let membership {
                    await membership.room.drop(playerID: membership.playerID, connection: clients[index].connection)
                }
                clients[index] = harness.client(url: generator.chance(50) ? "new" : code)
                if let membership, generator.chance(50) {
                    let comeback = generator.reconnect(membership.playerID, to: membership.room.code)
                    await deliver(comeback, from: clients[index], to: clients, step: step)
                }
            }
            let sender = clients[generator.index(clients.count)]
            await deliver(
                generator.message(inRoom: sender.session.membership != nil), from: sender, to: clients, step: step)
            await Self.checkRules(of: generator.roomCodes, in: harness, "seed \(seed), step \(step)")
        }
        // Guards against a generator that only ever gets refused.
        for type in [
            "room_joined", "player_state_update", "game_action", "chat", "item_collected", "reconnected",
            "enemy_spawned", "enemy_killed", "error invalid_field", "error invalid_json", "error not_host",
        ] {
            #expect(seen[type, default: 0] > 0, "seed \(seed): no \(type) in \(seen.sorted { $0.key < $1.key })")
        }

        // The server still serves a clean room...
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"player_state","state":{"x":1.234}}"#)
        #expect(await host.received() == [["type": "player_state_update", "player_id": "guest", "state": ["x": 1.23]]])
        // ...and once every connected player leaves, only rooms kept for a dropped player's return
        // are left (their expiry is ReconnectTests' concern), with nobody connected in them.
        for client in clients + [host, guest] where client.session.membership != nil {
            await client.send(#"{"type":"leave_room"}"#)
        }
        for code in generator.roomCodes {
            guard let room = harness.registry.room(code: code) else { continue }
            let players = await room.state.players
            #expect(
                !players.isEmpty && players.allSatisfy { !$0.isConnected },
                "seed \(seed), room \(code): \(players.map(\.id))")
        }
    }

    /// A reply is a JSON object with a string `type`; an error has a documented code and a message.
    static func check(_ reply: JSONValue, after text: String, seed: UInt64, step: Int) {
        let context: Comment = "seed \(seed), step \(step): \(text) → \(reply)"
        guard let type = reply.type else {
            Issue.record("a reply without a string type; \(context)")
            return
        }
        guard type == "error" else { return }
        #expect(reply["code"]?.stringValue.map(Self.documentedCodes.contains) == true, context)
        #expect(reply["message"]?.stringValue?.isEmpty == false, context)
    }

    /// Every room still alive has a host among its players, no more players than it allows, and
    /// each player once. Checked after every message: a rule broken for a while shows.
    static func checkRules(of codes: [String], in harness: Harness, _ when: String) async {
        for code in codes {
            guard let room = harness.registry.room(code: code) else { continue }
            let state = await room.state
            let context: Comment = "\(when), room \(code): \(state.players.map(\.id)), host \(state.hostID)"
            #expect(state.players.count <= state.maxPlayers, context)
            #expect(state.maxPlayers <= harness.registry.limits.maxPlayersPerRoom, context)
            #expect(state.players.isEmpty || state.players.contains { $0.id == state.hostID }, context)
            #expect(Set(state.players.map(\.id)).count == state.players.count, context)
        }
    }
}

/// Random messages shaped like the protocol's. Remembers the room codes, player ids, tokens and
/// entity ids it has seen in replies, and reuses them, so joins, reconnects, kills and collects
/// sometimes succeed.
struct MessageGenerator {
    var random: SplitMix64
    let types: [String]
    /// In the order first seen (the codes themselves are random).
    private(set) var roomCodes: [String] = []
    private var playerIDs: [String] = ["host", "guest"]
    private var tokens: [String] = []
    private var tokenOfPlayer: [String: String] = [:]
    private var entityIDs: [String] = ["enemy_0", "coin_0"]

    init(seed: UInt64, types: [String]) {
        self.random = SplitMix64(seed: seed)
        self.types = types + ["teleport", ""]
    }

    /// The fields each type's handler reads (PROTOCOL.md §2), with a value of the right shape.
    private mutating func fields(of type: String) -> [(String, JSONValue)] {
        switch type {
        case "create_room":
            [
                ("room_name", self.name()), ("player_name", self.name()), ("player_id", self.playerID()),
                ("max_players", .integer(Int64(self.index(10)))),
            ]
        case "join_room": [("room_id", self.roomCode()), ("player_name", self.name()), ("player_id", self.playerID())]
        case "player_ready": [("is_ready", .bool(self.chance(50)))]
        case "player_state": [("state", self.entityState())]
        case "game_action":
            [
                ("action", self.chance(50) ? "assist" : self.name()),
                ("data", ["target_player_id": self.playerID(), "x": self.coordinate(), "y": self.coordinate()]),
            ]
        case "collect_item": [("item_type", self.chance(50) ? "coin" : "powerup"), ("item_id", self.entityID())]
        case "enemy_spawn":
            [
                (
                    "enemy",
                    [
                        "enemy_id": self.entityID(), "enemy_type": self.name(), "x": self.coordinate(),
                        "y": self.coordinate(),
                        "coin_reward": .integer(Int64(self.index(120)) - 10), "health": self.coordinate(),
                    ]
                )
            ]
        case "enemy_state": [("enemy_id", self.entityID()), ("state", self.entityState())]
        case "enemy_killed": [("enemy_id", self.entityID())]
        case "coin_spawn":
            [("coin", ["coin_id": self.entityID(), "x": self.coordinate(), "y": self.coordinate(), "value": 1])]
        case "powerup_spawn":
            [("powerup", ["powerup_id": self.entityID(), "type": self.name(), "x": self.coordinate()])]
        case "sync_entities":
            [
                (
                    "enemies",
                    .array((0..<self.index(4)).map { _ in ["enemy_id": self.entityID(), "x": self.coordinate()] })
                ),
                (
                    "coins",
                    .array((0..<self.index(4)).map { _ in ["coin_id": self.entityID(), "x": self.coordinate()] })
                ),
            ]
        case "chat": [("message", self.chance(90) ? self.name() : .string(String(repeating: "b", count: 501)))]
        case "reconnect": [("room_id", self.roomCode()), ("player_id", self.playerID()), ("token", self.token())]
        case "time_sync": [("client_time", self.coordinate())]
        default: [(self.name().stringValue ?? "k", self.anyValue())]
        }
    }

    /// One message: usually well-shaped, sometimes with a field of the wrong kind, missing or extra;
    /// now and then not JSON at all. A client outside a room mostly tries to get into one, and
    /// one inside leaves seldom, so that most messages reach a room.
    mutating func message(inRoom: Bool) -> String {
        if self.chance(3) {
            return self.pick(["{", "[]", "\"x\"", "{\"type\":1}", "{\"type\":\"chat\",\"message\":\"\\ud800\"}", "nul"])
        }
        var type = self.pick(self.types)
        if !inRoom, self.chance(70) { type = self.pick(["join_room", "join_room", "create_room", "reconnect"]) }
        if inRoom, type == "leave_room", self.chance(75) { type = "player_state" }
        var object: [String: JSONValue] = ["type": .string(type)]
        for (key, value) in self.fields(of: type) {
            if self.chance(8) { continue }
            object[key] = self.chance(12) ? self.anyValue() : value
        }
        if self.chance(10) { object[self.pick(["player_id", "x", "state", "type2", "room_id"])] = self.anyValue() }
        var writer = JSONWriter()
        writer.write(.object(object))
        return String(buffer: writer.buffer)
    }

    /// Remembers what a reply names, for later messages.
    mutating func learn(from reply: JSONValue) {
        if let code = reply["room_id"]?.stringValue, code.count == RoomRegistry.codeLength,
            !self.roomCodes.contains(code)
        {
            self.roomCodes.append(code)
        }
        if let token = reply["reconnect_token"]?.stringValue {
            self.tokens.append(token)
            if let id = reply["player_id"]?.stringValue { self.tokenOfPlayer[id] = token }
        }
        if let id = reply["player_id"]?.stringValue { self.playerIDs.append(id) }
        for key in ["enemy", "coin", "powerup"] {
            if let id = reply[key]?["\(key)_id"]?.stringValue { self.entityIDs.append(id) }
        }
    }

    /// A `reconnect` for `playerID` with the last token the server gave it.
    mutating func reconnect(_ playerID: String, to code: String) -> String {
        let message: JSONValue = [
            "type": "reconnect", "room_id": .string(code), "player_id": .string(playerID),
            "token": .string(self.tokenOfPlayer[playerID] ?? "none"),
        ]
        var writer = JSONWriter()
        writer.write(message)
        return String(buffer: writer.buffer)
    }

    mutating func chance(_ percent: UInt64) -> Bool { self.random.next() % 100 < percent }
    mutating func index(_ count: Int) -> Int { Int(self.random.next() % UInt64(count)) }
    mutating func pick<T>(_ items: [T]) -> T { items[self.index(items.count)] }

    private mutating func name() -> JSONValue {
        .string(self.pick(["Ann", "", "x", "  ", "名前", "a\"b\\c", String(repeating: "n", count: 33), "\u{1}\u{7F}"]))
    }
    private mutating func playerID() -> JSONValue { .string(self.pick(self.playerIDs + ["", "spoof"])) }
    private mutating func roomCode() -> JSONValue {
        .string(
            self.chance(80) && !self.roomCodes.isEmpty ? self.pick(self.roomCodes) : self.pick(["ZZZZZZ", "new", ""]))
    }
    private mutating func token() -> JSONValue { .string(self.pick(self.tokens + ["wrong"])) }
    private mutating func entityID() -> JSONValue { .string(self.pick(self.entityIDs + ["e\(self.index(5))"])) }

    private mutating func coordinate() -> JSONValue {
        switch self.index(4) {
        case 0: .integer(Int64(self.index(2_000)) - 1_000)
        case 1: .number(Double(Int64(bitPattern: self.random.next()) % 1_000_000) / 997)
        case 2: .number(self.pick([0, -0.0, 1e300, -1e-300, 0.005, 2.675]))
        default: .integer(Int64(bitPattern: self.random.next()))
        }
    }

    private mutating func entityState() -> JSONValue {
        var state: [String: JSONValue] = [:]
        for key in ["x", "y", "velocity_x", "health", "is_alive", "skin", "anim", "player_id"] where self.chance(50) {
            state[key] =
                self.chance(80) ? (key == "is_alive" ? .bool(self.chance(50)) : self.coordinate()) : self.anyValue()
        }
        return .object(state)
    }

    /// Any JSON value, nested at most three deep.
    private mutating func anyValue(depth: Int = 0) -> JSONValue {
        switch self.index(depth < 3 ? 8 : 6) {
        case 0: .null
        case 1: .bool(self.chance(50))
        case 2: self.coordinate()
        case 3: self.name()
        case 4: .string(String(repeating: "é", count: self.index(700)))
        case 5: .string("")
        case 6: .array((0..<self.index(4)).map { _ in self.anyValue(depth: depth + 1) })
        default:
            .object(Dictionary((0..<self.index(4)).map { ("k\($0)", self.anyValue(depth: depth + 1)) }) { a, _ in a })
        }
    }
}

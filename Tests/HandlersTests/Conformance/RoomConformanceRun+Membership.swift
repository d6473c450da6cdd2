@testable import Handlers
@testable import Relay

/// Creating, joining, readying, starting, leaving, dropping, reconnecting and windows ending.
extension RoomConformanceRun {
    func create() async throws {
        var index: Int? = nil
        if self.chance(20), let member = self.pickMember() { index = member.client }
        let client = index ?? self.maybeIdleClient() ?? self.newClient()
        if self.rooms.count >= 6 && self.clients[client].membership == nil && self.maxRooms == nil {
            return try await self.join()
        }
        let maxPlayers = self.pick([nil, 2, 3, 4] as [Int?])!
        let playerID = self.chance(60) ? self.freshID("p") : nil
        let name = self.freshID("n")
        let roomName = self.freshID("room")
        var message: [String: JSONValue] = [
            "type": "create_room", "room_name": .string(roomName), "player_name": .string(name),
        ]
        if let playerID { message["player_id"] = .string(playerID) }
        if let maxPlayers { message["max_players"] = .integer(Int64(maxPlayers)) }
        self.note("client \(client) \(JSONValue.object(message).text)")
        self.evictable = Dictionary(
            uniqueKeysWithValues: self.rooms.values.filter(\.isVacant).compactMap { room in
                self.harness.registry.room(code: room.code).map { (room.code, $0) }
            })
        try await self.send(.object(message), from: client)
        let received = await self.receiveAll()

        var expected: [Int: [Expected]] = [:]
        if let maxRooms = self.maxRooms, self.rooms.count >= maxRooms {
            // At the cap a sender nobody else connected is with leaves first (their room closes or
            // is vacant); then, still at the cap, the room vacant longest makes way; with none,
            // `server_full`.
            let membership = self.clients[client].membership
            let others = membership.flatMap { self.rooms[$0.code] }?.connected.filter { $0.id != membership?.playerID }
            if others?.isEmpty == true {
                self.leaveRoom(of: client, into: &expected)
                self.noteVacancies()
            }
            if self.rooms.count >= maxRooms {
                guard let vacant = self.longestVacantRoom else {
                    expected[client] = [.error("server_full")]
                    return try self.compare(received, expected)
                }
                self.evict(vacant)
            }
        }
        self.leaveRoom(of: client, into: &expected)
        self.noteVacancies()

        // The room's code (random) and the player's id (when not asked) come from the answer.
        let answer = received[client]?.last
        let code = answer?["room_id"]?.stringValue ?? "?"
        let id = playerID ?? answer?["player_id"]?.stringValue ?? "?"
        guard code.count == 6, code.allSatisfy(Self.codeAlphabet.contains), self.rooms[code] == nil else {
            throw self.mismatch("create_room answered room \(code)", received[client] ?? [])
        }
        let room = ModelRoom(code: code, name: roomName, maxPlayers: maxPlayers ?? 2, hostID: id)
        let player = ModelPlayer(id: id, name: name, number: 1)
        player.client = client
        player.token = answer?["reconnect_token"]?.stringValue
        room.players = [player]
        self.rooms[code] = room
        self.roomOrder.append(code)
        self.enter(client, room: room, as: id)
        self.tell("joined \(id)", about: room)
        expected[client, default: []] += [
            .message(
                "player_joined",
                [
                    "player_id": .string(id), "player_name": .string(name), "player_number": .int(1),
                    "room_info": room.info,
                ]),
            .message(
                "room_created",
                [
                    "room_id": .string(code), "player_id": .string(id), "player_number": .int(1),
                    "room_info": room.info,
                    "reconnect_token": .anyString,
                ]),
        ]
        try self.compare(received, expected)
    }

    private var longestVacantRoom: ModelRoom? {
        self.rooms.values.filter(\.isVacant).min { $0.vacantSince ?? .max < $1.vacantSince ?? .max }
    }

    /// The registry made way: every member was away, so nobody is told.
    private func evict(_ room: ModelRoom) {
        self.note("model: room \(room.code) evicted")
        for player in room.players {
            self.retireTokens(of: player, in: room)
            self.tell("left \(player.id)", about: room)
        }
        self.tell("closing", about: room)
        self.count("room evicted")
        if let evicted = self.evictable[room.code] { self.evicted.append(evicted) }
        self.forget(room)
    }

    func enter(_ client: Int, room: ModelRoom, as playerID: String) {
        self.clients[client].membership = (room.code, playerID)
        self.clients[client].toldNotInRoom = false
    }

    /// A `join_room` of some kind: to a room that takes the joiner, one full, started, vacant or
    /// unknown, the joiner's own room, or under a taken id.
    func join() async throws {
        let kind = self.pick(["open", "open", "open", "full", "started", "none", "own", "duplicate", "vacant"])!
        let rooms = self.roomOrder.compactMap { self.rooms[$0] }
        let client: Int
        let code: String
        switch kind {
        case "own":
            guard let member = self.pickMember() else { return try await self.create() }
            (client, code) = (member.client, member.room.code)
        case "none":
            code = String((0..<6).map { _ in self.pick(Self.codeAlphabet)! })
            guard self.rooms[code] == nil else { return }
            client = self.maybeIdleClient() ?? self.newClient(url: code)
        default:
            let candidates = rooms.filter { room in
                switch kind {
                case "open": room.acceptsJoiner && !room.isVacant
                case "full": !room.isStarted && !room.acceptsJoiner
                case "started": room.isStarted
                case "vacant": room.isVacant
                default: !room.players.isEmpty
                }
            }
            guard let target = self.pick(candidates) else { return try await self.create() }
            code = target.code
            let member = self.chance(25) ? self.pickMember() : nil
            client =
                member.flatMap { $0.room === target ? nil : $0.client } ?? self.maybeIdleClient()
                ?? self.newClient(url: code)
        }
        let target = self.rooms[code]
        let ownID = self.clients[client].membership?.playerID
        var playerID: String?
        if kind == "duplicate", let target {
            playerID = self.pick(target.players)?.id
        } else if kind == "own" && self.chance(30) {
            // Their own id, or another member's (a duplicate).
            playerID = self.chance(70) ? ownID : self.pick(target?.players ?? [])?.id
        } else if self.chance(50) {
            playerID = self.freshID("p")
        }
        let name = self.freshID("j")
        var message: [String: JSONValue] = ["type": "join_room", "player_name": .string(name)]
        if !(self.clients[client].url == code && self.chance(50)) { message["room_id"] = .string(code) }
        if let playerID { message["player_id"] = .string(playerID) }
        self.note("client \(client) join (\(kind)) \(JSONValue.object(message).text)")
        try await self.send(.object(message), from: client)
        let received = await self.receiveAll()

        var expected: [Int: [Expected]] = [:]
        guard let target else {
            expected[client] = [.error("join_failed")]
            return try self.compare(received, expected)
        }
        if let membership = self.clients[client].membership, membership.code == code {
            // Re-entering their own room: their seat is freed first, unless that costs the seat
            // (a started game) or the room (its only member).
            if target.isStarted || target.players.count <= 1 {
                expected[client] = [.error("already_in_room")]
                return try self.compare(received, expected)
            }
            if let playerID, playerID != membership.playerID, target.player(playerID) != nil {
                expected[client] = [.error("duplicate_player_id")]
                return try self.compare(received, expected)
            }
            self.count("own room re-entered")
        } else if let playerID, target.player(playerID) != nil {
            expected[client] = [.error("duplicate_player_id")]
            return try self.compare(received, expected)
        } else if !target.acceptsJoiner {
            expected[client] = [.error("join_failed")]
            return try self.compare(received, expected)
        }
        self.leaveRoom(of: client, into: &expected)
        if let away = target.memberMakingWay {
            self.count("dropped member made way")
            self.remove(away, from: target, clearingReadyFlags: false, into: &expected)
        }
        let id = playerID ?? received[client]?.last?["player_id"]?.stringValue ?? "?"
        let player = ModelPlayer(id: id, name: name, number: target.lowestFreeNumber)
        player.client = client
        player.token = received[client]?.last?["reconnect_token"]?.stringValue
        target.players.append(player)
        target.electHost()
        self.enter(client, room: target, as: id)
        self.tell("joined \(id)", about: target)
        let number = Expected.int(target.number(of: id))
        self.toRoom(
            target,
            .message(
                "player_joined",
                [
                    "player_id": .string(id), "player_name": .string(name), "player_number": number,
                    "room_info": target.info,
                ]),
            into: &expected)
        expected[client, default: []].append(
            .message(
                "room_joined",
                [
                    "room_id": .string(code), "player_id": .string(id), "player_number": number,
                    "room_info": target.info,
                    "reconnect_token": .anyString,
                ]))
        try self.compare(received, expected)
    }

    func ready() async throws {
        guard let (client, _, _) = self.pickMember() else { return try await self.create() }
        try await self.ready(client, explicitly: self.chance(60) ? self.chance(80) : nil)
    }

    /// `player_ready`, with `is_ready` or without (a toggle).
    func ready(_ client: Int, explicitly isReady: Bool?) async throws {
        let message = Self.playerReady(isReady)
        self.note("client \(client) \(message.text)")
        try await self.send(message, from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        self.readied(isReady, by: client, into: &expected)
        try self.compare(received, expected)
    }

    static func playerReady(_ isReady: Bool?) -> JSONValue {
        var message: [String: JSONValue] = ["type": "player_ready"]
        if let isReady { message["is_ready"] = .bool(isReady) }
        return .object(message)
    }

    /// What the room does with client `client`'s `player_ready`.
    func readied(_ isReady: Bool?, by client: Int, into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        player.isReady = isReady ?? !player.isReady
        self.toRoom(
            room,
            .message(
                "player_ready_changed",
                ["player_id": .string(player.id), "is_ready": .bool(player.isReady), "room_info": room.info]),
            into: &expected)
    }

    /// A member drops from a lobby that keeps two connected, the others get ready and the host
    /// starts: the dropped member is let go at the start.
    func dropFromALobbyThenStart() async throws {
        let lobbies = self.roomOrder.compactMap { self.rooms[$0] }.filter { !$0.isStarted && $0.connected.count >= 3 }
        guard let room = self.pick(lobbies), let away = self.pick(room.connected)?.client else {
            return try await self.readyAll()
        }
        try await self.drop(away)
        for player in room.connected { try await self.ready(player.client!, explicitly: true) }
        if let host = room.player(room.hostID), let client = host.client {
            try await self.start(client, host, in: room)
        }
    }

    /// Every connected member of a lobby gets ready, most often followed by the host's start.
    func readyAll() async throws {
        let lobbies = self.roomOrder.compactMap { self.rooms[$0] }.filter { !$0.isStarted && $0.connected.count >= 2 }
        // Most often one a member dropped from, if any: they leave as it starts.
        let withSomeoneAway = lobbies.filter { $0.players.count > $0.connected.count }
        guard let room = (self.chance(80) ? self.pick(withSomeoneAway) : nil) ?? self.pick(lobbies) else {
            return try await self.join()
        }
        for player in room.connected where !(player.isReady && self.chance(70)) {
            try await self.ready(player.client!, explicitly: self.chance(70) ? true : nil)
        }
        if self.chance(80), let host = room.player(room.hostID), let client = host.client {
            try await self.start(client, host, in: room)
        }
    }

    func start() async throws {
        guard let (client, room, player) = self.pickMember(host: self.chance(80) ? true : nil) else {
            return try await self.create()
        }
        try await self.start(client, player, in: room)
    }

    private func start(_ client: Int, _ player: ModelPlayer, in room: ModelRoom) async throws {
        self.note("client \(client) start_game (\(player.id) in \(room.code), host \(room.hostID))")
        try await self.send(["type": "start_game"], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        self.started(by: client, into: &expected)
        try self.compare(received, expected)
        try self.learnTheStart(of: room.code, from: received[client] ?? [])
    }

    /// What the room does with client `client`'s `start_game`.
    func started(by client: Int, into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        if room.hostID != player.id {
            expected[client, default: []].append(.error("not_host"))
        } else if room.isStarted {
            expected[client, default: []].append(.error("game_already_started"))
        } else if room.connected.count < 2 || !room.connected.allSatisfy(\.isReady) {
            expected[client, default: []].append(.error("start_failed"))
        } else {
            // Members dropped from the lobby leave at the start, the others' ready flags kept.
            for away in room.players where away.client == nil {
                self.count("dropped member let go at the start")
                self.remove(away, from: room, clearingReadyFlags: false, into: &expected)
            }
            room.isStarted = true
            let state = room.gameState(sequenceID: room.sequenceID)
            room.sequenceID += 1
            self.toRoom(
                room, .message("game_starting", ["sequence_id": .int(room.sequenceID), "game_state": state]),
                into: &expected)
        }
    }

    /// After a `game_starting` matched the model: the seed and the start's time it showed, the
    /// latter 500 ms after the server's time of the start (PROTOCOL.md).
    func learnTheStart(of code: String, from received: [JSONValue]) throws(Mismatch) {
        guard let room = self.rooms[code], room.isStarted, room.startTimestamp == nil,
            let gameState = received.last(where: { $0.type == "game_starting" })?["game_state"]
        else { return }
        room.learn(from: gameState)
        let serverTime = gameState["server_timestamp"]?.doubleValue ?? 0
        guard room.startTimestamp?.doubleValue == serverTime + 500 else {
            throw self.mismatch("game_start_timestamp is not server_timestamp + 500", received)
        }
    }

    /// `leave_room`: from a member most often, else from a client in no room.
    func leave() async throws {
        if self.chance(90), let member = self.pickMember() {
            return try await self.leave(member.client)
        }
        guard let client = self.pick(self.openClients.filter { self.clients[$0].membership == nil }) else { return }
        try await self.leave(client)
    }

    func leave(_ client: Int) async throws {
        try await self.play(self.leaving(client), noting: "leave_room")
    }

    /// What the room does with client `client`'s `leave_room`.
    func left(_ client: Int, into expected: inout [Int: [Expected]]) {
        if self.clients[client].membership != nil {
            self.leaveRoom(of: client, into: &expected)
            expected[client, default: []].append(.message("room_left"))
        } else {
            self.notInRoom(client, into: &expected)
        }
    }

    /// A member's socket closes without `leave_room`, as the server's socket handler reports it.
    func drop() async throws {
        // Half the time from a lobby that keeps two connected: a start then lets the dropped go.
        let fromLobby = self.roomOrder.compactMap { self.rooms[$0] }.filter { !$0.isStarted && $0.connected.count >= 3 }
            .flatMap(\.connected)
        guard let client = (self.chance(50) ? self.pick(fromLobby)?.client : nil) ?? self.pickMember()?.client else {
            return
        }
        try await self.drop(client)
    }

    func drop(_ client: Int) async throws {
        guard let (room, player) = self.member(client), self.harness.registry.room(code: room.code) != nil else {
            throw self.mismatch("client \(client) is in no live room", [])
        }
        try await self.play(self.dropping(client), noting: "drops (\(player.id) in \(room.code))")
    }

    /// What the room does when client `client`'s socket closes: its player is away (and may come
    /// back), the others are told, a lobby's ready flags are cleared.
    func dropped(_ client: Int, into expected: inout [Int: [Expected]]) {
        self.clients[client].isOpen = false
        guard let (room, player) = self.member(client) else { return }
        self.clients[client].membership = nil
        player.client = nil
        if !room.isStarted { room.clearReadyFlags() }
        room.electHost()
        self.tell("dropped \(player.id)", about: room)
        self.toRoom(room, room.departure("player_disconnected", of: player, canReconnect: true), into: &expected)
    }

    /// A dropped member's window ends.
    func expire() async throws {
        let away = self.roomOrder.compactMap { self.rooms[$0] }.flatMap { room in
            room.players.filter { $0.client == nil }.map { (room, $0) }
        }
        guard let (room, player) = self.pick(away) else { return }
        try await self.expire(player, of: room)
    }

    func expire(_ player: ModelPlayer, of room: ModelRoom) async throws {
        guard let server = self.harness.registry.room(code: room.code) else {
            throw self.mismatch("room \(room.code) is gone from the registry", [])
        }
        let step = self.windowEnding(of: player.id, in: server)
        try await self.play(step, noting: step.label)
    }

    /// What the room does when dropped member `playerID`'s reconnect window ends: they go for
    /// good, unless they came back first.
    func windowEnded(of playerID: String, in code: String, into expected: inout [Int: [Expected]]) {
        guard let room = self.rooms[code], let player = room.player(playerID), player.client == nil else { return }
        self.remove(player, from: room, clearingReadyFlags: false, into: &expected)
    }

    /// A `reconnect`: with the newest token, the one used last, a wrong or spent one, a departed
    /// player's, or a live player's (which replaces their connection).
    func reconnect() async throws {
        let kind = self.pick(["valid", "valid", "lastUsed", "lastUsed", "wrong", "departed", "live"])!
        let away = self.roomOrder.compactMap { self.rooms[$0] }.flatMap { room in
            room.players.filter { $0.client == nil }.map { (room, $0) }
        }
        let code: String
        let playerID: String
        let token: String?
        switch kind {
        case "valid", "lastUsed", "wrong":
            guard let (room, player) = self.pick(away) else { return }
            (code, playerID) = (room.code, player.id)
            if kind == "wrong" {
                token = self.chance(50) ? self.pick(player.spentTokens) ?? "bogus" : self.freshID("bogus")
            } else {
                token = kind == "valid" ? player.token : player.usedToken ?? player.token
            }
        case "departed":  // also of a player back under the same id, with new tokens
            guard let departed = self.pick(self.departedTokens) else { return }
            (code, playerID, token) = departed
        default:
            guard let (_, room, player) = self.pickMember() else { return }
            (code, playerID, token) = (room.code, player.id, player.token)
        }
        let client = self.maybeIdleClient() ?? self.newClient(url: code)
        let message = Self.reconnectMessage(code, playerID, token: token)
        let label =
            kind == "lastUsed" && self.rooms[code]?.player(playerID)?.usedToken == nil ? "lastUsed, none yet" : kind
        self.note("client \(client) reconnect (\(label)) \(message.text)")
        try await self.send(message, from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        self.reconnected(client, as: playerID, of: code, token: token, received: received, into: &expected)
        try self.compare(received, expected)
        self.rooms[code]?.learn(from: received[client]?.first?["game_state"])
    }

    static func reconnectMessage(_ code: String, _ playerID: String, token: String?) -> JSONValue {
        [
            "type": "reconnect", "room_id": .string(code), "player_id": .string(playerID),
            "token": token.map(JSONValue.string) ?? nil,
        ]
    }

    /// What the server does with client `client`'s `reconnect` as `playerID` of room `code`: with
    /// the newest token or the one used last, the player is back on this client (their old
    /// connection, if still open, replaced) with a new token; else `reconnect_failed`. A good
    /// token may be answered `rate_limited`, as `received` shows (the room's entity budget, which
    /// the `game_state` spends, is checked after the token: a bad one is refused as such). A
    /// replaced client must have been closed with 4001 (``compare(_:_:)``).
    func reconnected(
        _ client: Int, as playerID: String, of code: String, token: String?, received: [Int: [JSONValue]],
        into expected: inout [Int: [Expected]]
    ) {
        guard let room = self.rooms[code] else {
            expected[client, default: []].append(.error("reconnect_failed"))
            return
        }
        guard let player = room.player(playerID), let token, token == player.token || token == player.usedToken else {
            expected[client, default: []].append(.error("reconnect_failed"))
            return
        }
        if self.refusedByItsRate(received, client: client, "reconnect") {
            expected[client, default: []].append(.error("rate_limited"))
            return
        }
        let earlierTokens = Set(player.spentTokens + [player.token, player.usedToken].compactMap(\.self))
        if let old = player.client {
            self.count("connection replaced")
            self.clients[old].isOpen = false
            self.clients[old].membership = nil
            self.clients[old].wasReplaced = true
        }
        // The token used stays good until a newer one is used; the one before it is spent.
        if token != player.token { self.count("token used last accepted") }
        if token == player.token {
            if let used = player.usedToken { player.spentTokens.append(used) }
            player.usedToken = token
        } else if let newest = player.token {
            player.spentTokens.append(newest)
        }
        player.token = received[client]?.first?["reconnect_token"]?.stringValue
        player.client = client
        room.electHost()
        self.enter(client, room: room, as: playerID)
        self.tell("reconnected \(playerID)", about: room)
        expected[client, default: []].append(
            .message(
                "reconnected",
                [
                    "room_id": .string(code), "player_id": .string(playerID),
                    "player_number": .int(room.number(of: playerID)),
                    "game_state": room.gameState(sequenceID: room.sequenceID),
                    "reconnect_token": .satisfying("a new token") {
                        $0.stringValue.map { !earlierTokens.contains($0) } == true
                    },
                ]))
        self.toRoom(
            room,
            .message(
                "player_reconnected",
                ["player_id": .string(playerID), "player_name": .string(player.name), "room_info": room.info]),
            into: &expected)
    }
}

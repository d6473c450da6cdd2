@testable import Handlers
@testable import Relay

/// Two members of one room sending at the same instant, or one sending as another's connection
/// closes or comes back.
extension RoomConformanceRun {
    /// Two connected members of one room send at once: both collect one item, kill one enemy,
    /// leave or chat, the host starts as the other sets its ready flag or leaves, one kills an
    /// enemy the other moves or kills by `enemy_state`, the host assists a member who moves; or
    /// one member's socket closes as another sends one of eight messages
    /// (``anyMessage(from:in:)``); a reconnect's races are ``raceAReconnect()``'s. Each is
    /// handled in one call on the room's loop (the state relays' raw paths in place, or handed to
    /// the room's loop); only a leave's `room_left` and a refused reconnect's error come after
    /// it, to a client the room then tells nothing more. The room handles one, then the other, in
    /// either order: what every client received, both room lists and the room's observer events
    /// must be what the model gives for one of the two, each tried from the same saved model.
    func race() async throws {
        let rooms = self.roomOrder.compactMap { self.rooms[$0] }.filter { $0.connected.count >= 2 }
        guard let room = self.pick(rooms) else { return try await self.join() }
        let members = room.connected.shuffled(using: &self.random).map { $0.client! }
        let host = room.player(room.hostID)?.client ?? members[0]
        let other = members.first { $0 != host }!
        let pair: [Step]
        switch Int.random(in: 0..<10, using: &self.random) {
        case 0:
            let item = self.itemToCollect(in: room)
            pair = members.prefix(2).map { self.collecting(item, by: $0) }
        case 1:
            let enemyID = self.knownOrNewEnemy(in: room)
            pair = members.prefix(2).map { self.killing(enemyID, by: $0) }
        case 2: pair = [self.starting(by: host), self.readying(other)]
        case 3: pair = [self.starting(by: host), self.leaving(other)]
        case 4: pair = members.prefix(2).map(self.leaving)
        case 5:
            // A kill against a move or a death of the same enemy, which the state relays' raw path
            // handles (in place, or handed to the room's loop, as the socket reads it).
            let update = self.enemyUpdate(of: self.knownOrNewEnemy(in: room))
            pair = [self.killing(update.enemyID, by: members[0]), self.updating(update, by: members[1])]
        case 6: pair = members.prefix(2).map { self.chatting($0) }
        case 7:
            // The host moves a member (an `assist`) as that member moves: the later one stays.
            let otherID = self.clients[other].membership!.playerID
            pair = [self.acting(by: host, in: room, assisting: otherID), self.moving(other)]
        default:  // 8 and 9: twice as often, so that each order occurs in every test
            pair = self.eitherFirst([self.dropping(members[0]), self.anyMessage(from: members[1], in: room)])
            return try await self.race(pair, in: room.code, counting: ("drop", members[0]))
        }
        try await self.race(pair, in: room.code)
    }

    /// A reconnect racing something else (``reconnectRace()``), else another race.
    func raceAReconnect() async throws {
        guard let (pair, code, reconnect) = self.reconnectRace() else { return try await self.race() }
        try await self.race(pair, in: code, counting: reconnect)
    }

    /// A reconnect racing something else in its room: a dropped member's, as a connected member
    /// sends one of eight messages (most often); a dropped member's as their window ends (which
    /// the run ends, see ``RoomConformanceRun``); a dropped member's on two sockets at once (a
    /// client retrying); or a connected member's on a new socket as their old one closes (a phone
    /// that changed networks). Returns the race, its room, and the reconnect to count as handled
    /// first or second (``race(_:in:counting:)``); nil if there is no such room.
    private func reconnectRace() -> ([Step], String, (kind: String, client: Int))? {
        let rooms = self.roomOrder.compactMap { self.rooms[$0] }
        let kind = Int.random(in: 0..<20, using: &self.random)
        guard kind >= 5 else {
            guard let room = self.pick(rooms.filter { !$0.connected.isEmpty }), let player = self.pick(room.connected)
            else { return nil }
            let client = self.maybeIdleClient() ?? self.newClient(url: room.code)
            let pair = [
                self.reconnecting(on: client, as: player.id, of: room.code, token: player.token),
                self.dropping(player.client!),
            ]
            return (self.eitherFirst(pair), room.code, ("live reconnect", client))
        }
        // The others need someone away; a message, someone connected too.
        let candidates = rooms.filter { $0.players.count > $0.connected.count && (kind < 12 || !$0.connected.isEmpty) }
        guard let room = self.pick(candidates), let away = self.pick(room.players.filter { $0.client == nil }),
            let server = self.harness.registry.room(code: room.code)
        else { return nil }
        let code = room.code
        let token = self.chance(20) ? away.usedToken ?? away.token : away.token
        let client = self.maybeIdleClient() ?? self.newClient(url: code)
        let reconnecting = self.reconnecting(on: client, as: away.id, of: code, token: token)
        let (other, kindName) =
            switch kind {
            case ..<8:
                (
                    self.reconnecting(on: self.newClient(url: code), as: away.id, of: code, token: token),
                    "retried reconnect"
                )
            case ..<12: (self.windowEnding(of: away.id, in: server), "last-moment reconnect")
            default: (self.anyMessage(from: self.pick(room.connected)!.client!, in: room), "reconnect")
            }
        return (self.eitherFirst([reconnecting, other]), code, (kindName, client))
    }

    /// `pair` as drawn or the other way round, half the time each: which side starts first.
    private func eitherFirst(_ pair: [Step]) -> [Step] { self.chance(50) ? pair : pair.reversed() }

    /// Sends both sides of `pair` at once, then has the model follow the order the room took.
    /// For a drop or a reconnect (`counting`: its kind and client; its pair in either order,
    /// ``eitherFirst(_:)``), the second side starts at once or up to 2 ms later, and the order
    /// taken is counted: which a test may require was each way (the order drawn, when both give
    /// the same). A reconnect's path to its room is longer than a message's, a drop's or a
    /// window's end, so that without the head start it seldom came first.
    private func race(
        _ pair: [Step], in code: String, counting special: (kind: String, client: Int)? = nil
    ) async throws {
        let headStart = special == nil ? .zero : Duration.microseconds(self.pick([0, 0, 250, 1_000, 2_000])!)
        self.note("at once (the second \(headStart) later): \(pair.map(\.label).joined(separator: "; "))")
        let asTheSocketReads = !self.loops.isEmpty
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, racing) in pair.enumerated() {
                let pause = index == 0 ? .zero : headStart
                let arrive: @Sendable () async throws -> Void =
                    switch racing.act {
                    case .message(let message, let client):
                        { [connection = self.clients[client].connection, text = Self.text(of: message)] in
                            if asTheSocketReads {
                                try await connection.sendAsTheSocketReads(text)
                            } else {
                                await connection.send(text)
                            }
                        }
                    case .socketCloses(let client):
                        { [connection = self.clients[client].connection] in await connection.socketCloses() }
                    case .windowEnds(let room, let playerID): { await room.expireNow(playerID) }
                    }
                group.addTask {
                    if pause > .zero { try await Task.sleep(for: pause) }
                    try await arrive()
                }
            }
            try await group.waitForAll()
        }
        let received = await self.receiveAll()
        self.count("raced")
        let first = try self.followEitherOrder(pair, received: received, in: code)
        if let special {
            self.count("\(special.kind) raced")
            self.count("\(special.kind) handled \(first == special.client ? "first" : "second")")
        }
    }

    /// The model follows the order of `pair` that gives what was `received` (and the room lists
    /// and observer events as they are), if one does. Returns the client whose side it took first
    /// (nil for a window's end).
    private func followEitherOrder(
        _ pair: [Step], received: [Int: [JSONValue]], in code: String
    )
        throws(Mismatch) -> Int?
    {
        let saved = self.saveModel()
        var mismatches: [Mismatch] = []
        for (index, order) in [pair, pair.reversed()].enumerated() {
            if index > 0 { self.restoreModel(saved) }
            var expected: [Int: [Expected]] = [:]
            for racing in order { racing.outcome(self, received, &expected) }
            do throws(Mismatch) {
                try self.compare(received, expected)
                try self.checkRoomLists()
                try self.checkEvents()
            } catch {
                mismatches.append(error)
                continue
            }
            self.count(index == 0 ? "race handled as drawn" : "race handled the other way round")
            for client in pair.compactMap(\.client) {
                try self.learnTheStart(of: code, from: received[client] ?? [])
                let reconnected = received[client]?.first { $0.type == "reconnected" }
                self.rooms[code]?.learn(from: reconnected?["game_state"])
            }
            return order[0].client
        }
        throw Mismatch(description: "neither order: \(mismatches.map(\.description).joined(separator: "\n"))")
    }
}

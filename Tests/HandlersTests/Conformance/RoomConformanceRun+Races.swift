@testable import Handlers
@testable import Relay

/// Two members of one room sending at the same instant.
extension RoomConformanceRun {
    /// One member's message in a race, and what the room's handling it does: to the model, and to
    /// what its clients should receive (given what they did receive, for a chat line's time).
    struct RacingMessage {
        let client: Int
        let message: JSONValue
        let outcome: (RoomConformanceRun, [Int: [JSONValue]], inout [Int: [Expected]]) -> Void
    }

    /// Two connected members of one room send at once: both collect one item, kill one enemy,
    /// leave or chat, the host starts as the other sets its ready flag or leaves, or one kills an
    /// enemy the other moves or kills by `enemy_state` (messages the room handles whole, each in
    /// one call on its loop). The room handles one, then the other, in either order: what every
    /// client received, both room lists and the room's observer events must be what the model
    /// gives for one of the two, each tried from the same saved model.
    func race() async throws {
        let rooms = self.roomOrder.compactMap { self.rooms[$0] }.filter { $0.connected.count >= 2 }
        guard let room = self.pick(rooms) else { return try await self.join() }
        let members = room.connected.shuffled(using: &self.random).map { $0.client! }
        let host = room.player(room.hostID)?.client ?? members[0]
        let other = members.first { $0 != host }!
        let pair: [RacingMessage]
        switch Int.random(in: 0..<7, using: &self.random) {
        case 0:
            let item = self.itemToCollect(in: room)
            pair = members.prefix(2).map { client in
                RacingMessage(client: client, message: Self.collectItem(item)) { run, _, expected in
                    run.collected(item, by: client, into: &expected)
                }
            }
        case 1:
            let enemyID = self.knownOrNewEnemy(in: room)
            let sentAt = ContinuousClock.now
            pair = members.prefix(2).map { client in
                RacingMessage(client: client, message: ["type": "enemy_killed", "enemy_id": .string(enemyID)]) {
                    run, _, expected in run.killed(enemyID, by: client, sentAt: sentAt, into: &expected)
                }
            }
        case 2:
            let isReady = self.chance(50) ? self.chance(50) : nil
            pair = [
                self.starting(by: host),
                RacingMessage(client: other, message: Self.playerReady(isReady)) { run, _, expected in
                    run.readied(isReady, by: other, into: &expected)
                },
            ]
        case 3: pair = [self.starting(by: host), self.leaving(other)]
        case 4: pair = members.prefix(2).map(self.leaving)
        case 5:
            // A kill against a move or a death of the same enemy, which the state relays' raw path
            // handles (in place, or handed to the room's loop, as the socket reads it).
            let update = self.enemyUpdate(of: self.knownOrNewEnemy(in: room))
            let sentAt = ContinuousClock.now
            let (killer, mover) = (members[0], members[1])
            pair = [
                RacingMessage(client: killer, message: ["type": "enemy_killed", "enemy_id": .string(update.enemyID)]) {
                    run, _, expected in run.killed(update.enemyID, by: killer, sentAt: sentAt, into: &expected)
                },
                RacingMessage(client: mover, message: update.message) { run, _, expected in
                    run.updated(update, by: mover, sentAt: sentAt, into: &expected)
                },
            ]
        default:  // 6
            pair = members.prefix(2).map { client in
                let text = "race \(self.step) from \(client)"
                return RacingMessage(client: client, message: ["type": "chat", "message": .string(text)]) {
                    run, received, expected in run.chatted(text, by: client, received: received, into: &expected)
                }
            }
        }
        self.note("clients \(pair[0].client) and \(pair[1].client) at once: \(pair.map(\.message.text))")
        let sends = pair.map { (self.clients[$0.client].connection, Self.text(of: $0.message)) }
        let asTheSocketReads = !self.loops.isEmpty
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (connection, text) in sends {
                group.addTask {
                    if asTheSocketReads {
                        try await connection.sendAsTheSocketReads(text)
                    } else {
                        await connection.send(text)
                    }
                }
            }
            try await group.waitForAll()
        }
        let received = await self.receiveAll()
        self.count("raced")
        try self.followEitherOrder(pair, received: received, in: room.code)
    }

    /// The model follows the order of `pair` that gives what was `received` (and the room lists
    /// and observer events as they are), if one does.
    private func followEitherOrder(
        _ pair: [RacingMessage], received: [Int: [JSONValue]], in code: String
    )
        throws(Mismatch)
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
            for racing in pair { try self.learnTheStart(of: code, from: received[racing.client] ?? []) }
            return
        }
        throw Mismatch(description: "neither order: \(mismatches.map(\.description).joined(separator: "\n"))")
    }

    private func starting(by client: Int) -> RacingMessage {
        RacingMessage(client: client, message: ["type": "start_game"]) { run, _, expected in
            run.started(by: client, into: &expected)
        }
    }

    private func leaving(_ client: Int) -> RacingMessage {
        RacingMessage(client: client, message: ["type": "leave_room"]) { run, _, expected in
            run.left(client, into: &expected)
        }
    }
}

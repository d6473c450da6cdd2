@testable import Handlers
@testable import Relay

/// A client's messages, and its socket closing, as steps that races and bursts put together.
extension RoomConformanceRun {
    /// One client's message (or their socket closing, with no message), and what the room's
    /// handling it does: to the model, and to what its clients should receive (given what they did
    /// receive, for a chat line's time or a new reconnect token). Races and bursts are made of them.
    struct ClientStep {
        let client: Int
        let message: JSONValue?
        let outcome: (RoomConformanceRun, [Int: [JSONValue]], inout [Int: [Expected]]) -> Void
    }

    /// Sends a step's message (or closes its client's socket) on its own, noting `detail` for a
    /// mismatch's context, and checks that every client received what its outcome gives.
    func play(_ step: ClientStep, noting detail: String) async throws {
        self.note("client \(step.client) \(detail)")
        if let message = step.message {
            try await self.send(message, from: step.client)
        } else {
            await self.clients[step.client].connection.socketCloses()
        }
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        step.outcome(self, received, &expected)
        try self.compare(received, expected)
    }

    /// One of eight messages a member may send: a collect, a kill, a ready flag, a start, a leave,
    /// a chat line, a move or a game action.
    func anyMessage(from client: Int, in room: ModelRoom) -> ClientStep {
        switch Int.random(in: 0..<8, using: &self.random) {
        case 0: self.collecting(self.itemToCollect(in: room), by: client)
        case 1: self.killing(self.knownOrNewEnemy(in: room), by: client)
        case 2: self.readying(client)
        case 3: self.starting(by: client)
        case 4: self.leaving(client)
        case 5: self.chatting(client)
        case 6: self.moving(client)
        default: self.acting(by: client, in: room)
        }
    }

    func collecting(_ item: (type: String, id: String), by client: Int) -> ClientStep {
        ClientStep(client: client, message: Self.collectItem(item)) { run, _, expected in
            run.collected(item, by: client, into: &expected)
        }
    }

    func killing(_ enemyID: String, by client: Int) -> ClientStep {
        let sentAt = ContinuousClock.now
        return ClientStep(client: client, message: ["type": "enemy_killed", "enemy_id": .string(enemyID)]) {
            run, _, expected in run.killed(enemyID, by: client, sentAt: sentAt, into: &expected)
        }
    }

    func readying(_ client: Int) -> ClientStep {
        let isReady = self.chance(50) ? self.chance(50) : nil
        return ClientStep(client: client, message: Self.playerReady(isReady)) { run, _, expected in
            run.readied(isReady, by: client, into: &expected)
        }
    }

    func starting(by client: Int) -> ClientStep {
        ClientStep(client: client, message: ["type": "start_game"]) { run, _, expected in
            run.started(by: client, into: &expected)
        }
    }

    func leaving(_ client: Int) -> ClientStep {
        ClientStep(client: client, message: ["type": "leave_room"]) { run, _, expected in
            run.left(client, into: &expected)
        }
    }

    func chatting(_ client: Int, saying text: String? = nil) -> ClientStep {
        let text = text ?? "line \(self.step) from \(client)"
        return ClientStep(client: client, message: ["type": "chat", "message": .string(text)]) {
            run, received, expected in run.chatted(text, by: client, received: received, into: &expected)
        }
    }

    func updating(_ update: EnemyUpdate, by client: Int) -> ClientStep {
        let sentAt = ContinuousClock.now
        return ClientStep(client: client, message: update.message) { run, _, expected in
            run.updated(update, by: client, sentAt: sentAt, into: &expected)
        }
    }

    func moving(_ client: Int) -> ClientStep {
        let move = self.playerMove()
        return ClientStep(client: client, message: move.message) { run, _, expected in
            run.moved(move, by: client, into: &expected)
        }
    }

    func acting(by client: Int, in room: ModelRoom, assisting target: String? = nil) -> ClientStep {
        let action = self.gameActionToSend(in: room, assisting: target)
        return ClientStep(client: client, message: action.message) { run, _, expected in
            run.acted(action, by: client, into: &expected)
        }
    }

    /// Client `client` reconnects as `playerID` of room `code` with `token`.
    func reconnecting(on client: Int, as playerID: String, of code: String, token: String?) -> ClientStep {
        ClientStep(client: client, message: Self.reconnectMessage(code, playerID, token: token)) {
            run, received, expected in
            _ = run.reconnected(client, as: playerID, of: code, token: token, received: received, into: &expected)
        }
    }

    /// Client `client`'s socket closes, as the server's socket handler reports it.
    func dropping(_ client: Int) -> ClientStep {
        ClientStep(client: client, message: nil) { run, _, expected in run.dropped(client, into: &expected) }
    }
}

@testable import Handlers
@testable import Relay

/// A client's messages, its socket closing and a reconnect window ending, as steps that races
/// and bursts put together.
extension RoomConformanceRun {
    /// A client's message, its socket closing, or a dropped player's reconnect window ending; and
    /// what the room's handling it does: to the model, and to what its clients should receive
    /// (given what they did receive, for a chat line's time or a new reconnect token).
    struct Step {
        enum Act {
            case message(JSONValue, from: Int)
            case socketCloses(Int)
            case windowEnds(GameRoom, playerID: String)
        }

        let act: Act
        let outcome: (RoomConformanceRun, [Int: [JSONValue]], inout [Int: [Expected]]) -> Void

        init(_ act: Act, outcome: @escaping (RoomConformanceRun, [Int: [JSONValue]], inout [Int: [Expected]]) -> Void) {
            (self.act, self.outcome) = (act, outcome)
        }

        /// The client taking the step, if a client takes it.
        var client: Int? {
            switch self.act {
            case .message(_, let client), .socketCloses(let client): client
            case .windowEnds: nil
            }
        }

        var message: JSONValue? {
            if case .message(let message, _) = self.act { message } else { nil }
        }

        /// The step, as the steps before a mismatch show it.
        var label: String {
            switch self.act {
            case .message(let message, let client): "client \(client) \(message.text)"
            case .socketCloses(let client): "client \(client) drops"
            case .windowEnds(let room, let playerID): "\(playerID)'s window in \(room.code) ends"
            }
        }
    }

    /// Takes a step on its own, noting `detail` for a mismatch's context, and checks that every
    /// client received what its outcome gives.
    func play(_ step: Step, noting detail: String) async throws {
        self.note(step.client.map { "client \($0) \(detail)" } ?? detail)
        switch step.act {
        case .message(let message, let client): try await self.send(message, from: client)
        case .socketCloses(let client): await self.clients[client].connection.socketCloses()
        case .windowEnds(let room, let playerID): await room.expireNow(playerID)
        }
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        step.outcome(self, received, &expected)
        try self.compare(received, expected)
    }

    /// One of eight messages a member may send: a collect, a kill, a ready flag, a start, a leave,
    /// a chat line, a move or a game action.
    func anyMessage(from client: Int, in room: ModelRoom) -> Step {
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

    func collecting(_ item: (type: String, id: String), by client: Int) -> Step {
        Step(.message(Self.collectItem(item), from: client)) { run, _, expected in
            run.collected(item, by: client, into: &expected)
        }
    }

    func killing(_ enemyID: String, by client: Int) -> Step {
        let sentAt = ContinuousClock.now
        return Step(.message(["type": "enemy_killed", "enemy_id": .string(enemyID)], from: client)) {
            run, _, expected in run.killed(enemyID, by: client, sentAt: sentAt, into: &expected)
        }
    }

    func readying(_ client: Int) -> Step {
        let isReady = self.chance(50) ? self.chance(50) : nil
        return Step(.message(Self.playerReady(isReady), from: client)) { run, _, expected in
            run.readied(isReady, by: client, into: &expected)
        }
    }

    func starting(by client: Int) -> Step {
        Step(.message(["type": "start_game"], from: client)) { run, _, expected in
            run.started(by: client, into: &expected)
        }
    }

    func leaving(_ client: Int) -> Step {
        Step(.message(["type": "leave_room"], from: client)) { run, _, expected in
            run.left(client, into: &expected)
        }
    }

    func chatting(_ client: Int, saying text: String? = nil) -> Step {
        let text = text ?? "line \(self.step) from \(client)"
        return Step(.message(["type": "chat", "message": .string(text)], from: client)) {
            run, received, expected in run.chatted(text, by: client, received: received, into: &expected)
        }
    }

    func updating(_ update: EnemyUpdate, by client: Int) -> Step {
        let sentAt = ContinuousClock.now
        return Step(.message(update.message, from: client)) { run, _, expected in
            run.updated(update, by: client, sentAt: sentAt, into: &expected)
        }
    }

    func moving(_ client: Int) -> Step {
        let move = self.playerMove()
        return Step(.message(move.message, from: client)) { run, _, expected in
            run.moved(move, by: client, into: &expected)
        }
    }

    func acting(by client: Int, in room: ModelRoom, assisting target: String? = nil) -> Step {
        let action = self.gameActionToSend(in: room, assisting: target)
        return Step(.message(action.message, from: client)) { run, _, expected in
            run.acted(action, by: client, into: &expected)
        }
    }

    /// Client `client` reconnects as `playerID` of room `code` with `token`.
    func reconnecting(on client: Int, as playerID: String, of code: String, token: String?) -> Step {
        Step(.message(Self.reconnectMessage(code, playerID, token: token), from: client)) {
            run, received, expected in
            run.reconnected(client, as: playerID, of: code, token: token, received: received, into: &expected)
        }
    }

    /// Dropped member `playerID`'s reconnect window in room `server` ends, as its timer would end it.
    func windowEnding(of playerID: String, in server: GameRoom) -> Step {
        let code = server.code
        return Step(.windowEnds(server, playerID: playerID)) { run, _, expected in
            run.windowEnded(of: playerID, in: code, into: &expected)
        }
    }

    /// Client `client`'s socket closes, as the server's socket handler reports it.
    func dropping(_ client: Int) -> Step {
        Step(.socketCloses(client)) { run, _, expected in run.dropped(client, into: &expected) }
    }
}

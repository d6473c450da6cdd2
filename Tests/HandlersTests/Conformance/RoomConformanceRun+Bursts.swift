@testable import Handlers
@testable import Relay

/// One member's messages back to back, as a client streaming its moves sends them.
extension RoomConformanceRun {
    /// A member sends two to four moves, enemy states and game actions (most often moves), now
    /// and then followed by one of eight messages (``anyMessage(from:in:)``), as if the server
    /// read them all at once: in `asTheSocketReads` runs, moves handed to the room's loop are not
    /// waited for before the next frame is read (`TestClient.sendAsTheSocketReads` with several
    /// frames). Everyone must receive what the messages give one after another, in the order sent.
    func burst() async throws {
        guard let (client, room, _) = self.pickMember() else { return }
        var steps = (0..<Int.random(in: 2...4, using: &self.random)).map { _ in
            switch Int.random(in: 0..<5, using: &self.random) {
            case 0: self.updating(self.enemyUpdate(of: self.knownOrNewEnemy(in: room)), by: client)
            case 1: self.acting(by: client, in: room)
            default: self.moving(client)
            }
        }
        if self.chance(50) { steps.append(self.anyMessage(from: client, in: room)) }
        let messages = steps.compactMap(\.message)
        self.note("client \(client) sends back to back: \(messages.map(\.text))")
        let onTheirWay = try await self.clients[client].connection.sendAsTheSocketReads(messages.map(Self.text(of:)))
        if onTheirWay >= 2 { self.count("burst handed on") }
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        for step in steps { step.outcome(self, received, &expected) }
        try self.compare(received, expected)
        try self.learnTheStart(of: room.code, from: received[client] ?? [])
    }
}

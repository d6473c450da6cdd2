import Handlers
import Relay
import RelayServer

// A game's own relay: everything `relay` does, plus `whisper`, `vote_kick` and `round_start`
// message types, an observer of the rooms' members and a filter on the built-in `chat`,
// registered in code. Run it like `relay`:
//
//     swift run custom-relay-example --port 8000
//
// In your own package, depend on this one and list the products RelayServer, Handlers and Relay.

/// `whisper` {to, message}: only player `to` of the sender's room gets `whisper` {from, message};
/// `invalid_field` if `to` is not connected there.
struct WhisperHandler: RoomMessageHandler {
    let messageType = "whisper"

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        let recipient = try message.string("to")
        let text = try message.string("message")
        guard text.unicodeScalars.count <= room.state.limits.maxChatLength else {  // code points, as chat counts
            throw .tooLong("message", limit: room.state.limits.maxChatLength)
        }
        // Not one who dropped: `send` would drop the whisper unsaid.
        guard room.state.player(recipient)?.isConnected == true, recipient != playerID else {
            throw .invalidField("to", expected: "another connected player of this room")
        }
        room.send(
            OutboundMessage.make(type: "whisper", ["from": .string(playerID), "message": .string(text)]), to: recipient)
    }
}

/// `vote_kick` {target}: a member votes to remove another. The room sees `kick_vote` {target,
/// votes, needed}; once more than half of the connected members other than the target, and at
/// least two, voted for them, the room removes them (they get `room_left` {reason}, the others
/// `player_left`). As an observer too, it counts again when a member leaves or drops, which
/// lowers the votes needed. Nothing keeps the removed from joining again: a ban would need a
/// `join_room` filter and something surer than a `player_id` to know them by, which clients choose.
struct VoteKickHandler: RoomMessageHandler, RoomObserver {
    /// The ballot open against a member. Kept with them, so it goes when they leave, and a later
    /// player under the same id starts with none.
    enum BallotAgainst: CustomValueKey { static let defaultValue: Int? = nil }
    /// The ballot a member voted on. Kept with the voter, so a vote goes when its voter leaves.
    enum Vote: CustomValueKey { static let defaultValue: Int? = nil }
    /// Ballots the room has opened, to number them.
    enum BallotsOpened: CustomValueKey { static let defaultValue = 0 }

    let messageType = "vote_kick"

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        let target = try message.string("target")
        guard room.state.player(target) != nil, target != playerID else {
            throw .invalidField("target", expected: "another player of this room")
        }
        if room.state[customOf: target][BallotAgainst.self] == nil {
            room.state.custom[BallotsOpened.self] += 1
            room.state[customOf: target][BallotAgainst.self] = room.state.custom[BallotsOpened.self]
        }
        room.state[customOf: playerID][Vote.self] = room.state[customOf: target][BallotAgainst.self]
        Self.count(against: target, in: room, announcing: true)
    }

    func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) { Self.countAgain(in: room) }
    func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) { Self.countAgain(in: room) }

    /// Counts every open ballot again: fewer members present need fewer votes.
    private static func countAgain(in room: isolated GameRoom) {
        for target in room.state.players where target.custom[BallotAgainst.self] != nil {
            Self.count(against: target.id, in: room, announcing: false)
        }
    }

    /// Counts the votes against `target` (telling the room, if `announcing`), and removes them
    /// once enough voted.
    private static func count(against target: String, in room: isolated GameRoom, announcing: Bool) {
        guard let ballot = room.state[customOf: target][BallotAgainst.self] else { return }
        let voters = room.state.connectedPlayers.filter { $0.id != target }
        let votes = voters.filter { $0.custom[Vote.self] == ballot }.count
        let needed = max(2, voters.count / 2 + 1)  // in a room of two, nobody alone removes the other
        if announcing {
            room.broadcast(
                OutboundMessage.make(
                    type: "kick_vote",
                    ["target": .string(target), "votes": .integer(Int64(votes)), "needed": .integer(Int64(needed))]))
        }
        if votes >= needed { room.removeMember(target, reason: "voted out") }
    }
}

/// A room's running round: its timer, to replace it, and when it ends.
struct Round: Sendable {
    let timer: RoomTimer
    let endsAt: ContinuousClock.Instant

    enum Key: CustomValueKey { static let defaultValue: Round? = nil }
}

/// `round_start` {seconds} (host only, 1…3600): the room gets `round_started` {seconds}, then
/// `round_over` {seconds} when the time is up, with nobody sending anything. A new round replaces one
/// that runs.
struct RoundStartHandler: RoomMessageHandler {
    let messageType = "round_start"

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        try room.state.requireHost(playerID)
        let seconds = try message.number("seconds")
        guard (1...3600).contains(seconds), seconds.rounded() == seconds else {
            throw .invalidField("seconds", expected: "a whole number of seconds from 1 to 3600")
        }
        if let running = room.state.custom[Round.Key.self] { room.cancelTimer(running.timer) }
        let timer = room.schedule(after: .seconds(seconds)) { room in
            room.state.custom[Round.Key.self] = nil
            room.broadcast(OutboundMessage.make(type: "round_over", ["seconds": .integer(Int64(seconds))]))
        }
        room.state.custom[Round.Key.self] = Round(timer: timer, endsAt: .now + .seconds(seconds))
        room.broadcast(OutboundMessage.make(type: "round_started", ["seconds": .integer(Int64(seconds))]))
    }
}

/// Tells a player who joins or comes back while a round runs `round_state` {seconds_left}.
struct RoundObserver: RoomObserver {
    func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) { self.tell(player, in: room) }
    func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) { self.tell(player, in: room) }

    private func tell(_ player: RoomPlayer, in room: isolated GameRoom) {
        guard let round = room.state.custom[Round.Key.self] else { return }
        let left = max(0, ContinuousClock.now.duration(to: round.endsAt) / .seconds(1)).rounded(.up)
        room.send(OutboundMessage.make(type: "round_state", ["seconds_left": .integer(Int64(left))]), to: player.id)
    }
}

/// Drops chat messages that are only whitespace, before the built-in chat handler sees them.
struct BlankChatFilter: MessageFilter {
    let messageType = "chat"

    func filter(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) -> InboundMessage? {
        guard let text = message.fields["message"]?.stringValue else { return message }  // the handler reports it
        return text.trimmingWhitespace().isEmpty ? nil : message
    }
}

var server = RelayServerBuilder()
server.register(WhisperHandler())
server.register(VoteKickHandler())
server.register(observer: VoteKickHandler())  // to count again as members leave or drop
server.register(RoundStartHandler())
server.register(observer: RoundObserver())
server.register(filter: BlankChatFilter())
await server.runFromCommandLine()

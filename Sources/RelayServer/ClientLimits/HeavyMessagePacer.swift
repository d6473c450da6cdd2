import NIOCore

/// Spaces out the decoding of large messages on one event loop, so that what other clients send
/// is read and relayed in between, and takes the waiting ones in turn: after a large message's
/// handling took some time, the next one on the loop waits as long again, and the next to go is
/// the one whose connection has used the least of the loop for large messages lately.
///
/// The byte budgets and the busy loop's cap (``BusyLoopCap``) bound what each connection may read,
/// but charge a message's values once it is decoded, and NIO runs every task queued on a loop
/// before it reads its sockets again: 32 clients each sending a 64 KB message of 8,000 small
/// values had them decoded back to back as they started (~5 ms each), and every other room's
/// messages waited 0.15–0.2 s. A reader waiting for its turn lets the loop's turn end, and the
/// loop reads its sockets before the next large message is decoded. The game's own messages are
/// far smaller than ``heavyBytes``, and a lone large one (a host's `sync_entities`) never waits.
///
/// Turns go by rank, not by arrival: a reader that has just had its turn asks again at once while
/// the others wake to the same moment, and first come, first served gave the loop to whichever of
/// the flood's readers ran first, again and again, while a calm client's 12 KB message waited up
/// to 4 s. A connection ranks from when it opened, and each turn moves its rank to the turn's
/// start plus ``rankPerTurnTime`` times what the turn took: a connection that has used less of the
/// loop lately goes first. Ranked by their turns' starts alone, the flood's readers that had waited
/// a round of turns longer than the calm client's half second between messages still went first,
/// and it waited up to 0.25 s.
///
/// A waiting message goes by where its turn would move its connection's rank if it took as long as
/// its bytes may (``worstTimePerByte``): the smaller of two messages whose connections rank alike
/// goes first. As a flood starts, every connection ranks from about when it opened, and by rank
/// alone a calm client's 12 KB message waited for each flooder's first 64 KB one, 0.15 s.
///
/// Only the arithmetic and the order; ``HeavyMessageTurns`` wakes the waiting readers.
struct HeavyMessagePacer {
    /// A message larger than this may take milliseconds to decode and handle (a full 64 KiB of
    /// small values, ~5 ms): its handling is paced.
    static let heavyBytes = 8_192
    /// The most one large message's handling counts for: a handling that took longer was mostly
    /// waiting (for a room on another loop, a plugin), which cost its loop nothing.
    static let longestTurn = TimeAmount.milliseconds(20)
    /// How far a turn moves its connection's rank on, for each unit of time it took: a 64 KB message
    /// of small values (~5 ms) half a second, a 12 KB string (~0.05 ms) 5 ms.
    static let rankPerTurnTime: Int64 = 100
    /// The longest a large message's handling may take for each of its bytes: a message of small
    /// values' (64 KB, ~5 ms).
    static let worstTimePerByte = TimeAmount.nanoseconds(80)

    /// A large message's time with the loop, from when it was given.
    struct Turn: Equatable {
        let number: Int
        let started: NIODeadline
    }

    /// What a large message asking for a turn gets.
    enum Answer: Equatable {
        /// Its turn: it goes now.
        case go(Turn)
        /// It waits, as `ticket`, until ``nextTurn(now:)`` gives it its turn.
        case wait(ticket: Int)
    }

    /// Until when the loop's time goes to others (or to the turn given last, until it is handled).
    private(set) var othersUntil = NIODeadline.uptimeNanoseconds(0)
    /// Large messages waiting for their turns, in the order of ``order(rank:bytes:)``.
    private var waiting: [(order: NIODeadline, ticket: Int)] = []
    private var tickets = 0
    /// The number of the turn given last.
    private var turns = 0

    /// When the next waiting message's turn comes; nil if none waits.
    var nextTurnAt: NIODeadline? { self.waiting.isEmpty ? nil : self.othersUntil }

    /// A large message of `bytes` from a connection ranked `rank` (when it opened, then as
    /// ``handled(_:now:)`` returned) asks for a turn at `now`: it goes at once if nothing waits
    /// and the others had their time.
    mutating func ask(rank: NIODeadline, bytes: Int, now: NIODeadline) -> Answer {
        if self.waiting.isEmpty && self.othersUntil <= now { return .go(self.give(now: now)) }
        self.tickets += 1
        self.waiting.append((Self.order(rank: rank, bytes: bytes), self.tickets))
        return .wait(ticket: self.tickets)
    }

    /// Where a waiting message of `bytes` from a connection ranked `rank` goes: its connection's
    /// rank, moved on as its turn would move it if it took as long as its bytes may.
    static func order(rank: NIODeadline, bytes: Int) -> NIODeadline {
        rank + Self.rankMove(after: Self.worstTimePerByte * bytes)
    }

    /// The waiting message whose turn it is at `now`, if the others had their time: the first in
    /// ``order(rank:bytes:)``, the first to ask among equals.
    mutating func nextTurn(now: NIODeadline) -> (ticket: Int, turn: Turn)? {
        guard self.othersUntil <= now,
            let next = self.waiting.indices.min(by: { self.waiting[$0].order < self.waiting[$1].order })
        else { return nil }
        let ticket = self.waiting.remove(at: next).ticket
        return (ticket, self.give(now: now))
    }

    /// Stops waiting message `ticket` waiting (its connection is closing); false if it does not wait.
    mutating func removeWaiting(_ ticket: Int) -> Bool {
        guard let index = self.waiting.firstIndex(where: { $0.ticket == ticket }) else { return false }
        self.waiting.remove(at: index)
        return true
    }

    /// Every waiting message's ticket, given up on (the loop is shutting down).
    mutating func removeAllWaiting() -> [Int] {
        defer { self.waiting.removeAll() }
        return self.waiting.map(\.ticket)
    }

    /// `turn`'s message was handled at `now`: as long again as it took (``longestTurn`` at most)
    /// goes to others. A turn given since (this one took longer than ``longestTurn``) keeps its own.
    /// Returns the connection's rank for its next large message.
    @discardableResult
    mutating func handled(_ turn: Turn, now: NIODeadline) -> NIODeadline {
        let took = min(now - turn.started, Self.longestTurn)
        self.othersUntil = turn.number == self.turns ? now + took : max(self.othersUntil, now + took)
        return turn.started + Self.rankMove(after: took)
    }

    /// How far a turn that took `took` moves its connection's rank: ``rankPerTurnTime`` times as
    /// far, for ``longestTurn`` at most.
    private static func rankMove(after took: TimeAmount) -> TimeAmount {
        min(took, Self.longestTurn) * Self.rankPerTurnTime
    }

    /// Holds the large messages back until `deadline`, as if the loop's time went to others, or
    /// lets them go from then if they were held longer (tests).
    mutating func hold(until deadline: NIODeadline) {
        self.othersUntil = deadline
    }

    /// How many large messages wait for a turn.
    var waitingCount: Int { self.waiting.count }

    /// A turn from `now`: until it is handled, the loop's time is its own for ``longestTurn`` and
    /// then as long again the others', so a turn that is never handled (its connection ended)
    /// holds nothing up for long.
    private mutating func give(now: NIODeadline) -> Turn {
        self.turns += 1
        self.othersUntil = now + Self.longestTurn * 2
        return Turn(number: self.turns, started: now)
    }
}

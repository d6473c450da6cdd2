import NIOCore

/// Gives large messages their turns on one event loop (``HeavyMessagePacer``): a reader waiting
/// for its turn is resumed from a timer of the loop, so the loop's turn ends, and it reads its
/// sockets, before the next large message is decoded. Made and used only on its loop.
final class HeavyMessageTurns {
    private let eventLoop: any EventLoop
    private var pacer = HeavyMessagePacer()
    private var waiting: [Int: CheckedContinuation<HeavyMessagePacer.Turn, Never>] = [:]
    /// The timer that gives the next turn, and when it fires.
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Waits for the turn of a large message of `bytes`, for a connection ranked `rank` (from when
    /// it opened, then as ``handled(_:)`` returned), telling `waits` its ticket if it waits (for
    /// ``giveUp(_:)``). Report its handling with ``handled(_:)``.
    func turn(rank: NIODeadline, bytes: Int, waits: (Int) -> Void = { _ in }) async -> HeavyMessagePacer.Turn {
        switch self.pacer.ask(rank: rank, bytes: bytes, now: .now()) {
        case .go(let turn):
            return turn
        case .wait(let ticket):
            waits(ticket)
            return await withCheckedContinuation { continuation in
                self.waiting[ticket] = continuation
                self.scheduleNextTurn()
            }
        }
    }

    /// Lets the message waiting as `ticket` go now, with a turn that holds nothing up: its
    /// connection is closing, and will not handle it. (Numbered -1, which no turn given has, so
    /// that its handling does not end the time the loop's latest turn gave the others.)
    func giveUp(_ ticket: Int) {
        guard self.pacer.removeWaiting(ticket) else { return }
        self.waiting.removeValue(forKey: ticket)?.resume(returning: .init(number: -1, started: .now()))
        self.scheduleNextTurn()
    }

    /// `turn`'s message has been handled: the next turn comes once the others had as long.
    /// Returns the connection's rank for its next large message.
    func handled(_ turn: HeavyMessagePacer.Turn) -> NIODeadline {
        defer { self.scheduleNextTurn() }
        return self.pacer.handled(turn, now: .now())
    }

    /// Holds large messages back until `deadline`, as if the loop's time went to others, or lets
    /// them go from then if they were held longer (tests).
    func hold(until deadline: NIODeadline) {
        self.pacer.hold(until: deadline)
        self.scheduleNextTurn()
    }

    /// How many large messages wait for a turn.
    var waitingCount: Int { self.pacer.waitingCount }

    /// Sets the timer for the next turn, if a message waits for one.
    private func scheduleNextTurn() {
        guard let deadline = self.pacer.nextTurnAt else {
            self.timer?.task.cancel()
            self.timer = nil
            return
        }
        if self.timer?.deadline == deadline { return }
        self.timer?.task.cancel()
        let turns = NIOLoopBound(self, eventLoop: self.eventLoop)
        let task = self.eventLoop.scheduleTask(deadline: deadline) { turns.value.giveNextTurn() }
        task.futureResult.whenFailure { error in
            // The loop is shutting down: its readers go, so none waits for ever.
            if let error = error as? EventLoopError, case .shutdown = error { turns.value.releaseAll() }
        }
        self.timer = (deadline, task)
    }

    private func giveNextTurn() {
        self.timer = nil
        if let (ticket, turn) = self.pacer.nextTurn(now: .now()) {
            self.waiting.removeValue(forKey: ticket)?.resume(returning: turn)
        }
        self.scheduleNextTurn()
    }

    private func releaseAll() {
        self.timer = nil
        let now = NIODeadline.now()
        for ticket in self.pacer.removeAllWaiting() {
            self.waiting.removeValue(forKey: ticket)?.resume(returning: .init(number: 0, started: now))
        }
    }
}

import Logging
import Synchronization

/// Sets up one room — the creator first, then the others with its code — and keeps all
/// its players running until the measurement ends.
struct RoomDriver: Sendable {
    let index: Int
    let url: String
    let players: Int
    let hertz: Double
    let payloadBytes: Int
    let clock: BenchClock
    let recorder: LatencyRecorder
    let gate: StartGate
    let setup: SetupTracker
    let logger: Logger

    private enum Event { case joined(code: String), failed }

    func run() async {
        let (events, eventSink) = AsyncStream<Event>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.player(0, code: nil, events: eventSink) }
            var iterator = events.makeAsyncIterator()
            guard case .joined(let code) = await iterator.next() else {
                self.setup.report(ready: false)
                return
            }
            for number in 1..<self.players {
                group.addTask { await self.player(number, code: code, events: eventSink) }
            }
            var joined = 1
            var failed = 0
            while joined + failed < self.players, let event = await iterator.next() {
                if case .joined = event { joined += 1 } else { failed += 1 }
            }
            self.setup.report(ready: failed == 0)
        }
    }

    private func player(_ number: Int, code: String?, events: AsyncStream<Event>.Continuation) async {
        let player = BenchPlayer(
            url: self.url, playerName: "bench\(self.index)_\(number)", joinCode: code, hertz: self.hertz,
            payloadBytes: self.payloadBytes, roomSize: self.players, clock: self.clock, recorder: self.recorder,
            started: self.gate, logger: self.logger)
        let reported = FirstTime()
        do {
            try await player.run { code in
                if reported.claim() { events.yield(.joined(code: code)) }
            }
        } catch {
            self.logger.debug("bench.player.failed", metadata: ["error": "\(error)"])
        }
        if reported.claim() { events.yield(.failed) }
    }
}

/// Counts rooms that finished setting up, for batching the connection storm.
final class SetupTracker: Sendable {
    private struct State {
        var ready = 0
        var failed = 0
        var waiter: (count: Int, continuation: CheckedContinuation<(ready: Int, failed: Int), Never>)?
    }

    private let state = Mutex(State())

    func report(ready: Bool) {
        let resume = self.state.withLock { state -> (CheckedContinuation<(ready: Int, failed: Int), Never>, (Int, Int))? in
            if ready { state.ready += 1 } else { state.failed += 1 }
            guard let waiter = state.waiter, state.ready + state.failed >= waiter.count else { return nil }
            defer { state = State() }
            return (waiter.continuation, (state.ready, state.failed))
        }
        if let (continuation, outcome) = resume { continuation.resume(returning: outcome) }
    }

    /// Waits until `count` rooms reported, then resets the counts.
    func waitFor(_ count: Int) async -> (ready: Int, failed: Int) {
        await withCheckedContinuation { continuation in
            let done = self.state.withLock { state -> (Int, Int)? in
                if state.ready + state.failed >= count {
                    defer { state = State() }
                    return (state.ready, state.failed)
                }
                state.waiter = (count, continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// True for the first caller of `claim()` only.
final class FirstTime: Sendable {
    private let claimed = Atomic<Bool>(false)

    func claim() -> Bool { !self.claimed.exchange(true, ordering: .relaxed) }
}

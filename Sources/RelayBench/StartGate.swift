import Synchronization

/// Holds every sender until all rooms are set up, then releases them together with
/// the instant at which they stop.
final class StartGate: Sendable {
    private struct State {
        var stopAt: ContinuousClock.Instant?
        var waiters: [CheckedContinuation<ContinuousClock.Instant, Never>] = []
    }

    private let state = Mutex(State())

    /// Waits for the start; returns when to stop sending.
    func wait() async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let stopAt = self.state.withLock { state -> ContinuousClock.Instant? in
                if let stopAt = state.stopAt { return stopAt }
                state.waiters.append(continuation)
                return nil
            }
            if let stopAt { continuation.resume(returning: stopAt) }
        }
    }

    /// Starts the measurement, to end `duration` from now.
    func open(for duration: Duration) {
        let stopAt = ContinuousClock.now + duration
        let waiters = self.state.withLock { state in
            state.stopAt = stopAt
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: stopAt) }
    }
}

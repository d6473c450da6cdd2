import Synchronization

/// Open → closing → closed, with a count of calls in progress, so the store's threads
/// are shut down only after every call that got in has finished.
final class StoreLifecycle: Sendable {
    private struct State {
        var isClosing = false
        var isClosed = false
        var callsInProgress = 0
        var drainWaiter: CheckedContinuation<Void, Never>?
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Admits a call, or throws ``PersistenceError/shuttingDown`` once closing began.
    func enter() throws(PersistenceError) {
        try self.state.withLock { state throws(PersistenceError) in
            guard !state.isClosing else { throw .shuttingDown }
            state.callsInProgress += 1
        }
    }

    /// Ends a call admitted by ``enter()``.
    func leave() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.callsInProgress -= 1
            guard state.callsInProgress == 0 else { return nil }
            defer { state.drainWaiter = nil }
            return state.drainWaiter
        }
        waiter?.resume()
    }

    /// Starts closing; `false` if another caller already did.
    func beginClosing() -> Bool {
        self.state.withLock { state in
            defer { state.isClosing = true }
            return !state.isClosing
        }
    }

    /// Waits until no admitted call is still running.
    func waitForCallsInProgress() async {
        await withCheckedContinuation { continuation in
            let done = self.state.withLock { state in
                if state.callsInProgress == 0 { return true }
                state.drainWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Marks the store closed and releases everyone waiting for that.
    func finishClosing() {
        let waiters = self.state.withLock { state in
            state.isClosed = true
            defer { state.closeWaiters = [] }
            return state.closeWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the caller that began closing has finished.
    func waitUntilClosed() async {
        await withCheckedContinuation { continuation in
            let done = self.state.withLock { state in
                if state.isClosed { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

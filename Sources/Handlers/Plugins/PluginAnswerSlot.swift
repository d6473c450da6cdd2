import Synchronization

/// Where one request's outcome waits for its sender: the request is queued inside its room (so
/// that it keeps its place among the room's events) and waited for outside it, and the outcome
/// (an answer, a timeout) may come in between.
final class PluginAnswerSlot: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<PluginOutcome, Never>)
        case filled(PluginOutcome)
    }

    private let state = Mutex(State.empty)

    /// Sets the outcome, once: a second one is ignored.
    func fill(_ outcome: PluginOutcome) {
        let waiter = self.state.withLock { state -> CheckedContinuation<PluginOutcome, Never>? in
            switch state {
            case .empty:
                state = .filled(outcome)
                return nil
            case .waiting(let continuation):
                state = .filled(outcome)
                return continuation
            case .filled: return nil
            }
        }
        waiter?.resume(returning: outcome)
    }

    /// The outcome, once there is one. One waiter only.
    func outcome() async -> PluginOutcome {
        await withCheckedContinuation { continuation in
            let filled = self.state.withLock { state -> PluginOutcome? in
                if case .filled(let outcome) = state { return outcome }
                state = .waiting(continuation)
                return nil
            }
            if let filled { continuation.resume(returning: filled) }
        }
    }
}

import Dispatch
public import Logging
import Synchronization

#if canImport(Darwin)
    import Darwin
#endif

/// The stop signals (SIGINT, SIGTERM, and SIGHUP unless ignored: ``RelayCommand``), caught for
/// the whole run by one set of Dispatch sources: from before the store opens and the plugins start
/// (a signal then ends the start, and the plugins are stopped in order; its default action ended
/// the server at once, and what the plugins had started lived on) until the server has stopped (a
/// signal then starts its graceful shutdown). One set, so that no signal falls between two
/// handlers and is lost. A later signal ends the process at once (``StopEscalation``).
public final class StopSignals: Sendable {
    private struct State {
        var action: (@Sendable (Int32) -> Void)?
        /// A signal that came while no action was set, for the next one.
        var unhandled: Int32?
    }

    private let shared: SharedState
    private let sources: Mutex<[any DispatchSourceSignal]>

    /// Catches `signals` from now on: returns once every source is armed. Each signal is logged
    /// as it comes (`relay.stop.requested`), also while what it does must wait for a step of the
    /// start that cannot be cut (a migration), so that an operator sees it was heard.
    public init(_ signals: [Int32], logger: Logger? = nil) {
        let state = SharedState()
        let escalation = StopEscalation()
        var sources: [any DispatchSourceSignal] = []
        // Serial queues of their own (each on a thread Dispatch adds when none is free), not the
        // global pool: the pool's few threads can all be held up, for good by a frozen disk at the
        // stop or a handler's own blocking log, and the signal to force the exit must still run.
        // What the signals do, logging first, is on a second queue: a source handles its next
        // signal only once its handler has returned.
        let signalQueue = DispatchQueue(label: "relay.stop-signals")
        let stopQueue = DispatchQueue(label: "relay.stop-requests")
        // Dispatch arms a source on its manager thread after `resume()` returns (on Linux it then
        // installs its handler and the signalfd); a signal before that had its default action,
        // which for SIGINT and SIGTERM ends the process. Measured: a signal sent right after
        // `resume()` killed 147 of 200 processes.
        let armed = DispatchSemaphore(value: 0)
        for number in signals {
            #if canImport(Darwin)
                signal(number, SIG_IGN)  // kqueue reports it to the source only if ignored (as ServiceLifecycle)
            #endif
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                let verdict = escalation.verdict()
                if verdict == .force { StopEscalation.exitNow(number, logger: logger) }
                stopQueue.async {
                    if verdict == .stopInOrder {
                        logger?.notice("relay.stop.requested", metadata: ["signal": "\(number)"])
                        state.deliver(number)
                    } else {
                        logger?.notice(
                            "relay.stop.repeated",
                            metadata: [
                                "signal": "\(number)", "effect": "none: within a second of the first; again to force",
                            ])
                    }
                }
            }
            source.setRegistrationHandler { armed.signal() }
            source.resume()
            sources.append(source)
        }
        // Blocks the calling thread (one of Swift's pool, once at start) for the microseconds the
        // registration handlers take on Dispatch's queue; bounded, so that a source Dispatch
        // never arms costs a second, not the start.
        let deadline = DispatchTime.now() + .seconds(1)
        for _ in sources where armed.wait(timeout: deadline) == .timedOut { break }
        self.shared = state
        self.sources = Mutex(sources)
    }

    /// What the next signal does: at once, if one came while no action was set. `nil`: the next
    /// signal waits for the next action. Returns once an action already under way has finished.
    /// An action must be short and must not call `onSignal` (it runs under the lock this takes).
    public func onSignal(_ action: (@Sendable (Int32) -> Void)?) {
        self.shared.set(action)
    }

    /// The signal that came while no action was set, until an action takes it.
    public var waitingSignal: Int32? { self.shared.waiting }

    /// Stops catching (the run is over).
    public func cancel() {
        for source in self.sources.withLock({ $0 }) { source.cancel() }
    }

    /// The action and the signal waiting for one, shared with the sources' handlers.
    private final class SharedState: Sendable {
        private let state = Mutex(State())

        /// The action runs under the lock, so that ``set(_:)`` returns only once an action that
        /// had begun has finished: the plugins' start sets `nil`, then looks whether its action
        /// saw a signal, and one recorded after that look was lost (the server served on).
        func deliver(_ signal: Int32) {
            self.state.withLock { state in
                guard let action = state.action else {
                    state.unhandled = state.unhandled ?? signal
                    return
                }
                action(signal)
            }
        }

        var waiting: Int32? { self.state.withLock { $0.unhandled } }

        func set(_ action: (@Sendable (Int32) -> Void)?) {
            self.state.withLock { state in
                state.action = action
                guard let action, let waiting = state.unhandled else { return }
                state.unhandled = nil
                action(waiting)
            }
        }
    }
}

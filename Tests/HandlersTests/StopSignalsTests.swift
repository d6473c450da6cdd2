import Dispatch
import Foundation
import Synchronization
import Testing

@testable import Handlers

#if canImport(Glibc)
    import Glibc
#endif

/// ``StopSignals`` with signals whose default action is to ignore them (SIGWINCH, SIGURG), so that
/// a signal the sources miss is lost instead of ending the test process.
@Suite("StopSignals", .serialized)
struct StopSignalsTests {
    /// Dispatch arms a signal source on its manager thread some time after `resume()`; until then
    /// the signal had its default action (for SIGINT and SIGTERM: the server died at once). The
    /// first source of a signal in a process is the one that can miss it, so this test has its
    /// own signal.
    @Test("A signal sent as soon as the sources exist is caught")
    func caughtFromTheStart() async throws {
        let caught = Box<Int32?>(nil)
        let signals = StopSignals([SIGWINCH])
        defer { signals.cancel() }
        signals.onSignal { number in caught.value = number }
        kill(getpid(), SIGWINCH)
        let deadline = ContinuousClock.now + .seconds(30)  // a bound on a hang, left as soon as caught
        while caught.value == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(caught.value == SIGWINCH)
    }

    /// The plugins' start sets `nil` and then looks whether its action saw a signal: an action
    /// still running when `onSignal(nil)` returned recorded its signal after that look, and the
    /// server served on.
    @Test("onSignal returns once an action under way has finished")
    func replacingWaitsForTheRunningAction() async throws {
        let started = Box(false)
        let finished = Box(false)
        let signals = StopSignals([SIGURG])
        defer { signals.cancel() }
        signals.onSignal { _ in
            started.value = true
            usleep(300_000)
            finished.value = true
        }
        kill(getpid(), SIGURG)
        let deadline = ContinuousClock.now + .seconds(30)  // a bound on a hang, left as soon as started
        while !started.value, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(started.value)
        // It blocks until the action (300 ms) has finished: on a thread of its own, not on one of
        // the cooperative pool's, which every test shares.
        await withCheckedContinuation { continuation in
            Thread {
                signals.onSignal(nil)
                continuation.resume()
            }.start()
        }
        #expect(finished.value)
    }

    @Test("A signal while no action is set waits for the next one")
    func heldForTheNextAction() async throws {
        let signals = StopSignals([SIGURG])
        defer { signals.cancel() }
        let released = Box<Int32?>(nil)
        // Not armed yet by the first test of this suite: a source of its own, and a settled one.
        kill(getpid(), SIGURG)
        let deadline = ContinuousClock.now + .seconds(30)  // a bound on a hang, left once it is held
        while signals.waitingSignal == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(signals.waitingSignal == SIGURG)
        #expect(released.value == nil)
        signals.onSignal { number in released.value = number }
        #expect(released.value == SIGURG)
        #expect(signals.waitingSignal == nil)  // taken: the action after this one does not see it
    }
}

/// A value the signal handlers set and the test reads.
private final class Box<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { self.state = Mutex(value) }
    var value: Value {
        get { self.state.withLock { $0 } }
        set { self.state.withLock { $0 = newValue } }
    }
}

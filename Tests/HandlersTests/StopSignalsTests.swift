import Dispatch
import Foundation
import Synchronization
import Testing

@testable import Handlers

#if canImport(Glibc)
    import Glibc
#endif

/// ``StopSignals`` with signals whose default action is to ignore them (SIGWINCH, SIGURG), so that
/// a signal the sources miss is lost instead of ending the test process. Each is sent to a thread
/// of the test's own (``OwnThreadSignal``), which Dispatch's handler takes as it does one sent
/// to the process.
@Suite("StopSignals", .serialized)
struct StopSignalsTests {
    /// Dispatch arms a signal source on its manager thread some time after `resume()`; until then
    /// the signal had its default action (for SIGINT and SIGTERM: the server died at once). The
    /// first source of a signal in a process is the one that can miss it, so this test has its
    /// own signal.
    @Test("A signal sent as soon as the sources exist is caught")
    func caughtFromTheStart() async throws {
        let caught = Box<Int32?>(nil)
        let signal = OwnThreadSignal(SIGWINCH)
        let signals = StopSignals([SIGWINCH])
        defer { signals.cancel() }
        signals.onSignal { number in caught.value = number }
        signal.send()
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
        // The action runs until the test releases it, rather than for a fixed time: a replacing
        // `onSignal(nil)` that did not wait could otherwise only be told apart from one that did
        // if this test's task came back before that time was up.
        let release = DispatchSemaphore(value: 0)
        let signal = OwnThreadSignal(SIGURG)
        let signals = StopSignals([SIGURG])
        defer { signals.cancel() }
        signals.onSignal { _ in
            started.value = true
            release.wait()
            finished.value = true
        }
        var released = false
        defer { if !released { release.signal() } }  // an early exit does not leave the action blocked
        signal.send()
        let deadline = ContinuousClock.now + .seconds(30)  // a bound on a hang, left as soon as started
        while !started.value, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(started.value)
        // It blocks until the action has finished: on a thread of its own, not on one of the
        // cooperative pool's, which every test shares.
        let calling = Box(false)
        let returned = Box(false)
        let replacing = Task {
            await withCheckedContinuation { continuation in
                Thread {
                    calling.value = true
                    signals.onSignal(nil)
                    returned.value = true
                    continuation.resume()
                }.start()
            }
        }
        while !calling.value, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(calling.value)
        // The action is still blocked, so the call has not returned, however late this looks.
        try await Task.sleep(for: .milliseconds(200))
        #expect(!returned.value, "onSignal(nil) returned while the action was still running")
        #expect(!finished.value)
        release.signal()
        released = true
        await replacing.value
        #expect(returned.value)
        #expect(finished.value)
    }

    @Test("A signal while no action is set waits for the next one")
    func heldForTheNextAction() async throws {
        let signal = OwnThreadSignal(SIGURG)
        let signals = StopSignals([SIGURG])
        defer { signals.cancel() }
        let released = Box<Int32?>(nil)
        // Not armed yet by the first test of this suite: a source of its own, and a settled one.
        signal.send()
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

    @Test("A stop signal stops in order; another within a second is the same one again; a later one forces")
    func stopEscalation() {
        let escalation = StopEscalation()
        let start = ContinuousClock.now
        #expect(escalation.verdict(now: start) == .stopInOrder)
        #expect(escalation.verdict(now: start + .milliseconds(999)) == .repeated)
        #expect(escalation.verdict(now: start + .seconds(1)) == .force)
        #expect(escalation.verdict(now: start + .seconds(5)) == .force)
    }
}

/// Sends its signal, when asked, to a thread of its own started beforehand, so that no other
/// thread is hit: sent to the process (`kill(getpid(), …)`), it went to any thread not blocking
/// it, in whatever that thread was doing, and a `usleep` holding another suite's event loop ended
/// early (EINTR) and failed that test in CI. The thread spins rather than waits, so that the signal
/// follows the ask as closely as a `kill(2)` would: woken from a semaphore, it gave Dispatch time
/// to arm its source, and with the wait for arming removed the first test failed one run in four
/// (three in four with the spin).
private final class OwnThreadSignal: Sendable {
    private let asked = Atomic(false)

    init(_ signal: Int32) {
        Thread { [self] in
            // The thread starts with its starter's mask, and Swift's pool threads block every signal.
            var only = sigset_t()
            sigemptyset(&only)
            sigaddset(&only, signal)
            pthread_sigmask(SIG_UNBLOCK, &only, nil)
            let giveUp = ContinuousClock.now + .seconds(10)  // a test that never asks
            while !self.asked.load(ordering: .acquiring) {
                if ContinuousClock.now > giveUp { return }
            }
            pthread_kill(pthread_self(), signal)
        }.start()
    }

    func send() { self.asked.store(true, ordering: .releasing) }
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

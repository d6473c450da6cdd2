import Synchronization

@testable import RelayServer

/// A ``BudgetClock`` that stands still until a test moves it, as `EmbeddedEventLoop`'s clock
/// does: a test repays a byte budget's debt by moving both, not by sleeping through it.
final class ManualBudgetClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var clock: BudgetClock { BudgetClock(now: { self.instant.withLock { $0 } }) }

    func advance(by duration: Duration) {
        self.instant.withLock { $0 += duration }
    }
}

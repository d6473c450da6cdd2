import Synchronization

/// Whether a limit met again should be logged at its level (a warning, a notice): at most once
/// an interval, since a client that keeps meeting it (reconnecting, flooding) would otherwise
/// write a line each time. The others go to debug.
final class WarningThrottle: Sendable {
    private let interval: Duration
    private let lastWarning = Mutex<ContinuousClock.Instant?>(nil)

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    func shouldWarn(now: ContinuousClock.Instant = .now) -> Bool {
        self.lastWarning.withLock { last in
            if let last, now - last < self.interval { return false }
            last = now
            return true
        }
    }
}

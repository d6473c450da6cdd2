/// A token bucket: `rate` tokens a second up to `burst`; each message takes one (or as many
/// as the work it buys). Spent past empty (``spend(_:now:)``), it is in debt until it refills.
public struct TokenBucket: Sendable {
    private let rate: Double
    private let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    public init(rate: Double, burst: Double, now: ContinuousClock.Instant = .now) {
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = self.burst
        self.last = now
    }

    /// Takes `count` tokens if that many are available (never, for more than `burst`).
    public mutating func take(_ count: Double = 1, now: ContinuousClock.Instant = .now) -> Bool {
        self.refill(now: now)
        guard self.tokens >= count else { return false }
        self.tokens -= count
        return true
    }

    /// Spends `count` tokens whether or not there are that many: what was already done is paid
    /// for, and the debt is repaid from the refill before any token is available again.
    public mutating func spend(_ count: Double, now: ContinuousClock.Instant = .now) {
        self.refill(now: now)
        self.tokens -= count
    }

    /// The tokens the bucket holds at `now`: below zero while it is in debt.
    public mutating func tokens(now: ContinuousClock.Instant = .now) -> Double {
        self.refill(now: now)
        return self.tokens
    }

    /// How long from `now` until the bucket is out of debt: zero when it is not in debt.
    public mutating func timeUntilOutOfDebt(now: ContinuousClock.Instant = .now) -> Duration {
        .seconds(self.secondsUntilOutOfDebt(now: now))
    }

    /// ``timeUntilOutOfDebt(now:)`` in seconds.
    public mutating func secondsUntilOutOfDebt(now: ContinuousClock.Instant = .now) -> Double {
        self.refill(now: now)
        return self.tokens < 0 ? -self.tokens / self.rate : 0
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        // A reading older than the last one (a thread that read the clock, then waited for a
        // shared bucket's lock) adds nothing, and does not move `last` back.
        guard now > self.last else { return }
        let elapsed = now - self.last
        self.last = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        self.tokens = min(self.burst, self.tokens + seconds * self.rate)
    }

    /// Returns tokens taken for a message that was then handed on unhandled (whoever handles
    /// it takes its own) or refused by another budget.
    public mutating func giveBack(_ count: Double = 1) {
        self.tokens = min(self.burst, self.tokens + count)
    }
}

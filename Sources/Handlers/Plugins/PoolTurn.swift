/// A plugin pipe reader's turn on its thread of the shared task pool. A read of a pipe that holds
/// data returns without suspending, so a plugin writing faster than it is read (printing in a
/// loop) kept the thread for as long as it wrote; with one such plugin a thread, every other
/// plugin's answers waited unread until they timed out, and it was killed as hung. Yielding after
/// every read instead put a plugin's large answer behind the whole pool's queue once a read, tens
/// of times, when the pool is busy. So a reader yields once it has run ``length``: the time it
/// spent handling what it read, and the reads that returned at once.
struct PoolTurn {
    /// How long a reader runs before it gives its thread on.
    static let length: Duration = .milliseconds(10)
    /// A read taking longer waited for data, or its thread was off its core: not running time.
    static let waitingRead: Duration = .milliseconds(1)

    private var running: Duration = .zero
    private var lastRead: ContinuousClock.Instant
    private var lastHandled: ContinuousClock.Instant

    init(now: ContinuousClock.Instant = .now) {
        (self.lastRead, self.lastHandled) = (now, now)
    }

    /// Notes a read returning at `now`.
    mutating func readReturned(now: ContinuousClock.Instant = .now) {
        let read = now - self.lastHandled
        if read <= Self.waitingRead { self.running += read }
        self.lastRead = now
    }

    /// Notes a read's data handled at `now`; true when the turn is over and the reader should
    /// yield (the next turn starts then).
    mutating func handled(now: ContinuousClock.Instant = .now) -> Bool {
        self.running += now - self.lastRead
        self.lastHandled = now
        guard self.running >= Self.length else { return false }
        self.running = .zero
        return true
    }
}

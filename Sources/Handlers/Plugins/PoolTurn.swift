/// A plugin pipe reader's turn on its thread of the shared task pool. A read of a pipe that holds
/// data returns without suspending, so a plugin writing faster than it is read (printing in a
/// loop) kept the thread for as long as it wrote; with one such plugin a thread, every other
/// plugin's answers waited unread until they timed out, and it was killed as hung. Yielding after
/// every read instead put a plugin's large answer behind the whole pool's queue once a read, tens
/// of times, when the pool is busy.
struct PoolTurn {
    /// How long a reader runs before it gives its thread on.
    static let length: Duration = .milliseconds(10)

    private var started = ContinuousClock.now

    /// Gives the thread to whatever waits for one, once the turn is over.
    mutating func yieldIfOver() async {
        guard ContinuousClock.now - self.started >= Self.length else { return }
        await Task.yield()
        self.started = .now
    }
}

import Relay
import Synchronization

/// A write budget per client address for the API's writes (scores, saves, deletes): a token
/// bucket each, so that one machine cannot fill the disk (unbounded, one keyed client wrote
/// ~5,700 scores a second) while players, who write a few times a minute, never meet it.
///
/// Who is counted, and by what key, is the ``ClientAddressPolicy``'s, as for connections
/// (``ConnectionsPerAddress``). Buckets idle long enough to be full again are dropped (at most
/// once a second), so the table holds only addresses that wrote lately.
final class WritesPerAddress: Sendable {
    struct Settings: Sendable {
        /// Writes a second each address earns; 0 turns the budget off.
        var perSecond: Double
        /// Writes an address may make at once.
        var burst: Double

        /// `perSecond` writes a second, with a burst of six seconds' worth.
        init(perSecond: Double) {
            self.perSecond = max(0, perSecond)
            self.burst = max(1, 6 * perSecond)
        }
    }

    private struct Account {
        var bucket: TokenBucket
        var lastWrite: ContinuousClock.Instant
    }

    private struct Table {
        var accounts: [String: Account] = [:]
        var lastSweep: ContinuousClock.Instant?
        var sweeps = 0
    }

    let settings: Settings
    private let table = Mutex(Table())
    /// Past this many addresses, idle ones are swept out before another is added…
    private static let sweepThreshold = 10_000
    /// …at most this often: a sweep is a pass over the whole table under the lock every write
    /// takes, and when every address wrote lately it drops nothing. One per new address then cost
    /// ~1 ms a write (debug build) for a client with many addresses (one host of an IPv6 /64).
    private static let sweepInterval = Duration.seconds(1)

    init(_ settings: Settings) {
        self.settings = settings
    }

    /// Whether writes are limited at all.
    var isLimiting: Bool { self.settings.perSecond > 0 }

    /// Takes a write from the budget of the client counted under `key` (``ClientAddressPolicy``;
    /// nil: not counted); false when it has none left.
    func take(key: String?, now: ContinuousClock.Instant = .now) -> Bool {
        guard self.isLimiting, let ip = key else { return true }
        return self.table.withLock { table in
            if table.accounts[ip] == nil, table.accounts.count >= Self.sweepThreshold,
                table.lastSweep.map({ now - $0 >= Self.sweepInterval }) ?? true
            {
                self.sweep(&table, now: now)
            }
            var account =
                table.accounts[ip]
                ?? Account(
                    bucket: TokenBucket(rate: self.settings.perSecond, burst: self.settings.burst, now: now),
                    lastWrite: now)
            let taken = account.bucket.take(now: now)
            account.lastWrite = now
            table.accounts[ip] = account
            return taken
        }
    }

    /// Whole seconds until a refused address has a write again.
    var retryAfterSeconds: Int {
        Int(min(86_400, (1 / self.settings.perSecond).rounded(.up)))  // a day at most: Int(∞) traps
    }

    /// Addresses with a budget in the table (tests).
    var addressCount: Int { self.table.withLock { $0.accounts.count } }

    /// Sweeps so far (tests).
    var sweepCount: Int { self.table.withLock { $0.sweeps } }

    /// Drops the accounts whose buckets have refilled since their last write: a new one is the same.
    private func sweep(_ table: inout Table, now: ContinuousClock.Instant) {
        let refill = Duration.seconds(self.settings.burst / self.settings.perSecond)
        table.accounts = table.accounts.filter { now - $0.value.lastWrite < refill }
        table.lastSweep = now
        table.sweeps += 1
    }
}

import Relay
import Synchronization

/// A budget per client address: a token bucket each. It bounds what one machine may do however
/// many connections it uses: the API's writes (scores, saves, deletes; ``WriteBudgetMiddleware``),
/// so that one machine cannot fill the disk (unbounded, one keyed client wrote ~5,700 scores a
/// second), and new connections (``ConnectionsPerAddress``), each of which costs the server ~0.4 ms
/// to set up and tear down, the bytes of room lists it is sent (``RoomListRoutes``), and its HTTP
/// requests (``HTTPRequestPacer``), each of which costs ~75 µs of a core. Players,
/// who write a few times a minute, connect a few times a game and list rooms now and then, never
/// meet any of them.
///
/// Who is counted, and by what key, is the ``ClientAddressPolicy``'s. An IPv6 client's /64 also
/// takes from its site's bucket (its /48, ``ClientAddress/siteKey(ofLimitKey:)``), which has
/// ``siteFactor`` times the rate and burst: a provider may route one machine 65,536 /64s. Buckets
/// idle long enough to be full again are dropped (at most once a second), so the table holds only
/// addresses that took from it lately.
final class RatePerAddress: Sendable {
    struct Settings: Sendable {
        /// Tokens a second each address earns; 0 turns the budget off.
        var perSecond: Double
        /// Tokens an address may take at once.
        var burst: Double

        init(perSecond: Double, burstSeconds: Double) {
            self.perSecond = max(0, perSecond)
            self.burst = max(1, burstSeconds * perSecond)
        }

        /// API writes: bursts of six seconds' worth.
        static func writes(perSecond: Double) -> Settings { Settings(perSecond: perSecond, burstSeconds: 6) }

        /// Bytes of room lists (`GET /api/rooms`, `/api/rooms/all`): bursts of a second's worth.
        static func roomLists(bytesPerSecond: Double) -> Settings {
            Settings(perSecond: bytesPerSecond, burstSeconds: 1)
        }

        /// New connections: bursts of 16 seconds' worth (256 at the default 16 a second, as many as
        /// ``ConnectionsPerAddress/Settings/maximum`` lets an address hold open), enough for a
        /// school's players behind one address all loading the game at once.
        static func connections(perSecond: Double) -> Settings { Settings(perSecond: perSecond, burstSeconds: 16) }

        /// HTTP requests (``HTTPRequestPacer``): bursts of a minute's worth, 6,000 at the default
        /// 100 a second, enough for a school's players behind one address all opening the boss
        /// gallery (its list and 22 images) at once.
        static func requests(perSecond: Double) -> Settings { Settings(perSecond: perSecond, burstSeconds: 60) }
    }

    /// How many times an address's rate and burst an IPv6 site (a /48) has.
    static let siteFactor = Double(RelayLimits.siteFactor)

    private struct Table {
        /// Each address's bucket, and each IPv6 site's.
        var buckets: [String: TokenBucket] = [:]
        var lastSweep: ContinuousClock.Instant?
        var sweeps = 0
    }

    let settings: Settings
    private let table = Mutex(Table())
    /// Past this many addresses, idle ones are swept out before another is added…
    private static let sweepThreshold = 10_000
    /// …at most this often: a sweep is a pass over the whole table under the lock every take
    /// takes, and when every address took lately it drops nothing. One per new address then cost
    /// ~1 ms a write (debug build) for a client with many addresses (one host of an IPv6 /64).
    private static let sweepInterval = Duration.seconds(1)

    init(_ settings: Settings) {
        self.settings = settings
    }

    /// Whether anything is limited at all.
    var isLimiting: Bool { self.settings.perSecond > 0 }

    /// Takes a token from the budget of the client counted under `key` (``ClientAddressPolicy``;
    /// nil: not counted); false when it has none left.
    func take(key: String?, now: ContinuousClock.Instant = .now) -> Bool {
        guard self.isLimiting, let key else { return true }
        return self.withBuckets(of: key, now: now) { buckets in
            // Copies first: a token is taken from both, or from neither.
            var taken = buckets
            guard taken.indices.allSatisfy({ taken[$0].take(now: now) }) else { return (false, spent: false) }
            buckets = taken
            return (true, spent: true)
        }
    }

    /// Spends `count` tokens from that budget, into debt if need be, unless it is in debt already:
    /// for work whose size is known only once done, or larger than a burst. Returns nil when spent
    /// and, when refused, whole seconds until the address is out of debt (at least 1, a day at
    /// most): a `Retry-After` that is not too soon.
    func spendUnlessInDebt(_ count: Double, key: String?, now: ContinuousClock.Instant = .now) -> Int? {
        guard self.isLimiting, let key else { return nil }
        return self.withBuckets(of: key, now: now) { buckets -> (Int?, spent: Bool) in
            let wait = buckets.indices.map { buckets[$0].secondsUntilOutOfDebt(now: now) }.max() ?? 0
            guard wait == 0 else { return (Int(min(86_400, max(1, wait.rounded(.up)))), spent: false) }
            for index in buckets.indices { buckets[index].spend(count, now: now) }
            return (nil, spent: true)
        }
    }

    /// Spends `count` tokens from that budget, into debt if need be, and returns the seconds until
    /// the debt before them is repaid: when the work they pay for may start (0: at once). Work
    /// reserved this way starts as ``spendUnlessInDebt(_:key:now:)`` would let it, in the order
    /// it was reserved, without asking again.
    func reserve(_ count: Double, key: String?, now: ContinuousClock.Instant = .now) -> Double {
        guard self.isLimiting, let key else { return 0 }
        return self.withBuckets(of: key, now: now) { buckets -> (Double, spent: Bool) in
            let wait = buckets.indices.map { buckets[$0].secondsUntilOutOfDebt(now: now) }.max() ?? 0
            for index in buckets.indices { buckets[index].spend(count, now: now) }
            return (wait, spent: true)
        }
    }

    /// Gives back `count` tokens reserved (``reserve(_:key:now:)``) for work that will not be done.
    func giveBack(_ count: Double, key: String?, now: ContinuousClock.Instant = .now) {
        guard self.isLimiting, let key else { return }
        self.withBuckets(of: key, now: now) { buckets in
            for index in buckets.indices { buckets[index].giveBack(count) }
            return ((), spent: true)
        }
    }

    /// Runs `body` on the buckets of `key` and of its site, if it is an IPv6 /64 (full ones for
    /// keys not in the table), under the lock, and keeps them if it says it spent from them. A
    /// refusal keeps nothing: else each refused request from a new /64 of a site in debt added a
    /// row (up to 65,536 a /48), and the table's sweeps under this lock with them.
    private func withBuckets<Result>(
        of key: String, now: ContinuousClock.Instant, _ body: (inout [TokenBucket]) -> (Result, spent: Bool)
    ) -> Result {
        let keys = ClientAddress.keysLimiting(key)
        return self.table.withLock { table in
            if table.buckets[key] == nil, table.buckets.count >= Self.sweepThreshold,
                table.lastSweep.map({ now - $0 >= Self.sweepInterval }) ?? true
            {
                self.sweep(&table, now: now)
            }
            var buckets = keys.map { key in table.buckets[key] ?? self.fullBucket(of: key, now: now) }
            let (result, spent) = body(&buckets)
            guard spent else { return result }
            for (key, bucket) in zip(keys, buckets) { table.buckets[key] = bucket }
            return result
        }
    }

    private func fullBucket(of key: String, now: ContinuousClock.Instant) -> TokenBucket {
        let factor = ClientAddress.isSiteKey(key) ? Self.siteFactor : 1
        return TokenBucket(rate: self.settings.perSecond * factor, burst: self.settings.burst * factor, now: now)
    }

    /// The key whose budget ``take(key:now:)`` would meet empty now, `key`'s or its site's; nil when
    /// it would succeed. It takes nothing.
    func limitedKey(_ key: String?, now: ContinuousClock.Instant = .now) -> String? {
        guard self.isLimiting, let key else { return nil }
        let keys = ClientAddress.keysLimiting(key)
        return self.table.withLock { table in
            keys.first { key in
                guard var bucket = table.buckets[key] else { return false }  // new: a full burst
                return !bucket.take(now: now)  // a copy
            }
        }
    }

    /// Whether ``take(key:now:)`` would succeed now; it takes nothing (for tests: the server only takes).
    func hasToken(key: String?, now: ContinuousClock.Instant = .now) -> Bool {
        self.limitedKey(key, now: now) == nil
    }

    /// Whole seconds until a refused address has a token again.
    var retryAfterSeconds: Int {
        Int(min(86_400, (1 / self.settings.perSecond).rounded(.up)))  // a day at most: Int(∞) traps
    }

    /// Addresses with a budget in the table (tests).
    var addressCount: Int { self.table.withLock { $0.buckets.count } }

    /// Sweeps so far (tests).
    var sweepCount: Int { self.table.withLock { $0.sweeps } }

    /// Drops the buckets that are full again: a new one is the same. (One that took a token is
    /// full again a token's time later: kept for the whole burst's refill, 60 s for requests, a
    /// /48 sending each request from a new /64 held a row per request for a minute.)
    private func sweep(_ table: inout Table, now: ContinuousClock.Instant) {
        table.buckets = table.buckets.filter { key, bucket in
            let burst = self.settings.burst * (ClientAddress.isSiteKey(key) ? Self.siteFactor : 1)
            var bucket = bucket  // a copy: taking the whole burst only asks whether it is full
            return !bucket.take(burst, now: now)  // in debt or refilling: kept
        }
        table.lastSweep = now
        table.sweeps += 1
    }
}

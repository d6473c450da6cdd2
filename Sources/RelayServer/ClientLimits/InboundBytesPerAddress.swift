import Logging
import Relay
import Synchronization

/// The inbound byte budget that all room sockets of one client address share
/// (``RelayLimits/inboundBytesPerSecondPerAddress``), beside each connection's own.
///
/// Each connection's budget bounds what it costs the loop, but an address may hold 256
/// connections: 32 of them flooding the game's own `player_state` took 85 % of the server's core
/// and delayed every other room's messages by 26–32 ms at the median. While an address's budget
/// is in debt, none of its connections reads more, nor handles what it has read
/// (``RoomSocketHandler``), so one machine gets at most this rate's worth of the loop however many
/// connections it opens. A connection takes its address's share when it upgrades and gives it back
/// when it ends. An address whose last connection ends in debt keeps its entry until the debt is
/// paid, so that closing every connection and opening new ones does not wipe it; the others are
/// dropped at once, so the table holds live addresses and ones still in debt. An IPv6 client's /64
/// also pays into its site's budget (its /48, ``RatePerAddress/siteFactor`` times the rate and
/// burst): a provider may route one machine 65,536 /64s.
final class InboundBytesPerAddress: Sendable {
    /// One address's budget, held by each of its connections.
    final class Share: Sendable {
        let key: String
        /// The budget of an IPv6 /64's site, which it pays into too.
        let site: Share?
        private let bucket: Mutex<TokenBucket>
        private let table: InboundBytesPerAddress

        fileprivate init(key: String, site: Share?, bucket: TokenBucket, table: InboundBytesPerAddress) {
            self.key = key
            self.site = site
            self.bucket = Mutex(bucket)
            self.table = table
        }

        /// Charges work already read: into debt if need be.
        func spend(_ bytes: Double, now: ContinuousClock.Instant = .now) {
            self.bucket.withLock { $0.spend(bytes, now: now) }
            self.site?.spend(bytes, now: now)
        }

        /// How long until the address (and its site) is out of debt: zero when it is not in debt.
        func timeUntilOutOfDebt(now: ContinuousClock.Instant = .now) -> Duration {
            max(self.ownDebt(now: now), self.site?.ownDebt(now: now) ?? .zero)
        }

        /// How long until this budget alone is out of debt.
        fileprivate func ownDebt(now: ContinuousClock.Instant) -> Duration {
            self.bucket.withLock { $0.timeUntilOutOfDebt(now: now) }
        }

        /// The connection holding this share has ended. Call once per ``InboundBytesPerAddress/share(for:now:)``.
        func release(now: ContinuousClock.Instant = .now) { self.table.release(self, now: now) }

        /// A connection of this address waits for its debt (or its site's): logged as a warning at
        /// most every 10 s, else as debug, so that an operator learns which address to allow more.
        func logHeldBack(logger: Logger) {
            let site = self.site.flatMap { $0.ownDebt(now: .now) > .zero ? $0 : nil }
            self.table.logHeldBack((site ?? self).key, logger: logger)
        }
    }

    private struct Entry {
        let share: Share
        /// Connections holding an address's share; for a site's, the entries of its /64s, so that
        /// a site lives as long as any /64 linked to it is in the table.
        var holders: Int
    }

    /// Bytes a second each address earns; 0 turns the budget off.
    let bytesPerSecond: Double
    /// What an address may read at once: a quarter second's worth, and at least one largest message.
    let burst: Double
    private let table = Mutex(Table())
    private let warnings = WarningThrottle()

    private struct Table {
        var entries: [String: Entry] = [:]
        /// The keys of entries their last holder left in debt: all a sweep need look at (the table
        /// may hold tens of thousands of live addresses, and every open and close takes its lock).
        var leftInDebt: Set<String> = []
        /// When entries left in debt by their last connection were last looked at.
        var lastSweep: ContinuousClock.Instant?
    }

    /// How often, at most, a new address has the entries of paid-up addresses without a connection dropped.
    static let sweepInterval: Duration = .seconds(1)

    init(limits: RelayLimits) {
        self.bytesPerSecond = Double(max(0, limits.inboundBytesPerSecondPerAddress))
        self.burst = max(self.bytesPerSecond / 4, Double(limits.maxFrameBytes))
    }

    /// The budget of the address counted under `key` (``ClientAddressPolicy``), for one more of
    /// its connections; nil when the address is not counted or nothing is limited.
    func share(for key: String?, now: ContinuousClock.Instant = .now) -> Share? {
        guard self.bytesPerSecond > 0, let key else { return nil }
        return self.table.withLock { table in
            if var entry = table.entries[key] {
                entry.holders += 1
                table.entries[key] = entry
                return entry.share
            }
            if table.lastSweep.map({ now - $0 >= Self.sweepInterval }) ?? true { self.sweep(&table, now: now) }
            let site = ClientAddress.siteKey(ofLimitKey: key).map { siteKey in
                self.newHolder(of: siteKey, site: nil, in: &table, now: now)
            }
            return self.newHolder(of: key, site: site, in: &table, now: now)
        }
    }

    /// The share of `key`, with one more holder: the one in the table, or a new one.
    private func newHolder(of key: String, site: Share?, in table: inout Table, now: ContinuousClock.Instant) -> Share {
        if var entry = table.entries[key] {
            entry.holders += 1
            table.entries[key] = entry
            return entry.share
        }
        let factor = ClientAddress.isSiteKey(key) ? RatePerAddress.siteFactor : 1
        let bucket = TokenBucket(rate: self.bytesPerSecond * factor, burst: self.burst * factor, now: now)
        let share = Share(key: key, site: site, bucket: bucket, table: self)
        table.entries[key] = Entry(share: share, holders: 1)
        return share
    }

    private func release(_ share: Share, now: ContinuousClock.Instant) {
        self.table.withLock { table in self.dropHolder(of: share, from: &table, now: now) }
    }

    /// One holder fewer for `share`; an entry left without one, and out of debt, goes, and with it
    /// its hold on its site.
    private func dropHolder(of share: Share, from table: inout Table, now: ContinuousClock.Instant) {
        guard var entry = table.entries[share.key], entry.share === share else { return }
        entry.holders -= 1
        guard entry.holders == 0, share.ownDebt(now: now) == .zero else {
            table.entries[share.key] = entry
            if entry.holders == 0 { table.leftInDebt.insert(share.key) }
            return
        }
        table.entries[share.key] = nil
        if let site = share.site { self.dropHolder(of: site, from: &table, now: now) }
    }

    /// Drops the entries left without holders whose debt is paid: addresses first, which may
    /// leave their sites without one (and, in debt, left to a later sweep).
    private func sweep(_ table: inout Table, now: ContinuousClock.Instant) {
        table.lastSweep = now
        for isSite in [false, true] {
            var done: [String] = []
            for key in table.leftInDebt where ClientAddress.isSiteKey(key) == isSite {
                guard let entry = table.entries[key], entry.holders == 0 else {
                    done.append(key)  // gone, or held again
                    continue
                }
                guard entry.share.ownDebt(now: now) == .zero else { continue }
                done.append(key)
                table.entries[key] = nil
                if let site = entry.share.site { self.dropHolder(of: site, from: &table, now: now) }
            }
            table.leftInDebt.subtract(done)
        }
    }

    private func logHeldBack(_ key: String, logger: Logger) {
        logger.log(
            level: self.warnings.shouldWarn() ? .warning : .debug, "connections.per_address_byte_budget",
            metadata: [
                "client.address": "\(key)", "inbound.bytes_per_second_per_address": "\(Int(self.bytesPerSecond))",
                "effect": "reading paused (--inbound-bytes-per-second-per-address)",
            ])
    }

    /// Addresses (and IPv6 sites) with a live connection or still in debt (tests).
    var addressCount: Int { self.table.withLock { $0.entries.count } }

    /// Entries a sweep would look at: those their last holder left in debt (tests).
    var sweepCandidates: Int { self.table.withLock { $0.leftInDebt.count } }
}

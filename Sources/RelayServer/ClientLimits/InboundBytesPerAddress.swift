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
/// dropped at once, so the table holds live addresses and ones still in debt.
final class InboundBytesPerAddress: Sendable {
    /// One address's budget, held by each of its connections.
    final class Share: Sendable {
        let key: String
        private let bucket: Mutex<TokenBucket>
        private let table: InboundBytesPerAddress

        fileprivate init(key: String, bucket: TokenBucket, table: InboundBytesPerAddress) {
            self.key = key
            self.bucket = Mutex(bucket)
            self.table = table
        }

        /// Charges work already read: into debt if need be.
        func spend(_ bytes: Double, now: ContinuousClock.Instant = .now) {
            self.bucket.withLock { $0.spend(bytes, now: now) }
        }

        /// How long until the address is out of debt: zero when it is not in debt.
        func timeUntilOutOfDebt(now: ContinuousClock.Instant = .now) -> Duration {
            self.bucket.withLock { $0.timeUntilOutOfDebt(now: now) }
        }

        /// The connection holding this share has ended. Call once per ``InboundBytesPerAddress/share(for:now:)``.
        func release(now: ContinuousClock.Instant = .now) { self.table.release(self, now: now) }

        /// A connection of this address waits for its debt: logged as a warning at most every
        /// 10 s, else as debug, so that an operator learns which address to allow more.
        func logHeldBack(logger: Logger) { self.table.logHeldBack(self.key, logger: logger) }
    }

    private struct Entry {
        let share: Share
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
            if table.lastSweep.map({ now - $0 >= Self.sweepInterval }) ?? true {
                table.lastSweep = now
                table.entries = table.entries.filter { _, entry in
                    entry.holders > 0 || entry.share.timeUntilOutOfDebt(now: now) > .zero
                }
            }
            let share = Share(
                key: key, bucket: TokenBucket(rate: self.bytesPerSecond, burst: self.burst, now: now), table: self)
            table.entries[key] = Entry(share: share, holders: 1)
            return share
        }
    }

    private func release(_ share: Share, now: ContinuousClock.Instant) {
        self.table.withLock { table in
            guard var entry = table.entries[share.key], entry.share === share else { return }
            entry.holders -= 1
            let inDebt = entry.share.timeUntilOutOfDebt(now: now) > .zero
            table.entries[share.key] = entry.holders > 0 || inDebt ? entry : nil
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

    /// Addresses with a live connection or still in debt (tests).
    var addressCount: Int { self.table.withLock { $0.entries.count } }
}

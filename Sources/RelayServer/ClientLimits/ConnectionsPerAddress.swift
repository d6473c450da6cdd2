import Logging
import NIOCore
import Synchronization

/// Connections counted by the client's IP address: those open at once, so that one machine
/// cannot take every connection the server accepts (``ConnectionCap``) and keep everyone else
/// waiting, and those opened per second, so that it cannot keep a core busy opening and closing
/// them (each costs the server ~0.4 ms: one client opening 2,000 a second took 90 % of a core).
///
/// Who is counted, and by what key, is the ``ClientAddressPolicy``'s: a connection by its peer
/// address as it is accepted, but one from a trusted proxy only once it becomes a room socket, by
/// the client the proxy names. IPv6 clients are counted by their /64 prefix (``ClientAddress``),
/// and by their site's /48 too, with ``siteFactor`` times the limits: a provider routes one
/// customer up to 65,536 /64s, over which one machine could spread its connections.
final class ConnectionsPerAddress: Sendable {
    struct Settings: Sendable {
        /// Most open connections from one address.
        var maximum: Int
        /// New connections an address may open per second (``RatePerAddress``).
        var openings = RatePerAddress.Settings.connections(perSecond: 16)
    }

    /// What a new connection may do.
    enum Admission: Equatable {
        /// Not counted: no key (a trusted proxy, a loopback address, none at all).
        case uncounted
        /// Counted under this key until ``release(_:)``.
        case counted(String)
        /// Refused: its address (or IPv6 site, whose key this is then) already has the most
        /// connections allowed, or opened connections faster than allowed.
        case refused(String, Refusal)
    }

    enum Refusal: Equatable {
        case tooManyOpen
        case openedTooFast

        /// The option that sets the limit met, for the log.
        var option: String {
            switch self {
            case .tooManyOpen: "--max-connections-per-address"
            case .openedTooFast: "--new-connections-per-second-per-address"
            }
        }
    }

    let settings: Settings
    /// Open connections by address key, and by IPv6 site key (``ClientAddress/siteKey(ofLimitKey:)``).
    private let openByAddress = Mutex<[String: Int]>([:])
    /// New connections per address and per IPv6 site (``RatePerAddress/siteFactor`` times).
    private let openings: RatePerAddress
    private let warnings = WarningThrottle()

    /// How many times an address's limits an IPv6 site (a /48) has: 4,096 open connections and
    /// 256 new a second at the defaults, for a school or an office of many /64s.
    static let siteFactor = Int(RatePerAddress.siteFactor)

    init(_ settings: Settings) {
        self.settings = settings
        self.openings = RatePerAddress(settings.openings)
    }

    /// Most open connections of one IPv6 site.
    private var siteMaximum: Int {
        self.settings.maximum.multipliedReportingOverflow(by: Self.siteFactor).overflow
            ? .max : self.settings.maximum * Self.siteFactor
    }

    /// Counts a connection under `key` (``ClientAddressPolicy``), unless that key has the most
    /// allowed open already, or has opened its budget's worth lately. A connection refused for
    /// the number open takes nothing from the budget.
    func admit(key: String?, now: ContinuousClock.Instant = .now) -> Admission {
        guard let key else { return .uncounted }
        let site = ClientAddress.siteKey(ofLimitKey: key)
        return self.openByAddress.withLock { open in
            if let (limited, refusal) = self.refusal(of: key, site: site, open: open, now: now) {
                return .refused(limited, refusal)
            }
            // It has a token (checked under this lock, which every take of its holds).
            _ = self.openings.take(key: key, now: now)
            open[key, default: 0] += 1
            if let site { open[site, default: 0] += 1 }
            return .counted(key)
        }
    }

    /// The refusal, and the key whose limit it met (the address's or its site's).
    private func refusal(
        of key: String, site: String?, open: [String: Int], now: ContinuousClock.Instant
    ) -> (String, Refusal)? {
        guard open[key, default: 0] < self.settings.maximum else { return (key, .tooManyOpen) }
        if let site, open[site, default: 0] >= self.siteMaximum { return (site, .tooManyOpen) }
        return self.openings.limitedKey(key, now: now).map { ($0, .openedTooFast) }
    }

    /// Admits `channel` under `key` as ``admit(key:now:)`` does, and releases a counted connection
    /// when the channel closes; a refusal is logged. Returns whether the connection may stay.
    func admit(_ channel: any Channel, key: String?, logger: Logger) -> Bool {
        switch self.admit(key: key) {
        case .uncounted:
            return true
        case .counted(let key):
            channel.closeFuture.whenComplete { _ in self.release(key) }
            return true
        case .refused(let key, let refusal):
            self.logRefusal(of: key, refusal, logger: logger)
            return false
        }
    }

    /// Why ``admit(key:now:)`` would refuse a connection counted under `key` now, if it would; it changes
    /// nothing (``PerAddressAcceptFilter``).
    func refusal(of key: String, now: ContinuousClock.Instant = .now) -> Refusal? {
        let site = ClientAddress.siteKey(ofLimitKey: key)
        return self.openByAddress.withLock { open in self.refusal(of: key, site: site, open: open, now: now)?.1 }
    }

    /// A counted connection has closed.
    func release(_ key: String) {
        self.openByAddress.withLock { open in
            // No entry is kept for an address without connections: the map's size is bounded by
            // the connections open, not by every address ever seen.
            for counted in ClientAddress.keysLimiting(key) {
                if let count = open[counted], count > 1 { open[counted] = count - 1 } else { open[counted] = nil }
            }
        }
    }

    /// Logs a refusal: as a warning at most every 10 s (``shouldWarn(now:)``), else as debug.
    func logRefusal(of key: String, _ refusal: Refusal, logger: Logger) {
        logger.log(
            level: self.shouldWarn() ? .warning : .debug, "connections.per_address_limit",
            metadata: [
                "client.address": "\(key)", "connections.max_per_address": "\(self.settings.maximum)",
                "connections.new_per_second_per_address": "\(self.settings.openings.perSecond)",
                "effect":
                    "refused (\(refusal.option)\(ClientAddress.isSiteKey(key) ? ", \(Self.siteFactor) times for a /48" : ""))",
            ])
    }

    /// Whether a refusal should be logged as a warning: at most one every 10 s, as a client that
    /// keeps reconnecting would otherwise write a line per attempt.
    func shouldWarn(now: ContinuousClock.Instant = .now) -> Bool { self.warnings.shouldWarn(now: now) }

    /// Addresses (and IPv6 sites) with at least one counted connection (tests).
    var addressCount: Int { self.openByAddress.withLock { $0.count } }
}

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
/// the client the proxy names. IPv6 clients are counted by their /64 prefix (``ClientAddress``).
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
        /// Refused: its address already has the most connections allowed, or opened connections
        /// faster than allowed.
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
    private let openByAddress = Mutex<[String: Int]>([:])
    private let openings: RatePerAddress
    private let warnings = WarningThrottle()

    init(_ settings: Settings) {
        self.settings = settings
        self.openings = RatePerAddress(settings.openings)
    }

    /// Counts a connection under `key` (``ClientAddressPolicy``), unless that key has the most
    /// allowed open already, or has opened its budget's worth lately. A connection refused for
    /// the number open takes nothing from the budget.
    func admit(key: String?, now: ContinuousClock.Instant = .now) -> Admission {
        guard let key else { return .uncounted }
        return self.openByAddress.withLock { open in
            guard open[key, default: 0] < self.settings.maximum else { return .refused(key, .tooManyOpen) }
            guard self.openings.take(key: key, now: now) else { return .refused(key, .openedTooFast) }
            open[key, default: 0] += 1
            return .counted(key)
        }
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
        self.openByAddress.withLock { open in
            guard open[key, default: 0] < self.settings.maximum else { return .tooManyOpen }
            return self.openings.hasToken(key: key, now: now) ? nil : .openedTooFast
        }
    }

    /// A counted connection has closed.
    func release(_ key: String) {
        self.openByAddress.withLock { open in
            // No entry is kept for an address without connections: the map's size is bounded by
            // the connections open, not by every address ever seen.
            if let count = open[key], count > 1 { open[key] = count - 1 } else { open[key] = nil }
        }
    }

    /// Logs a refusal: as a warning at most every 10 s (``shouldWarn(now:)``), else as debug.
    func logRefusal(of key: String, _ refusal: Refusal, logger: Logger) {
        logger.log(
            level: self.shouldWarn() ? .warning : .debug, "connections.per_address_limit",
            metadata: [
                "client.address": "\(key)", "connections.max_per_address": "\(self.settings.maximum)",
                "connections.new_per_second_per_address": "\(self.settings.openings.perSecond)",
                "effect": "refused (\(refusal.option))",
            ])
    }

    /// Whether a refusal should be logged as a warning: at most one every 10 s, as a client that
    /// keeps reconnecting would otherwise write a line per attempt.
    func shouldWarn(now: ContinuousClock.Instant = .now) -> Bool { self.warnings.shouldWarn(now: now) }

    /// Addresses with at least one counted connection (tests).
    var addressCount: Int { self.openByAddress.withLock { $0.count } }
}

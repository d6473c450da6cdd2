import Logging
import Synchronization

/// Open connections counted by the client's IP address, so that one machine cannot take every
/// connection the server accepts (``ConnectionCap``) and keep everyone else waiting.
///
/// Who is counted, and by what key, is the ``ClientAddressPolicy``'s: a connection by its peer
/// address as it is accepted, but one from a trusted proxy only once it becomes a room socket, by
/// the client the proxy names. IPv6 clients are counted by their /64 prefix (``ClientAddress``).
final class ConnectionsPerAddress: Sendable {
    struct Settings: Sendable {
        /// Most open connections from one address.
        var maximum: Int
    }

    /// What a new connection may do.
    enum Admission: Equatable {
        /// Not counted: no key (a trusted proxy, a loopback address, none at all).
        case uncounted
        /// Counted under this key until ``release(_:)``.
        case counted(String)
        /// Its address already has the most connections allowed.
        case refused(String)
    }

    let settings: Settings
    private let openByAddress = Mutex<[String: Int]>([:])
    private let lastWarning = Mutex<ContinuousClock.Instant?>(nil)

    init(_ settings: Settings) {
        self.settings = settings
    }

    /// Counts a connection under `key` (``ClientAddressPolicy``), unless that key has the most
    /// allowed already.
    func admit(key: String?) -> Admission {
        guard let ip = key else { return .uncounted }
        return self.openByAddress.withLock { open in
            guard open[ip, default: 0] < self.settings.maximum else { return .refused(ip) }
            open[ip, default: 0] += 1
            return .counted(ip)
        }
    }

    /// A counted connection has closed.
    func release(_ ip: String) {
        self.openByAddress.withLock { open in
            // No entry is kept for an address without connections: the map's size is bounded by
            // the connections open, not by every address ever seen.
            if let count = open[ip], count > 1 { open[ip] = count - 1 } else { open[ip] = nil }
        }
    }

    /// Logs a refusal: as a warning at most every 10 s (``shouldWarn(now:)``), else as debug.
    func logRefusal(of ip: String, logger: Logger) {
        logger.log(
            level: self.shouldWarn() ? .warning : .debug, "connections.per_address_limit",
            metadata: [
                "client.address": "\(ip)", "connections.max_per_address": "\(self.settings.maximum)",
                "effect": "refused (--max-connections-per-address)",
            ])
    }

    /// Whether a refusal should be logged as a warning: at most one every 10 s, as a client that
    /// keeps reconnecting would otherwise write a line per attempt.
    func shouldWarn(now: ContinuousClock.Instant = .now) -> Bool {
        self.lastWarning.withLock { last in
            if let last, now - last < .seconds(10) { return false }
            last = now
            return true
        }
    }

    /// Addresses with at least one counted connection (tests).
    var addressCount: Int { self.openByAddress.withLock { $0.count } }
}

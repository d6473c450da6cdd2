import Logging
import NIOCore
import Synchronization

/// Open connections counted by the client's IP address, so that one machine cannot take every
/// connection the server accepts (``ConnectionCap``) and keep everyone else waiting.
///
/// Connections from loopback addresses are not counted unless ``Settings/limitsLoopback``: a
/// reverse proxy on the same machine and the benchmark tool connect from there. Behind a proxy on
/// another machine every client shares the proxy's address, so the limit must be raised or off.
/// IPv6 clients are counted by their /64 prefix, as one host has a /64 of its own (``ClientAddress``).
final class ConnectionsPerAddress: Sendable {
    struct Settings: Sendable {
        /// Most open connections from one address.
        var maximum: Int
        /// Whether loopback connections count too (tests).
        var limitsLoopback = false
    }

    /// What a new connection may do.
    enum Admission: Equatable {
        /// Not counted: a loopback address, or none at all.
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

    func admit(_ address: SocketAddress?) -> Admission {
        guard let ip = ClientAddress.key(of: address, countingLoopback: self.settings.limitsLoopback) else {
            return .uncounted
        }
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

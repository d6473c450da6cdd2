/// Who created a room, as the per-address limits count clients: the rooms an address has open
/// that it created are limited (``RelayLimits/maxRoomsPerAddress``). A client the limits do not
/// count (loopback, a trusted proxy's own connection) has none.
public struct RoomCreator: Sendable, Hashable {
    /// The client's address key (an IPv6 client's /64).
    public let address: String
    /// Its IPv6 site's key (its /48), which may hold ``siteFactor`` times an address's rooms.
    public let site: String?

    public init(address: String, site: String?) {
        self.address = address
        self.site = site
    }

    /// How many times an address's rooms an IPv6 site may hold, as for its other limits: a
    /// provider may route one customer many /64s.
    public static let siteFactor = 16
}

/// The rooms each creator has open, by address and by site (under the registry's lock).
struct RoomsByCreator {
    private var open: [String: Int] = [:]

    /// Whether `creator` may open another room with `limit` per address.
    func allows(_ creator: RoomCreator, limit: Int) -> Bool {
        guard self.open[creator.address, default: 0] < limit else { return false }
        guard let site = creator.site else { return true }
        let (siteLimit, overflow) = limit.multipliedReportingOverflow(by: RoomCreator.siteFactor)
        return overflow || self.open[site, default: 0] < siteLimit
    }

    mutating func opened(by creator: RoomCreator) {
        for key in Self.keys(of: creator) { self.open[key, default: 0] += 1 }
    }

    mutating func closed(by creator: RoomCreator) {
        for key in Self.keys(of: creator) {
            let left = self.open[key, default: 1] - 1
            self.open[key] = left > 0 ? left : nil
        }
    }

    /// Rooms open that `key` (an address or a site) created.
    func count(of key: String) -> Int { self.open[key, default: 0] }

    private static func keys(of creator: RoomCreator) -> [String] {
        [creator.address] + (creator.site.map { [$0] } ?? [])
    }
}

/// The rooms each creator has open, by address and by IPv6 site (kept under the registry's lock).
struct RoomsByCreator {
    private var open: [String: Int] = [:]

    /// Whether `creator` may open another room with `limit` per address.
    func allows(_ creator: RoomCreator, limit: Int) -> Bool {
        guard self.open[creator.address, default: 0] < limit else { return false }
        guard let site = creator.site else { return true }
        let (siteLimit, overflow) = limit.multipliedReportingOverflow(by: RelayLimits.siteFactor)
        return overflow || self.open[site, default: 0] < siteLimit
    }

    mutating func opened(by creator: RoomCreator) {
        for key in Self.keys(of: creator) { self.open[key, default: 0] += 1 }
    }

    mutating func closed(by creator: RoomCreator) {
        for key in Self.keys(of: creator) {
            let left = self.open[key, default: 0] - 1
            assert(left >= 0, "a room of \(key) closed that was not counted open")
            self.open[key] = left > 0 ? left : nil
        }
    }

    /// Rooms open that `key` (an address or a site) created.
    func count(of key: String) -> Int { self.open[key, default: 0] }

    private static func keys(of creator: RoomCreator) -> [String] {
        [creator.address] + (creator.site.map { [$0] } ?? [])
    }
}

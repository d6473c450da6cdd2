/// Who created a room, as the per-address limits count clients: the rooms an address has open
/// that it created are limited (``RelayLimits/maxRoomsPerAddress``). A client the limits do not
/// count (loopback, a trusted proxy's own connection) has none.
public struct RoomCreator: Sendable, Hashable {
    /// The client's address key (an IPv6 client's /64).
    public let address: String
    /// Its IPv6 site's key (its /48), which may hold ``RelayLimits/siteFactor`` times an address's rooms.
    public let site: String?

    public init(address: String, site: String?) {
        self.address = address
        self.site = site
    }
}

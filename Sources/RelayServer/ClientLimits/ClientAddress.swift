import NIOCore
import Relay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address as 128 bits, IPv4 mapped into IPv6 (`::ffff:a.b.c.d`), so that one comparison
/// serves both families and a dual-stack socket's IPv4 clients equal plain IPv4 ones. Plain
/// integers, not `UInt128`: that needs macOS 15, and the package builds for 14.
struct ClientAddress: Hashable, Sendable {
    let high: UInt64
    let low: UInt64

    /// `address`'s IP; nil for a Unix socket.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            self.init(v4: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            self.init(bytes: v6.address.sin6_addr)
        case .unixDomainSocket:
            return nil
        }
    }

    /// An address as text: `1.2.3.4`, `2001:db8::1`, also `[2001:db8::1]`, and either with a
    /// port (`1.2.3.4:5678`, `[2001:db8::1]:443`), as some proxies write them; nil for anything else.
    init?<Text: StringProtocol>(parsing text: Text) {
        var text = Substring(text)
        func isPort(_ text: Substring) -> Bool { !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) } }
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())) else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if let colon = text.firstIndex(of: ":"), text.contains("."),
            !text[text.index(after: colon)...].contains(":")
        {
            guard isPort(text[text.index(after: colon)...]) else { return nil }
            text = text[..<colon]  // IPv4 with a port
        }
        guard text.utf8.count <= 45 else { return nil }  // the longest address there is (INET6_ADDRSTRLEN - 1)
        let parsed: ClientAddress? = String(text).withCString { cText in
            var v4 = in_addr()
            if inet_pton(AF_INET, cText, &v4) == 1 { return ClientAddress(v4: UInt32(bigEndian: v4.s_addr)) }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, cText, &v6) == 1 { return ClientAddress(bytes: v6) }
            return nil
        }
        guard let parsed else { return nil }
        self = parsed
    }

    init(high: UInt64, low: UInt64) {
        (self.high, self.low) = (high, low)
    }

    private init(v4: UInt32) {
        self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(v4))
    }

    private init(bytes: in6_addr) {
        let (high, low) = withUnsafeBytes(of: bytes) { raw in
            (
                raw.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
                raw.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            )
        }
        self.init(high: high, low: low)
    }

    /// An IPv4 address, or one mapped into IPv6.
    var isV4: Bool { self.high == 0 && self.low >> 32 == 0xFFFF }

    /// 127.0.0.0/8 (also mapped into IPv6) or `::1`.
    var isLoopback: Bool {
        (self.isV4 && (self.low >> 24) & 0xFF == 127) || (self.high == 0 && self.low == 1)
    }

    /// The first `bits` bits (of 128; an IPv4 /n is /(96 + n)), the rest zero.
    func prefix(_ bits: Int) -> ClientAddress {
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> bits) }
        return ClientAddress(high: self.high & mask(bits), low: self.low & mask(bits - 64))
    }

    /// What the per-address limits count a client by: its IPv4 address, or an IPv6 client's /64
    /// (2^64 addresses; a host has at least one to itself, a LAN may share one), as text for logs.
    var limitKey: String {
        guard !self.isV4 else {
            return stride(from: 24, through: 0, by: -8).map { String((self.low >> UInt64($0)) & 0xFF) }.joined(
                separator: ".")
        }
        return stride(from: 48, through: 0, by: -16).map { String((self.high >> UInt64($0)) & 0xFFFF, radix: 16) }
            .joined(separator: ":") + "::/64"
    }

    /// The site an IPv6 limit key (a /64 of ``limitKey``) is in: its /48, what a provider routes to
    /// one customer at most (often a /56). Nil for an IPv4 key.
    static func siteKey(ofLimitKey key: String) -> String? {
        guard key.hasSuffix("::/64") else { return nil }
        let groups = key.dropLast(5).split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 4 else { return nil }
        return groups.prefix(3).joined(separator: ":") + "::/48"
    }

    /// Whether `key` is a site's (``siteKey(ofLimitKey:)``), whose limits are ``RatePerAddress/siteFactor`` times.
    static func isSiteKey(_ key: String) -> Bool { key.hasSuffix("::/48") }

    /// The client counted under `key` as the creator of rooms (``RelayLimits/maxRoomsPerAddress``).
    static func roomCreator(ofLimitKey key: String) -> RoomCreator {
        RoomCreator(address: key, site: self.siteKey(ofLimitKey: key))
    }

    /// The keys whose limits a client counted under `key` meets: its own, and an IPv6 /64's site.
    static func keysLimiting(_ key: String) -> [String] {
        [key] + (self.siteKey(ofLimitKey: key).map { [$0] } ?? [])
    }
}

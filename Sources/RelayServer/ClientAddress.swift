import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the per-address limits (``ConnectionsPerAddress``, ``WritesPerAddress``) name a client.
enum ClientAddress {
    /// `address`'s IP as text (an IPv6 client's /64 prefix), or nil when it is not counted: loopback (unless
    /// `countingLoopback`: a proxy on the same machine and the benchmark tool connect from there),
    /// a Unix socket, or none known. Loopback is told from the address's bytes, so an uncounted
    /// connection or request costs no text.
    static func key(of address: SocketAddress?, countingLoopback: Bool) -> String? {
        guard let address, countingLoopback || !Self.isLoopback(address) else { return nil }
        guard case .v6(let v6) = address, !Self.isMappedV4(v6.address.sin6_addr) else { return address.ipAddress }
        // One IPv6 host gets a /64 of its own, 2^64 addresses: it is counted by that prefix.
        return withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
            stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "::/64"
        }
    }

    /// `::ffff:a.b.c.d`, an IPv4 client of a dual-stack socket.
    private static func isMappedV4(_ address: in6_addr) -> Bool {
        withUnsafeBytes(of: address) { bytes in
            bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        }
    }

    /// 127.0.0.0/8, `::1`, or 127.0.0.0/8 mapped into IPv6.
    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
                let isLocalhost = bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
                return isLocalhost || (Self.isMappedV4(v6.address.sin6_addr) && bytes[12] == 127)
            }
        case .unixDomainSocket:
            return false
        }
    }
}

import NIOCore

/// How the per-address limits (``ConnectionsPerAddress``, ``WritesPerAddress``) name a client.
enum ClientAddress {
    /// `address`'s IP as text, or nil when it is not counted: loopback (unless
    /// `countingLoopback`: a proxy on the same machine and the benchmark tool connect from there),
    /// a Unix socket, or none known. Loopback is told from the address's bytes, so an uncounted
    /// connection or request costs no text.
    static func key(of address: SocketAddress?, countingLoopback: Bool) -> String? {
        guard let address, countingLoopback || !Self.isLoopback(address) else { return nil }
        return address.ipAddress
    }

    /// 127.0.0.0/8, `::1`, or 127.0.0.0/8 mapped into IPv6.
    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
                let isLocalhost = bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
                let isMappedV4Loopback =
                    bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
                    && bytes[12] == 127
                return isLocalhost || isMappedV4Loopback
            }
        case .unixDomainSocket:
            return false
        }
    }
}

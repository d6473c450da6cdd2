import NIOCore

@testable import RelayServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who the per-address limits count a connection or request as (ClientAddressPolicy's key), from
/// its peer and `X-Forwarded-For`, which any client behind a proxy writes as it likes.
///
/// Input: byte 0 picks the trusted list (bits 0–1: the default, loopback; none; `*`; remote
/// proxies beside loopback), the peer (bits 2–4) and whether loopback counts (bit 5); the rest is
/// the header, one field per line. The key is the one a plain reading gives (every entry split
/// and trimmed, then walked from the end), which the server's reading from the end, entry by
/// entry, must agree with. Each entry that is an address reads the same written as this machine
/// writes it, and with brackets or a port. A key is nil, `unparsable`, or an address's key.
struct ForwardedCheck {
    /// The key the server counts `values` from `peer` under; a seam for showing the check fails.
    var key: @Sendable (ClientAddressPolicy, SocketAddress?, [String]) -> String? = {
        $0.key(ofPeer: $1, forwardedFor: $2)
    }

    static let lists: [TrustedProxies] = [
        .loopback, .none,
        try! TrustedProxies(parsing: "*"),
        try! TrustedProxies(parsing: "10.0.0.0/8, 192.0.2.7, 2001:db8::/32, 127.0.0.1, ::1"),
    ]
    static let peers: [String] = [
        "127.0.0.1", "10.1.2.3", "203.0.113.9", "2001:db8::5", "::1", "192.0.2.7", "::ffff:10.9.9.9",
        "2001:db9::1",
    ]

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        guard let choice = input.first else { return }
        var policy = ClientAddressPolicy()
        policy.trustedProxies = Self.lists[Int(choice & 3)]
        policy.countsLoopback = choice & 0x20 != 0
        let peerAddress = try! SocketAddress(ipAddress: Self.peers[Int(choice >> 2) & 7], port: 1234)
        let header = String(decoding: UnsafeBufferPointer(rebasing: input[1...]), as: UTF8.self)
        let values = header.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let entries = Self.entries(of: values)

        let key = self.key(policy, peerAddress, values)
        let expected = Self.plainKey(policy: policy, peer: ClientAddress(peerAddress)!, entries: entries)
        try require(key == expected, "key \(key ?? "nil"), not \(expected ?? "nil"), for \(shown(Array(header.utf8)))")
        if let key, key != "unparsable" {
            let candidates = entries.compactMap { ClientAddress(parsing: $0) } + [ClientAddress(peerAddress)!]
            try require(candidates.contains { $0.limitKey == key }, "key \(key) is no entry's")
            try require(key.hasSuffix("::/64") == (ClientAddress.siteKey(ofLimitKey: key) != nil), "\(key)'s site")
        }
        for entry in entries.prefix(16) {
            try Self.readsTheSameWritten(entry)
        }
    }

    /// Every entry of every field, split at commas and trimmed of spaces and tabs; none empty. Split
    /// by bytes, as HTTP lists are: a comma a combining mark follows is no `Character` of its own.
    static func entries(of values: [String]) -> [Substring] {
        values.flatMap { value in
            var entries: [Substring] = []
            var rest = value[...]
            while let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) {
                entries.append(rest[..<comma])
                rest = rest[rest.utf8.index(after: comma)...]
            }
            return entries + [rest]
        }.map(\.withoutOptionalWhitespace).filter { !$0.isEmpty }
    }

    /// The key as the rules say it, over every entry at once: past the peer, the hops that are
    /// listed proxies are skipped from the end; a loopback one only while every hop so far was on
    /// this machine (past a remote one, it is that machine's own client).
    static func plainKey(policy: ClientAddressPolicy, peer: ClientAddress, entries: [Substring]) -> String? {
        func counted(_ address: ClientAddress) -> String? {
            policy.countsLoopback || !address.isLoopback ? address.limitKey : nil
        }
        guard policy.trustedProxies.contains(peer) else { return counted(peer) }
        var onThisMachine = peer.isLoopback
        var client: Substring?
        for entry in entries.reversed() {
            client = entry
            guard let address = ClientAddress(parsing: entry), policy.trustedProxies.lists(address),
                onThisMachine || !address.isLoopback
            else { break }
            onThisMachine = onThisMachine && address.isLoopback
        }
        guard let client else { return nil }
        guard let address = ClientAddress(parsing: client) else { return "unparsable" }
        return address.isLoopback && !onThisMachine ? address.limitKey : counted(address)
    }

    /// An entry that is an address is the same address written by `inet_ntop`, in brackets, and
    /// with a port.
    static func readsTheSameWritten(_ entry: Substring) throws(FuzzViolation) {
        guard let address = ClientAddress(parsing: entry) else { return }
        let text = Self.written(address)
        let forms = address.isV4 ? [text, text + ":8080"] : [text, "[\(text)]", "[\(text)]:443"]
        for form in forms {
            try require(ClientAddress(parsing: form) == address, "\(shown(Array(entry.utf8))) is not \(form)")
        }
    }

    /// `address` as this machine writes it: dotted for IPv4, else IPv6's shortest form.
    static func written(_ address: ClientAddress) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if address.isV4 {
            var v4 = in_addr(s_addr: UInt32(truncatingIfNeeded: address.low).bigEndian)
            _ = inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count))
        } else {
            var bytes = (0..<8).reversed().map { UInt8(truncatingIfNeeded: address.high >> ($0 * 8)) }
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: address.low >> ($0 * 8)) }
            _ = bytes.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

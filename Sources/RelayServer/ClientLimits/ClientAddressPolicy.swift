import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Which peers are reverse proxies whose `X-Forwarded-For` names the client: uvicorn's
/// `--forwarded-allow-ips`, which the old backend ran under. Addresses and networks, or `*`
/// for every peer.
struct TrustedProxies: Sendable, Equatable {
    private var networks: [Network]
    /// `*`: every peer is a proxy (a server only proxies can reach).
    private(set) var trustsEveryPeer: Bool

    private struct Network: Equatable {
        let base: ClientAddress
        let bits: Int

        /// An IPv6 network that is not within IPv4's mapped addresses holds no IPv4 peer: `::/0`
        /// or `::/64` means IPv6 clients, though mapped addresses (`::ffff:a.b.c.d`) are in its range.
        func contains(_ address: ClientAddress) -> Bool {
            guard !address.isV4 || (self.base.isV4 && self.bits >= 96) else { return false }
            return address.prefix(self.bits) == self.base
        }
    }

    /// uvicorn's default is 127.0.0.1; this is every loopback address.
    static let loopback = TrustedProxies(
        networks: [
            Network(base: ClientAddress(high: 0, low: 0xFFFF_7F00_0000), bits: 104),
            Network(base: ClientAddress(high: 0, low: 1), bits: 128),
        ], trustsEveryPeer: false)

    static let none = TrustedProxies(networks: [], trustsEveryPeer: false)

    private init(networks: [Network], trustsEveryPeer: Bool) {
        (self.networks, self.trustsEveryPeer) = (networks, trustsEveryPeer)
    }

    struct ParseError: Error, CustomStringConvertible {
        let entry: String
        /// What is wrong with an entry that is a network in form.
        var problem: String?

        var description: String {
            guard let problem else { return "'\(self.entry)' is not an IP address, a network such as 10.0.0.0/8, or *" }
            return "'\(self.entry)' \(problem)"
        }
    }

    /// A comma-separated list of addresses (`10.0.0.5`, `::1`), networks (`10.0.0.0/8`,
    /// `fd00::/8`) and `*`; empty: none.
    init(parsing list: String) throws(ParseError) {
        self = .none
        for entry in list.split(separator: ",").map(\.withoutOptionalWhitespace) where !entry.isEmpty {
            if entry == "*" {
                self.trustsEveryPeer = true
                continue
            }
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let colons = parts[0].utf8.count(where: { $0 == UInt8(ascii: ":") })
            // Bare addresses only: the forms with a port or brackets that `X-Forwarded-For` may hold
            // (`10.0.0.5:80`, `[::1]`) would be a typo here.
            guard !parts[0].contains("["), !(colons == 1 && parts[0].contains(".")),
                let address = ClientAddress(parsing: parts[0])
            else { throw ParseError(entry: String(entry)) }
            // The length is of the family the address is written in: `::ffff:0:0/96` is IPv6's,
            // though what it holds is IPv4.
            let isV4 = address.isV4 && colons == 0
            let maximum = isV4 ? 32 : 128
            guard let length = parts.count == 2 ? Int(parts[1]) : maximum, (0...maximum).contains(length) else {
                throw ParseError(entry: String(entry))
            }
            let bits = isV4 ? 96 + length : length
            // Refused as Python's strict `ip_network` refuses them (uvicorn then trusts nothing by
            // it), rather than widened: `::ffff:10.1.2.0/24` would be `::/24`, every IPv4 peer.
            guard address.isV4 == false || bits >= 96 else {
                throw ParseError(
                    entry: String(entry),
                    problem:
                        "reaches past IPv4's mapped addresses (/96 or longer); write an IPv4 network as 10.1.2.0/24")
            }
            guard address.prefix(bits) == address else {
                throw ParseError(
                    entry: String(entry), problem: "has bits set past its length; write the network's first address")
            }
            self.networks.append(Network(base: address, bits: bits))
        }
    }

    func contains(_ address: ClientAddress) -> Bool {
        self.trustsEveryPeer || self.lists(address)
    }

    /// Whether `address` is in a listed network: `*` vouches for the peer that connects, not for
    /// the hops its `X-Forwarded-For` names.
    func lists(_ address: ClientAddress) -> Bool {
        self.networks.contains { $0.contains(address) }
    }
}

/// Who a connection or a request counts as for the per-address limits (``ConnectionsPerAddress``,
/// and ``RatePerAddress`` for writes and room lists).
///
/// A peer that is a trusted proxy is not counted itself: its requests are counted by the client
/// its `X-Forwarded-For` names, and its room sockets at their upgrade. Behind such a proxy on
/// another machine every client would otherwise share one address and one budget. Loopback
/// clients are not counted unless ``countsLoopback``: the benchmark tool connects from there.
struct ClientAddressPolicy: Sendable {
    var trustedProxies = TrustedProxies.loopback
    /// Whether loopback clients count too (tests).
    var countsLoopback = false
    /// Warnings of a listed proxy whose request named no client (shared by the policy's copies).
    private let unnamedClientWarnings = WarningThrottle()
    /// Warnings of a proxy on this machine that is not listed (shared by the policy's copies).
    private let untrustedLoopbackProxyWarnings = WarningThrottle()

    /// The loopback addresses (of `127.0.0.1` and `::1`) whose clients are to be counted, but which
    /// are trusted proxies, so that a client there that sends no `X-Forwarded-For` (a load test on
    /// this machine) is not counted after all. With only `::1` listed, a client on `127.0.0.1` is
    /// counted, and the start's warning must not say otherwise.
    var loopbackAddressesCountedOnlyThroughProxyHeaders: [String] {
        guard self.countsLoopback else { return [] }
        return ["127.0.0.1", "::1"].filter { ClientAddress(parsing: $0).map(self.trustedProxies.contains) == true }
    }

    /// Warns (at most every 10 s) that a request or upgrade from `peer` whose `X-Forwarded-For`
    /// `values` name no client (no header, or only empty entries) came from a proxy the operator
    /// listed: its clients go uncounted by every per-address limit, which a proxy not set to add
    /// the header would otherwise leave unnoticed. Not for the default list, loopback, where a
    /// client without the header is this machine's (the benchmark tool).
    func warnIfProxyNamedNoClient(peer: SocketAddress?, forwardedFor values: [String] = [], logger: Logger) {
        guard self.trustedProxies != .loopback, self.isTrustedProxy(peer),
            values.isEmpty || self.forwardedClient(in: values) == nil, self.unnamedClientWarnings.shouldWarn()
        else { return }
        logger.warning(
            "proxy.client_unnamed",
            metadata: [
                "proxy.address": "\(peer?.ipAddress ?? "none")",
                "effect": "its clients are not counted by the per-address limits",
                "fix": "have the proxy set X-Forwarded-For, or take it out of --forwarded-allow-ips",
            ])
    }

    /// Warns (at most every 10 s) that a request or upgrade with `X-Forwarded-For` came from a
    /// loopback peer that is not a listed proxy while loopback clients are not counted: a proxy on
    /// this machine left out of `--forwarded-allow-ips` (`FORWARDED_ALLOW_IPS=` left empty) had
    /// every client it carries go free of every per-address limit, with nothing said.
    func warnIfLoopbackProxyUnlisted(peer: SocketAddress?, logger: Logger) {
        guard !self.countsLoopback, let address = peer.flatMap(ClientAddress.init), address.isLoopback,
            !self.trustedProxies.contains(address), self.untrustedLoopbackProxyWarnings.shouldWarn()
        else { return }
        logger.warning(
            "proxy.loopback_not_listed",
            metadata: [
                "proxy.address": "\(peer?.ipAddress ?? "none")",
                "effect": "the clients it forwards are not counted by the per-address limits",
                "fix": "list it in --forwarded-allow-ips (loopback is listed by default)",
            ])
    }

    /// Whether `peer` is a proxy whose `X-Forwarded-For` is believed.
    func isTrustedProxy(_ peer: SocketAddress?) -> Bool {
        peer.flatMap(ClientAddress.init).map(self.trustedProxies.contains) ?? false
    }

    /// The key a connection or request is counted under: nil for a loopback client or a peer
    /// without an IP address. A trusted proxy is not counted itself: its request counts as the
    /// client its `X-Forwarded-For` values name, and without them (a connection as it is
    /// accepted) not at all.
    func key(ofPeer peer: SocketAddress?, forwardedFor values: [String] = []) -> String? {
        guard let address = peer.flatMap(ClientAddress.init) else { return nil }
        guard self.trustedProxies.contains(address) else { return self.key(of: address) }
        let (client, onThisMachine) = self.walk(values, fromLoopbackPeer: address.isLoopback)
        switch client {
        // A loopback client is this machine's (the benchmark tool's) only if every hop to it was:
        // a remote proxy's own (stunnel or an onion service in front of it) is counted, or every
        // client it carries, and any client on its network writing 127.0.0.1, went free.
        case .address(let client) where client.isLoopback && !onThisMachine: return client.limitKey
        case .address(let client): return self.key(of: client)
        case .unparsable: return "unparsable"
        case nil: return nil
        }
    }

    /// The key an HTTP request is counted under: its peer's, or the client's its trusted proxy names.
    func key(of request: Request, context: some RemoteAddressRequestContext) -> String? {
        self.key(ofPeer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
    }

    private func key(of address: ClientAddress) -> String? {
        self.countsLoopback || !address.isLoopback ? address.limitKey : nil
    }

    enum ForwardedClient: Equatable {
        case address(ClientAddress)
        /// An entry that is no address ("unknown", or garbage from an untrusted hop): all such
        /// clients share one key, so that inventing one buys no budget of its own.
        case unparsable(Substring)
    }

    /// The client in `X-Forwarded-For` (every value, in order): each proxy appends the peer it
    /// saw, so it is the last entry that is not itself a listed proxy; the entries left of it
    /// were written by that client and prove nothing. With `*` alone that is the last entry, the
    /// one the connecting proxy wrote: uvicorn takes the first, which a client behind an
    /// appending proxy writes itself. Nil without entries.
    ///
    /// It is read from the end, entry by entry: a client behind the proxy may send a head's
    /// worth of entries of its own, and splitting all of them cost hundreds of short walks.
    func forwardedClient(in values: [String]) -> ForwardedClient? {
        self.walk(values, fromLoopbackPeer: true).client
    }

    /// ``forwardedClient(in:)``, and whether every hop to it (the peer's too) was on this machine.
    /// Past a hop on another machine a loopback entry is that machine's own, so it is the client
    /// even where loopback is a listed proxy (the default list, with a remote proxy added):
    /// skipped, the entry left of it, which the client writes itself, was taken for the client.
    private func walk(_ values: [String], fromLoopbackPeer: Bool) -> (client: ForwardedClient?, onThisMachine: Bool) {
        var first: ForwardedClient?
        var onThisMachine = fromLoopbackPeer
        for value in values.reversed() {
            var rest = value[...]
            while !rest.isEmpty {
                let comma = rest.utf8.lastIndex(of: UInt8(ascii: ","))
                let entry = rest[(comma.map { rest.utf8.index(after: $0) } ?? rest.startIndex)...]
                    .withoutOptionalWhitespace
                rest = rest[..<(comma ?? rest.startIndex)]
                guard !entry.isEmpty else { continue }
                let client = ClientAddress(parsing: entry).map(ForwardedClient.address) ?? .unparsable(entry)
                guard case .address(let address) = client, self.trustedProxies.lists(address),
                    onThisMachine || !address.isLoopback
                else { return (client, onThisMachine) }
                onThisMachine = onThisMachine && address.isLoopback
                first = client
            }
        }
        return (first, onThisMachine)  // every hop a trusted proxy: the first was the client
    }
}

extension HTTPField.Name {
    /// The client each proxy saw, appended hop by hop (``ClientAddressPolicy``).
    static let xForwardedFor = Self("X-Forwarded-For")!
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace around list items).
    var withoutOptionalWhitespace: Substring {
        let isText = { (byte: UInt8) in byte != 0x20 && byte != 0x09 }
        guard let first = self.utf8.firstIndex(where: isText), let last = self.utf8.lastIndex(where: isText) else {
            return ""
        }
        return self[first...last]
    }
}

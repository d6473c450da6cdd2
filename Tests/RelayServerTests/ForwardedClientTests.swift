import ArgumentParser
import Foundation
import Logging
import NIOCore
import RecordedLogs
import Testing

@testable import RelayServer

/// Behind a reverse proxy every client connects from the proxy's address. A trusted proxy's
/// `X-Forwarded-For` names the client instead, for the per-address limits; anyone else's is
/// ignored, as is the part of it a client wrote itself.
@Suite("Clients behind a trusted proxy")
struct ForwardedClientTests {
    static func peer(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 50_000) }

    /// A proxy not set to add the header, or passing on an empty one, leaves every client it
    /// carries uncounted.
    @Test(
        "A listed proxy's request or room socket naming no client (no header, or only empty entries) is warned of; one naming a client is not",
        arguments: [false, true], ["", "X-Forwarded-For:  , \r\n"])
    func proxyNamingNoClient(upgrades: Bool, namingNoClient: String) async throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        let proxy = "127.0.0.2"
        try await withRelayServer(
            logger: logger,
            configure: {
                $0.clientAddresses = ClientAddressPolicy(
                    trustedProxies: try! TrustedProxies(parsing: proxy), countsLoopback: true)
            }
        ) { port, _ in
            func warnings() -> [RecordedLogs.Entry] { records.entries.filter { $0.message == "proxy.client_unnamed" } }
            func ask(forwardedFor: String) async throws {
                if upgrades {
                    _ = try await StalledClient.connect(
                        port: port, path: "/ws/room/new", extraHeaders: forwardedFor, from: proxy)
                } else {
                    let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\(forwardedFor)Connection: close\r\n\r\n"
                    #expect(try await rawExchange(port: port, request, from: proxy).hasPrefix("HTTP/1.1 200"))
                }
            }
            try await ask(forwardedFor: "X-Forwarded-For: 203.0.113.9\r\n")
            #expect(warnings().isEmpty)
            try await ask(forwardedFor: namingNoClient)
            #expect(warnings().count == 1)
            #expect(warnings().first?.level == .warning)
            // The address alone, as `client.address` is given: not NIO's description, with the port.
            #expect(warnings().first?.metadata["proxy.address"] == "\(proxy)")
        }
    }

    /// `FORWARDED_ALLOW_IPS=` left empty behind nginx on the same machine: its peer, loopback, is
    /// then an uncounted client, and so is every player it carries, with nothing said.
    @Test(
        "A request or room socket with X-Forwarded-For from an unlisted loopback proxy is warned of, while loopback is uncounted",
        arguments: [false, true])
    func unlistedLoopbackProxy(upgrades: Bool) async throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await withRelayServer(
            logger: logger, configure: { $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none) }
        ) { port, _ in
            func warnings() -> [RecordedLogs.Entry] {
                records.entries.filter { $0.message == "proxy.loopback_not_listed" }
            }
            func ask(forwardedFor: String) async throws {
                if upgrades {
                    _ = try await StalledClient.connect(port: port, path: "/ws/room/new", extraHeaders: forwardedFor)
                } else {
                    let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n\(forwardedFor)Connection: close\r\n\r\n"
                    #expect(try await rawExchange(port: port, request).hasPrefix("HTTP/1.1 200"))
                }
            }
            try await ask(forwardedFor: "")  // this machine's own client (the benchmark tool)
            #expect(warnings().isEmpty)
            try await ask(forwardedFor: "X-Forwarded-For: 203.0.113.9\r\n")
            #expect(warnings().count == 1)
            #expect(warnings().first?.level == .warning)
            #expect(warnings().first?.metadata["proxy.address"] == "127.0.0.1")
        }
    }

    @Test("With the default list, loopback, a client without X-Forwarded-For (the benchmark tool) is not warned of")
    func loopbackNamingNoClient() async throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await withRelayServer(logger: logger) { port, _ in
            let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            #expect(try await rawExchange(port: port, request).hasPrefix("HTTP/1.1 200"))
            _ = try await StalledClient.connect(port: port, path: "/ws/room/new")
            #expect(!records.entries.contains { $0.message == "proxy.client_unnamed" })
        }
    }

    @Test("Trusted proxies are addresses, networks or *, and a bad entry names itself")
    func parsing() throws {
        let proxies = try TrustedProxies(parsing: " 10.0.0.0/8 , ::1,192.168.1.5, fd00::/8")
        for (ip, trusted) in [
            ("10.1.2.3", true), ("11.0.0.1", false), ("::1", true), ("192.168.1.5", true), ("192.168.1.6", false),
            ("fd12::7", true), ("fe00::1", false), ("::ffff:10.9.9.9", true), ("127.0.0.1", false),
        ] {
            #expect(proxies.contains(try #require(ClientAddress(parsing: ip))) == trusted, "\(ip)")
        }
        let everyone = try TrustedProxies(parsing: "*")
        let anyone = try #require(ClientAddress(parsing: "203.0.113.7"))
        #expect(everyone.trustsEveryPeer && everyone.contains(anyone))
        #expect(try TrustedProxies(parsing: "") == .none)
        #expect(try TrustedProxies(parsing: "0.0.0.0/0").contains(try #require(ClientAddress(parsing: "203.0.113.7"))))
        #expect(try !TrustedProxies(parsing: "0.0.0.0/0").contains(try #require(ClientAddress(parsing: "2001:db8::1"))))
        // An IPv6 network's length is of 128 bits, even written with IPv4's mapped form.
        let mapped = try TrustedProxies(parsing: "::ffff:0:0/96, ::ffff:192.0.2.0/120")
        for (ip, trusted) in [
            ("203.0.113.7", true), ("::ffff:192.0.2.9", true), ("2001:db8::1", false), ("::1", false),
        ] {
            #expect(mapped.contains(try #require(ClientAddress(parsing: ip))) == trusted, "\(ip)")
        }
        #expect(try TrustedProxies(parsing: "::ffff:192.0.2.0/120") == TrustedProxies(parsing: "192.0.2.0/24"))
        // An IPv6 network outside the mapped range holds IPv6 peers only, though `::ffff:a.b.c.d` is in its range.
        for network in ["::/0", "::/64", "::/80"] {
            let ipv6 = try TrustedProxies(parsing: network)
            #expect(!ipv6.contains(try #require(ClientAddress(parsing: "203.0.113.7"))), "\(network)")
            #expect(ipv6.contains(try #require(ClientAddress(parsing: "::2"))), "\(network)")
        }
        #expect(try TrustedProxies(parsing: "::/0").contains(try #require(ClientAddress(parsing: "2001:db8::1"))))
        for loopback in ["127.0.0.1", "127.200.1.1", "::1", "::ffff:127.0.0.1"] {
            #expect(TrustedProxies.loopback.contains(try #require(ClientAddress(parsing: loopback))), "\(loopback)")
        }
        for bad in [
            "10.0.0.0/33", "::1/129", "::ffff:0:0/129", "localhost", "10.0.0.0/x", "1.2.3", "10.0.0.5:80", "[::1]",
            "[::1]:80",
        ] {
            #expect(throws: TrustedProxies.ParseError.self, "\(bad)") { try TrustedProxies(parsing: "10.0.0.1,\(bad)") }
        }
        // Refused, not widened: `::ffff:10.1.2.0/24` taken as `::/24` would trust every IPv4 peer.
        for (bad, problem) in [
            ("10.1.2.3/8", "has bits set"), ("fd00::1/8", "has bits set"), ("::ffff:10.1.2.1/120", "has bits set"),
            ("::ffff:10.1.2.0/24", "reaches past"), ("::ffff:0.0.0.0/0", "reaches past"),
            ("::ffff:0:0/95", "reaches past"),
        ] {
            let error = #expect(throws: TrustedProxies.ParseError.self, "\(bad)") { try TrustedProxies(parsing: bad) }
            #expect(error?.description.contains(problem) == true, "\(bad): \(String(describing: error))")
        }
    }

    @Test("Forwarded addresses are read with or without brackets and ports, as proxies write them")
    func addressForms() {
        for (text, key) in [
            ("203.0.113.7", "203.0.113.7"), ("203.0.113.7:5678", "203.0.113.7"), ("2001:db8::1", "2001:db8:0:0::/64"),
            ("[2001:db8::1]", "2001:db8:0:0::/64"), ("[2001:db8::1]:443", "2001:db8:0:0::/64"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
        ] {
            #expect(ClientAddress(parsing: text)?.limitKey == key, "\(text)")
        }
        for garbage in ["unknown", "", "[2001:db8::1", "[2001:db8::1]:x", "203.0.113.7:", "1.2.3.4.5", "_hidden"] {
            #expect(ClientAddress(parsing: garbage) == nil, "\(garbage)")
        }
    }

    @Test("The client is the last entry that is not a trusted proxy; what it wrote left of that proves nothing")
    func walk() throws {
        let policy = ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "10.0.0.0/8"))
        func client(_ values: [String]) -> ClientAddressPolicy.ForwardedClient? { policy.forwardedClient(in: values) }
        let real = try #require(ClientAddress(parsing: "203.0.113.7"))
        #expect(client(["203.0.113.7"]) == .address(real))
        #expect(client(["203.0.113.7, 10.0.0.2"]) == .address(real))  // through two proxies
        #expect(client(["198.51.100.1, 203.0.113.7"]) == .address(real))  // the client made up the first
        #expect(client(["198.51.100.1", "203.0.113.7 ,10.0.0.9"]) == .address(real))  // several header lines
        #expect(client(["10.0.0.3, 10.0.0.2"]) == .address(try #require(ClientAddress(parsing: "10.0.0.3"))))
        #expect(client(["198.51.100.1, unknown"]) == .unparsable("unknown"))
        #expect(client([]) == nil)
        #expect(client([" , "]) == nil)

        // With * only the connecting proxy is known to be one: its entry is the client.
        let everyone = ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "*"))
        #expect(everyone.forwardedClient(in: ["198.51.100.1, 203.0.113.7"]) == .address(real))
        let everyoneAndListed = ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "*, 10.0.0.0/8"))
        #expect(everyoneAndListed.forwardedClient(in: ["198.51.100.1, 203.0.113.7, 10.0.0.2"]) == .address(real))
    }

    /// A client behind an appending proxy sends a head's worth (16 KiB) of entries; only the last
    /// ones are read, from the end (what that saves is measured in BENCHMARKS.md, session 19:
    /// this checks only the answer, as timed tests fail on a loaded machine).
    @Test("A client's 8,000 made-up entries before the proxy's own change nothing")
    func longHeader() throws {
        let proxy = try Self.peer("127.0.0.1")
        let long = String(repeating: "1,", count: 8_000) + "203.0.113.7"
        #expect(ClientAddressPolicy().key(ofPeer: proxy, forwardedFor: [long, "127.0.0.1"]) == "203.0.113.7")
        #expect(ClientAddressPolicy().key(ofPeer: proxy, forwardedFor: [String(repeating: " ,", count: 8_000)]) == nil)
    }

    @Test("Only a trusted proxy's header counts; the proxy itself is never counted")
    func keys() throws {
        let policy = ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "10.0.0.5"))
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["203.0.113.7"]) == "203.0.113.7")
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: []) == nil)
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5")) == nil)
        #expect(policy.isTrustedProxy(try Self.peer("10.0.0.5")))
        // Anyone else's header is ignored: it is counted by its own address.
        #expect(policy.key(ofPeer: try Self.peer("198.51.100.1"), forwardedFor: ["203.0.113.7"]) == "198.51.100.1")
        #expect(!policy.isTrustedProxy(try Self.peer("198.51.100.1")))
        // A client on a remote proxy's machine is counted (it is not this machine's benchmark
        // tool), under one key; through a proxy on this machine it is not. Made-up entries share one key.
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["127.0.0.1"]) == "127.0.0.1")
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["::1"]) != nil)
        #expect(ClientAddressPolicy().key(ofPeer: try Self.peer("127.0.0.1"), forwardedFor: ["127.0.0.1"]) == nil)
        // With loopback listed beside the remote proxy (the default list, one added), a loopback
        // entry past it is still its machine's client, not a hop to skip for the entry the client
        // wrote; through a proxy on this machine a loopback hop is skipped, as it was.
        let both = ClientAddressPolicy(trustedProxies: try TrustedProxies(parsing: "127.0.0.0/8,::1,10.0.0.5"))
        #expect(both.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["1.2.3.4, 127.0.0.1"]) == "127.0.0.1")
        #expect(both.key(ofPeer: try Self.peer("127.0.0.1"), forwardedFor: ["1.2.3.4, 127.0.0.1"]) == "1.2.3.4")
        #expect(both.key(ofPeer: try Self.peer("127.0.0.1"), forwardedFor: ["127.0.0.1, 10.0.0.5"]) == "127.0.0.1")
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["unknown"]) == "unparsable")
        #expect(policy.key(ofPeer: try Self.peer("10.0.0.5"), forwardedFor: ["_hidden"]) == "unparsable")
        // By default loopback is the trusted proxy (uvicorn's default too).
        #expect(
            ClientAddressPolicy().key(ofPeer: try Self.peer("127.0.0.1"), forwardedFor: ["203.0.113.7"])
                == "203.0.113.7")
    }

    @Test("--forwarded-allow-ips, or FORWARDED_ALLOW_IPS; loopback by default; a bad entry stops start-up")
    func option() throws {
        func proxies(_ arguments: [String], _ environment: [String: String] = [:]) throws -> TrustedProxies {
            try RelayCommand.parse(arguments).configuration(environment: environment).clientAddresses.trustedProxies
        }
        #expect(try proxies([]) == .loopback)
        #expect(try proxies(["--forwarded-allow-ips", ""]) == .none)
        #expect(try proxies([], ["FORWARDED_ALLOW_IPS": "10.0.0.0/8"]) == TrustedProxies(parsing: "10.0.0.0/8"))
        #expect(try proxies(["--forwarded-allow-ips", "*"], ["FORWARDED_ALLOW_IPS": "10.0.0.1"]).trustsEveryPeer)
        let error = #expect(throws: ValidationError.self) {
            try proxies(["--forwarded-allow-ips", "10.0.0.1,proxy.local"])
        }
        #expect(error?.message.contains("'proxy.local' is not an IP address") == true, "\(String(describing: error))")
    }

    @Test(
        "--count-loopback while loopback is a trusted proxy counts only through X-Forwarded-For, and says so at start")
    func countLoopbackBehindTrustedLoopback() throws {
        func policy(_ arguments: [String]) throws -> ClientAddressPolicy {
            try RelayCommand.parse(arguments).configuration(environment: [:]).clientAddresses
        }
        let trusted = try policy(["--count-loopback"])
        #expect(!trusted.loopbackAddressesCountedOnlyThroughProxyHeaders.isEmpty)
        #expect(trusted.key(ofPeer: try Self.peer("127.0.0.1")) == nil, "what the start's warning says")
        let counted = try policy(["--count-loopback", "--forwarded-allow-ips", ""])
        #expect(counted.loopbackAddressesCountedOnlyThroughProxyHeaders.isEmpty)
        #expect(counted.key(ofPeer: try Self.peer("127.0.0.1")) != nil)
        #expect(
            try policy([]).loopbackAddressesCountedOnlyThroughProxyHeaders.isEmpty,
            "loopback not counted: nothing to warn of")
        let ipv6Only = try policy(["--count-loopback", "--forwarded-allow-ips", "::1"])
        #expect(!ipv6Only.loopbackAddressesCountedOnlyThroughProxyHeaders.isEmpty, "::1 is loopback too")
        #expect(ipv6Only.key(ofPeer: try Self.peer("::1")) == nil)
        // The warning names only the address that goes uncounted: 127.0.0.1 is counted here.
        #expect(ipv6Only.loopbackAddressesCountedOnlyThroughProxyHeaders == ["::1"])
        #expect(ipv6Only.key(ofPeer: try Self.peer("127.0.0.1")) != nil)
        #expect(trusted.loopbackAddressesCountedOnlyThroughProxyHeaders == ["127.0.0.1", "::1"])
    }

    @Sendable static func post(_ score: Int, forwardedFor: String, port: Int) async throws -> String {
        let body =
            #"{"player_name":"p","score":\#(score),"coins":0,"enemies_defeated":0,"distance":0,"level":1,"game_mode":"classic"}"#
        return try await rawExchange(
            port: port,
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\n"
                + "X-Forwarded-For: \(forwardedFor)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
    }

    /// The test's client is the proxy (loopback, trusted by default), and names clients that are not.
    @Test("Writes through a proxy are budgeted per client it names, whatever a client adds to the header")
    func writesThroughAProxy() async throws {
        try await withRelayServer(configure: {
            $0.limits.writesPerAddress = .writes(perSecond: 0.001)  // no refill on a slow machine
            $0.limits.writesPerAddress.burst = 2
        }) { port, _ in
            for score in 1...2 {
                let answer = try await Self.post(score, forwardedFor: "203.0.113.7", port: port)
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
            // A new made-up first entry buys nothing: the proxy appended the real one.
            let spoofed = try await Self.post(
                3, forwardedFor: "198.51.100.\(Int.random(in: 1...254)), 203.0.113.7", port: port)
            #expect(spoofed.hasPrefix("HTTP/1.1 429"), "\(spoofed)")
            let other = try await Self.post(4, forwardedFor: "203.0.113.8", port: port)
            #expect(other.hasPrefix("HTTP/1.1 200"), "\(other)")
        }
    }

    /// With `*` the proxy that connects is trusted, not whoever wrote the entries before its own:
    /// behind an appending proxy (nginx's `$proxy_add_x_forwarded_for`) the first entry is the
    /// client's own text, so a new one per request was a new budget, or someone else's.
    @Test("With * the client is still the entry the proxy wrote, not the first one a client made up")
    func everyPeerTrusted() async throws {
        try await withRelayServer(configure: {
            $0.clientAddresses.trustedProxies = try! TrustedProxies(parsing: "*")
            $0.limits.writesPerAddress = .writes(perSecond: 0.001)
            $0.limits.writesPerAddress.burst = 2
        }) { port, _ in
            for score in 1...3 {
                let answer = try await Self.post(score, forwardedFor: "198.51.100.\(score), 203.0.113.7", port: port)
                #expect(answer.hasPrefix(score <= 2 ? "HTTP/1.1 200" : "HTTP/1.1 429"), "\(score): \(answer)")
            }
        }
    }

    @Test("Room sockets through a proxy are counted per client it names: past the limit 429, a closed one makes room")
    func roomSocketsThroughAProxy() async throws {
        try await withRelayServer(configure: { $0.connectionsPerAddress = .init(maximum: 2) }) { port, _ in
            func open(for client: String) async throws -> StalledClient {
                try await StalledClient.connect(
                    port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: \(client)\r\n")
            }
            let first = try await open(for: "203.0.113.7")
            var second: StalledClient? = try await open(for: "203.0.113.7")
            let refusal = await StalledClient.refusal(
                port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: 203.0.113.7\r\n")
            #expect(refusal?.status == 429)
            #expect(refusal?.body == #"{"detail":"Too many connections from this address"}"#)
            // Loopback: not counted.
            let others = [try await open(for: "203.0.113.8"), try await open(for: "127.0.0.1")]

            second = nil  // closed
            try await eventually { (try? await open(for: "203.0.113.7")) != nil }
            withExtendedLifetime((first, second, others)) {}
        }
    }

    @Test("Room sockets through a proxy are rate-limited per client it names: past the rate 429")
    func roomSocketRateThroughAProxy() async throws {
        try await withRelayServer(configure: {
            // 2, no refill.
            $0.connectionsPerAddress = .init(maximum: 100, openings: .init(perSecond: 0.001, burstSeconds: 2_000))
        }) { port, _ in
            func open(for client: String) async throws -> StalledClient {
                try await StalledClient.connect(
                    port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: \(client)\r\n")
            }
            for _ in 0..<2 { _ = try await open(for: "203.0.113.7") }  // each closed once opened
            let refusal = await StalledClient.refusal(
                port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: 203.0.113.7\r\n")
            #expect(refusal?.status == 429)
            #expect(refusal?.body == #"{"detail":"Too many connections from this address"}"#)
            _ = try await open(for: "203.0.113.8")
            _ = try await open(for: "127.0.0.1")  // loopback: not counted
        }
    }

    /// 127.0.0.2 is the proxy; 127.0.0.3 a client that connects directly.
    @Test("A trusted proxy's own connections are not counted as they are accepted; a direct client's are")
    func proxyConnectionsUncounted() async throws {
        try await withRelayServer(configure: {
            $0.connectionsPerAddress = .init(maximum: 1)
            $0.clientAddresses = ClientAddressPolicy(
                trustedProxies: try! TrustedProxies(parsing: "127.0.0.2"), countsLoopback: true)
        }) { port, _ in
            let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            var held: [Int32] = []
            defer { for socket in held { close(socket) } }
            for _ in 0..<3 {
                held.append(try await ConnectionsPerAddressTests.keptAliveConnection(port: port, from: "127.0.0.2"))
            }
            #expect(try await rawExchange(port: port, request, from: "127.0.0.2").hasPrefix("HTTP/1.1 200"))

            held.append(try await ConnectionsPerAddressTests.keptAliveConnection(port: port, from: "127.0.0.3"))
            try await ConnectionsPerAddressTests.expectClosedUnread(port: port, request, from: "127.0.0.3")
        }
    }

    @Test("A redirect behind a proxy that ends TLS keeps https, when the proxy is trusted")
    func redirectScheme() async throws {
        @Sendable func location(_ port: Int, proto: String) async throws -> String? {
            let answer = try await rawExchange(
                port: port,
                "GET /api/bosses/ HTTP/1.1\r\nHost: game.example\r\nX-Forwarded-Proto: \(proto)\r\nConnection: close\r\n\r\n"
            )
            let line = answer.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") }
            return line.map { $0.dropFirst("location:".count).trimmingCharacters(in: .whitespaces) }
        }
        try await withRelayServer { port, _ in
            let locations = [
                try await location(port, proto: "https"), try await location(port, proto: "http"),
                try await location(port, proto: "https, http"),
                // Two lines: the last counts, as in uvicorn (a dict of the headers keeps the last).
                try await location(port, proto: "http\r\nX-Forwarded-Proto: https"),
                try await location(port, proto: "https\r\nX-Forwarded-Proto: http"),
            ]
            #expect(
                locations == [
                    "https://game.example/api/bosses", "http://game.example/api/bosses",
                    "http://game.example/api/bosses", "https://game.example/api/bosses",
                    "http://game.example/api/bosses",
                ])
        }
        try await withRelayServer(configure: { $0.clientAddresses.trustedProxies = .none }) { port, _ in
            let untrusted = try await location(port, proto: "https")
            #expect(untrusted == "http://game.example/api/bosses")
        }
    }
}

import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RelayServer

@Suite("Connections per address")
struct ConnectionsPerAddressTests {
    /// What the default policy counts a connection from `ip` under.
    static func key(_ ip: String) throws -> String? {
        ClientAddressPolicy().key(ofPeer: try SocketAddress(ipAddress: ip, port: 50_000))
    }

    @Test("Each address gets the most connections allowed; a closed one makes room; loopback is not counted")
    func counting() throws {
        let connections = ConnectionsPerAddress(.init(maximum: 2))
        func admit(_ ip: String) throws -> ConnectionsPerAddress.Admission { connections.admit(key: try Self.key(ip)) }
        #expect(try admit("203.0.113.7") == .counted("203.0.113.7"))
        #expect(try admit("203.0.113.7") == .counted("203.0.113.7"))
        #expect(try admit("203.0.113.7") == .refused("203.0.113.7", .tooManyOpen))
        #expect(try admit("2001:db8::1") == .counted("2001:db8:0:0::/64"))
        connections.release("203.0.113.7")
        #expect(try admit("203.0.113.7") == .counted("203.0.113.7"))

        for loopback in ["127.0.0.1", "127.1.2.3", "::1"] {
            #expect(try admit(loopback) == .uncounted)
        }
        #expect(connections.admit(key: ClientAddressPolicy().key(ofPeer: nil)) == .uncounted)
        for (ip, isLoopback) in [
            ("::ffff:127.0.0.1", true), ("::ffff:128.0.0.1", false), ("128.0.0.1", false), ("126.255.255.255", false),
            ("::2", false), ("1::1", false), ("127.255.255.255", true),
        ] {
            #expect(ClientAddress(parsing: ip)?.isLoopback == isLoopback, "\(ip)")
        }

        // An address whose connections have all closed leaves nothing behind.
        for _ in 0..<2 { connections.release("203.0.113.7") }
        connections.release("2001:db8:0:0::/64")
        #expect(connections.addressCount == 0)
    }

    /// An IPv6 host has at least a /64 of its own, so it is counted by that prefix; an IPv4 client
    /// of a dual-stack socket (`::ffff:a.b.c.d`) by its IPv4 address.
    @Test("IPv6 clients are counted by their /64")
    func ipv6Prefixes() throws {
        #expect(try Self.key("2001:db8:aa:bb:1:2:3:4") == "2001:db8:aa:bb::/64")
        #expect(try Self.key("2001:db8:aa:bb:ffff::9") == "2001:db8:aa:bb::/64")
        #expect(try Self.key("2001:db8:aa:bc::1") == "2001:db8:aa:bc::/64")
        #expect(try Self.key("203.0.113.7") == "203.0.113.7")
        #expect(try Self.key("::ffff:203.0.113.7") == "203.0.113.7")
        #expect(try Self.key("::ffff:127.0.0.1") == nil)

        let connections = ConnectionsPerAddress(.init(maximum: 2))
        for ip in ["2001:db8::1", "2001:db8::2"] {
            #expect(connections.admit(key: try Self.key(ip)) == .counted("2001:db8:0:0::/64"))
        }
        #expect(connections.admit(key: try Self.key("2001:db8::3")) == .refused("2001:db8:0:0::/64", .tooManyOpen))
        #expect(connections.admit(key: try Self.key("2001:db8:0:1::3")) == .counted("2001:db8:0:1::/64"))
    }

    /// One machine may be routed a whole /48 (65,536 /64s): spread over them, its connections still
    /// meet the site's limits, 16 times an address's.
    @Test("An IPv6 site (/48) has 16 times an address's limits, over however many /64s")
    func ipv6Sites() throws {
        #expect(ClientAddress.siteKey(ofLimitKey: "2001:db8:aa:bb::/64") == "2001:db8:aa::/48")
        #expect(ClientAddress.siteKey(ofLimitKey: "203.0.113.7") == nil)

        let connections = ConnectionsPerAddress(.init(maximum: 2))
        func admit(_ ip: String) throws -> ConnectionsPerAddress.Admission { connections.admit(key: try Self.key(ip)) }
        for subnet in 0..<32 {
            let ip = "2001:db8:aa:\(String(subnet, radix: 16))::1"
            #expect(try admit(ip) == .counted(try #require(try Self.key(ip))))
        }
        #expect(try admit("2001:db8:aa:ff::1") == .refused("2001:db8:aa::/48", .tooManyOpen), "named by its site")
        #expect(try admit("2001:db8:ab:ff::1") == .counted("2001:db8:ab:ff::/64"), "another site")
        connections.release("2001:db8:aa:0::/64")
        #expect(try admit("2001:db8:aa:ff::1") == .counted("2001:db8:aa:ff::/64"))
        #expect(connections.refusal(of: "2001:db8:aa:fe::/64") == .tooManyOpen)

        // Openings: 16 at once per /64 (a second's rate of 1 here), 256 per site.
        let openings = ConnectionsPerAddress(.init(maximum: 1_000, openings: .connections(perSecond: 1)))
        let now = ContinuousClock.now
        var counted = 0
        for subnet in 0..<17 {
            for _ in 0..<16
            where openings.admit(key: "2001:db8:cc:\(subnet)::/64", now: now)
                != .refused("2001:db8:cc::/48", .openedTooFast)
            {
                counted += 1
            }
        }
        #expect(counted == 256)
    }

    @Test(
        "Each address may open a burst of connections at once, then its rate; one refused for the number open takes nothing"
    )
    func openingRate() throws {
        // A burst of 16.
        let connections = ConnectionsPerAddress(.init(maximum: 1, openings: .connections(perSecond: 1)))
        let start = ContinuousClock.now
        func admit(_ ip: String, at seconds: Double) throws -> ConnectionsPerAddress.Admission {
            connections.admit(key: try Self.key(ip), now: start + .seconds(seconds))
        }
        for _ in 0..<16 {
            #expect(try admit("203.0.113.7", at: 0) == .counted("203.0.113.7"))
            connections.release("203.0.113.7")
        }
        #expect(try admit("203.0.113.7", at: 0) == .refused("203.0.113.7", .openedTooFast))
        #expect(try admit("203.0.113.8", at: 0) == .counted("203.0.113.8"))
        #expect(try admit("127.0.0.1", at: 0) == .uncounted)
        #expect(try admit("203.0.113.7", at: 1.1) == .counted("203.0.113.7"))
        #expect(try admit("203.0.113.7", at: 1.2) == .refused("203.0.113.7", .tooManyOpen))

        // A client retrying while at its most open spends nothing: its next opening is still there.
        for _ in 0..<100 { #expect(try admit("203.0.113.8", at: 2.5) == .refused("203.0.113.8", .tooManyOpen)) }
        connections.release("203.0.113.8")
        #expect(try admit("203.0.113.8", at: 2.5) == .counted("203.0.113.8"))

        // No limit (`0` for either option): an IPv6 client's site limit, 16 times `.max`, is `.max` too.
        let unlimited = ConnectionsPerAddress(.init(maximum: .max, openings: .connections(perSecond: 0)))
        for _ in 0..<1_000 {
            #expect(unlimited.admit(key: try Self.key("203.0.113.7"), now: start) == .counted("203.0.113.7"))
            #expect(unlimited.admit(key: try Self.key("2001:db8::1"), now: start) == .counted("2001:db8:0:0::/64"))
        }
    }

    @Test("The accept filter closes a connection its address may not open before it is set up; it counts nothing")
    func acceptFilter() throws {
        // A burst of 1.
        let connections = ConnectionsPerAddress(.init(maximum: 1, openings: .connections(perSecond: 0.001)))
        let filter = PerAddressAcceptFilter(
            connections: connections, clients: ClientAddressPolicy(), logger: Logger(label: "test"))
        let server = EmbeddedChannel(handler: filter)
        /// Whether the server's next handler got a connection from `ip`, and whether that was closed.
        func accept(_ ip: String) throws -> (passed: Bool, closed: Bool) {
            let connection = EmbeddedChannel()
            // Active, with its address.
            try connection.connect(to: try SocketAddress(ipAddress: ip, port: 50_000)).wait()
            try server.writeInbound(connection as any Channel)
            connection.embeddedEventLoop.run()
            return (try server.readInbound(as: (any Channel).self) != nil, !connection.isActive)
        }
        #expect(try accept("203.0.113.7") == (passed: true, closed: false))
        #expect(connections.admit(key: "203.0.113.7") == .counted("203.0.113.7"))  // as the server would
        #expect(try accept("203.0.113.7") == (passed: false, closed: true))  // one open, the most allowed
        connections.release("203.0.113.7")
        #expect(try accept("203.0.113.7") == (passed: false, closed: true))  // its burst is spent
        #expect(try accept("203.0.113.8") == (passed: true, closed: false))
        #expect(try accept("127.0.0.1") == (passed: true, closed: false))
        #expect(connections.addressCount == 0)
        #expect(try server.finish().isClean)  // every connection it passed was read above
    }

    @Test("Warnings of refusals are at most one every 10 s")
    func warnings() {
        let connections = ConnectionsPerAddress(.init(maximum: 1))
        let start = ContinuousClock.now
        #expect(connections.shouldWarn(now: start))
        #expect(!connections.shouldWarn(now: start + .seconds(9)))
        #expect(connections.shouldWarn(now: start + .seconds(11)))
    }

    @Test("--max-connections-per-address: 256 by default, 0 for no limit")
    func option() throws {
        #expect(try RelayCommand.parse([]).configuration(environment: [:]).connectionsPerAddress.maximum == 256)
        let some = try RelayCommand.parse(["--max-connections-per-address", "8"]).configuration(environment: [:])
        #expect(some.connectionsPerAddress.maximum == 8)
        let none = try RelayCommand.parse(["--max-connections-per-address", "0"]).configuration(environment: [:])
        #expect(none.connectionsPerAddress.maximum == .max)
        #expect(!none.clientAddresses.countsLoopback)
    }

    @Test("--new-connections-per-second-per-address: 16 by default (bursts of 256), 0 for no limit")
    func openingsOption() throws {
        let defaults = try RelayCommand.parse([]).configuration(environment: [:]).connectionsPerAddress.openings
        #expect(defaults.perSecond == 16 && defaults.burst == 256)
        let some = try RelayCommand.parse(["--new-connections-per-second-per-address", "2"]).configuration(
            environment: [:])
        #expect(some.connectionsPerAddress.openings.perSecond == 2 && some.connectionsPerAddress.openings.burst == 32)
        let none = try RelayCommand.parse(["--new-connections-per-second-per-address", "0"]).configuration(
            environment: [:])
        #expect(none.connectionsPerAddress.openings.perSecond == 0)
    }

    @Test("The server's channel has the accept filter in its pipeline once it runs")
    func acceptFilterInstalled() async throws {
        final class Found: Sendable { let filter = Mutex(false) }
        let found = Found()
        try await withRelayServer(onServerRunning: { serverChannel in
            let filter = try? await serverChannel.pipeline.handler(type: PerAddressAcceptFilter.self).get()
            found.filter.withLock { $0 = filter != nil }
        }) { _, _ in
            #expect(found.filter.withLock { $0 })
        }
    }

    /// Clients on 127.0.0.2 and 127.0.0.3, each an address of its own.
    @Test("Past its rate an address's new connections are closed unread; other addresses are served")
    func liveOpeningRate() async throws {
        let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            // 3, no refill.
            $0.connectionsPerAddress = .init(maximum: 100, openings: .init(perSecond: 0.001, burstSeconds: 3_000))
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            for _ in 0..<3 {
                #expect(try await rawExchange(port: port, request, from: "127.0.0.2").hasPrefix("HTTP/1.1 200"))
            }
            try await Self.expectClosedUnread(port: port, request, from: "127.0.0.2")
            #expect(try await rawExchange(port: port, request, from: "127.0.0.3").hasPrefix("HTTP/1.1 200"))
        }
    }

    /// Clients on 127.0.0.2 and 127.0.0.3, each an address of its own (the test's own client is on 127.0.0.1).
    @Test(
        "Past its limit an address's new connections are closed unread; other addresses are served; a closed one makes room"
    )
    func liveLimit() async throws {
        let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            $0.connectionsPerAddress = .init(maximum: 2)
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            let first = try await Self.keptAliveConnection(port: port, from: "127.0.0.2")
            defer { close(first) }
            let second = try await Self.keptAliveConnection(port: port, from: "127.0.0.2")

            // The third is accepted by the kernel, then closed by the server without an answer.
            try await Self.expectClosedUnread(port: port, request, from: "127.0.0.2")
            #expect(try await rawExchange(port: port, request, from: "127.0.0.3").hasPrefix("HTTP/1.1 200"))

            close(second)
            try await eventually {
                try await rawExchange(port: port, request, from: "127.0.0.2").hasPrefix("HTTP/1.1 200")
            }
        }
    }

    /// `request` from `source` gets no answer, and the server closes the connection: it is not
    /// left open until the client gives up (``rawClientPatienceSeconds`` without a byte), which would
    /// hold a descriptor. No closer bound on the time (``closedAtOnce``): the refusal runs on the
    /// shared loops, which a loaded run has held for seconds.
    static func expectClosedUnread(
        port: Int, _ request: String, from source: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let refused = try await rawExchangeUntilClosed(port: port, request, from: source)
        #expect(
            refused.answer.isEmpty && refused.serverClosed && refused.elapsed < closedAtOnce, "\(refused)",
            sourceLocation: sourceLocation)
    }

    /// A connection from `source` that has had one request answered, so the server has surely
    /// counted it (new connections are set up on several event loops, in no set order).
    static func keptAliveConnection(port: Int, from source: String) async throws -> Int32 {
        try await onOwnThread {
            let descriptor = try loopbackSocket(port: port, from: source)
            // Without it, an answer that never comes would hang the whole run.
            var timeout = timeval(tv_sec: rawClientPatienceSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = Array("GET /api/rooms HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
                close(descriptor)
                throw StalledClientError.write
            }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: answer, as: UTF8.self).hasSuffix("\r\n\r\n[]") {
                let count = read(descriptor, &buffer, buffer.count)
                guard count > 0 else {
                    close(descriptor)
                    throw StalledClientError.read
                }
                answer += buffer[..<count]
            }
            return descriptor
        }
    }

    @Test("Loopback connections are not counted unless asked")
    func loopbackUncounted() async throws {
        try await withRelayServer(configure: { $0.connectionsPerAddress = .init(maximum: 1) }) { port, _ in
            let held = try (0..<3).map { _ in try loopbackSocket(port: port) }
            defer { for socket in held { close(socket) } }
            let answer = try await rawExchange(
                port: port, "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        }
    }
}

import Foundation
import NIOCore
import Testing

@testable import RelayServer

@Suite("Rates per address: API writes, new connections")
struct RatePerAddressTests {
    @Test("Each address has its own bucket: a burst of six seconds' worth, then its rate")
    func buckets() throws {
        func address(_ ip: String) throws -> String? { try ConnectionsPerAddressTests.key(ip) }
        let writes = RatePerAddress(.writes(perSecond: 1))
        let start = ContinuousClock.now
        for _ in 0..<6 { #expect(writes.take(key: try address("203.0.113.7"), now: start)) }
        #expect(!writes.take(key: try address("203.0.113.7"), now: start))
        #expect(writes.take(key: try address("203.0.113.8"), now: start))
        #expect(writes.take(key: try address("203.0.113.7"), now: start + .seconds(1.1)))
        #expect(!writes.take(key: try address("203.0.113.7"), now: start + .seconds(1.2)))
        #expect(writes.retryAfterSeconds == 1)
        #expect(RatePerAddress(.writes(perSecond: 0.001)).retryAfterSeconds == 1_000)
        #expect(RatePerAddress(.writes(perSecond: 1e-300)).retryAfterSeconds == 86_400)

        // Loopback and unknown addresses are not counted; a rate of 0 counts nobody.
        for _ in 0..<10 {
            #expect(
                writes.take(key: try address("127.0.0.1"), now: start)
                    && writes.take(key: ClientAddressPolicy().key(ofPeer: nil), now: start))
        }
        let unlimited = RatePerAddress(.writes(perSecond: 0))
        for _ in 0..<10 { #expect(unlimited.take(key: try address("203.0.113.7"), now: start)) }
        #expect(unlimited.addressCount == 0)
    }

    /// One machine may be routed a whole /48: its /64s share a site's bucket of 16 times the rate.
    @Test("An IPv6 site (/48) has 16 times an address's budget, over however many /64s")
    func sites() {
        let writes = RatePerAddress(.writes(perSecond: 1))  // 6 at once per /64, 96 per /48
        let start = ContinuousClock.now
        var taken = 0
        for subnet in 0..<17 {
            for _ in 0..<6 where writes.take(key: "2001:db8:aa:\(subnet)::/64", now: start) { taken += 1 }
        }
        #expect(taken == 96)
        #expect(writes.limitedKey("2001:db8:aa:99::/64", now: start) == "2001:db8:aa::/48")
        #expect(writes.take(key: "2001:db8:ab:0::/64", now: start), "another site")
        #expect(writes.take(key: "2001:db8:aa:99::/64", now: start + .seconds(0.1)), "the site's rate: 16 a second")
        // Refused, a new /64 of a spent site adds no row: a /48 could otherwise fill the table.
        let rows = writes.addressCount
        for subnet in 100..<200 { #expect(!writes.take(key: "2001:db8:aa:\(subnet)::/64", now: start + .seconds(0.1))) }
        #expect(writes.addressCount == rows)

        // Bytes of room lists: a site in debt refuses each of its /64s until paid.
        let lists = RatePerAddress(.roomLists(bytesPerSecond: 1_000))  // 1,000 at once, 16,000 per site
        #expect(lists.spendUnlessInDebt(17_000, key: "2001:db8:cc:1::/64", now: start) == nil)
        #expect(lists.spendUnlessInDebt(1, key: "2001:db8:cc:2::/64", now: start) == 1, "its site is in debt")
        #expect(lists.addressCount == 2, "the /64 and its site that spent; not the one refused")
    }

    /// A bucket that gave one write is full again 0.1 s later, not after the burst's 6 s: kept that
    /// long, every write of a /48 from a new /64 held a row, and the sweeps passed over them all.
    @Test("The table keeps only addresses whose budgets are still refilling")
    func sweep() throws {
        func address(_ ip: String) throws -> String? { try ConnectionsPerAddressTests.key(ip) }
        let writes = RatePerAddress(.writes(perSecond: 10))  // a token a 0.1 s, bursts of 60
        let start = ContinuousClock.now
        for index in 0..<10_000 { _ = writes.take(key: try address("10.0.\(index / 256).\(index % 256)"), now: start) }
        #expect(writes.addressCount == 10_000)
        _ = writes.take(key: try address("203.0.113.7"), now: start + .milliseconds(50))  // half a token short
        #expect(writes.sweepCount == 1)
        #expect(writes.addressCount == 10_001)
        _ = writes.take(key: try address("203.0.113.8"), now: start + .seconds(1.2))  // all full again
        #expect(writes.sweepCount == 2)
        #expect(writes.addressCount == 1)
    }

    /// 10,000 addresses that all wrote within the last refill, then a new address per write (a
    /// client with many /64s): a sweep per new address would find nothing to drop and cost a pass
    /// over the whole table each time, under the lock every write takes.
    @Test("Sweeps run at most once a second, however many new addresses write")
    func sweepsAreRationed() throws {
        func address(_ index: Int) throws -> String? {
            try ConnectionsPerAddressTests.key("2001:db8:\(String(index, radix: 16))::1")  // a /64 each
        }
        let writes = RatePerAddress(.writes(perSecond: 10))  // a bucket refills in 6 s
        let start = ContinuousClock.now
        for index in 0..<10_000 { _ = writes.take(key: try address(index), now: start) }
        for index in 10_000..<15_000 {
            _ = writes.take(key: try address(index), now: start + .milliseconds(index - 10_000) / 10)
        }
        #expect(writes.sweepCount == 1)
        #expect(writes.addressCount == 30_000, "each /64 and its site's /48 (one per /64 here)")
        // Once they are idle, the next new address still clears them out.
        _ = writes.take(key: try address(20_000), now: start + .seconds(7))
        #expect(writes.sweepCount == 2)
        #expect(writes.addressCount == 2)
    }

    @Test("--writes-per-second-per-address: 10 by default (bursts of 60), 0 for no limit")
    func option() throws {
        let defaults = try RelayCommand.parse([]).configuration(environment: [:]).limits.writesPerAddress
        #expect(defaults.perSecond == 10 && defaults.burst == 60)
        let none = try RelayCommand.parse(["--writes-per-second-per-address", "0"]).configuration(environment: [:])
        #expect(none.limits.writesPerAddress.perSecond == 0)
    }

    /// Clients on 127.0.0.2 and 127.0.0.3, each an address of its own.
    @Test(
        "Past its budget an address's writes get 429 with Retry-After and store nothing; reads and other addresses go on"
    )
    func liveBudget() async throws {
        @Sendable func post(_ score: Int, from source: String, port: Int) async throws -> String {
            let body =
                #"{"player_name":"p","score":\#(score),"coins":0,"enemies_defeated":0,"distance":0,"level":1,"game_mode":"classic"}"#
            return try await rawExchange(
                port: port,
                "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)",
                from: source)
        }
        try await withRelayServer(configure: {
            // Bursts of 3, and a write back only after 1,000 s: no refill on a slow machine.
            $0.limits.writesPerAddress = .writes(perSecond: 0.001)
            $0.limits.writesPerAddress.burst = 3
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            for score in 1...3 {
                let answer = try await post(score, from: "127.0.0.2", port: port)
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
            }
            let refused = try await post(4, from: "127.0.0.2", port: port)
            #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused)")
            #expect(refused.lowercased().contains("\r\nretry-after: 1000\r\n"), "\(refused)")
            #expect(refused.hasSuffix(#"{"detail":"Too many writes from this address, try again shortly"}"#))

            let leaderboard = try await rawExchange(
                port: port,
                "GET /api/scores/leaderboard HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nConnection: close\r\n\r\n",
                from: "127.0.0.2")
            #expect(leaderboard.hasPrefix("HTTP/1.1 200"), "\(leaderboard)")
            #expect(leaderboard.components(separatedBy: #""player_name":"p""#).count - 1 == 3, "\(leaderboard)")

            let other = try await post(5, from: "127.0.0.3", port: port)
            #expect(other.hasPrefix("HTTP/1.1 200"), "\(other)")
        }
    }

    /// Only GET, HEAD and OPTIONS are free: a DELETE removes a row as surely as a POST adds one,
    /// and an address past its budget must not go on wiping saved games.
    @Test("Past its budget an address's DELETE gets 429 with Retry-After, and the saved game stays")
    func deleteIsAWrite() async throws {
        @Sendable func ask(_ head: String, body: String = "", port: Int) async throws -> String {
            try await rawExchange(
                port: port,
                "\(head) HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)",
                from: "127.0.0.2")
        }
        try await withRelayServer(configure: {
            $0.limits.writesPerAddress = .writes(perSecond: 0.001)  // no refill on a slow machine
            $0.limits.writesPerAddress.burst = 3
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            for level in 1...3 {
                let saved = try await ask(
                    "POST /api/save_game", body: String(buffer: saveBody(name: "keeper", level: level)), port: port)
                #expect(saved.hasPrefix("HTTP/1.1 200"), "\(saved)")
            }
            let refused = try await ask("DELETE /api/save_game/keeper", port: port)
            #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused)")
            #expect(refused.lowercased().contains("\r\nretry-after: 1000\r\n"), "\(refused)")
            let loaded = try await ask("GET /api/load_game/keeper", port: port)
            #expect(loaded.hasPrefix("HTTP/1.1 200"), "\(loaded)")
            #expect(loaded.contains("keeper") && loaded.contains("\"level\":3"), "still saved: \(loaded)")
        }
    }
}

@Suite("Room lists per address")
struct RoomListsPerAddressTests {
    @Test("A spend larger than the burst goes through once; then the address waits out its debt")
    func spendingIntoDebt() throws {
        let lists = RatePerAddress(.roomLists(bytesPerSecond: 1_000))  // a burst of 1,000 bytes
        let client = try ConnectionsPerAddressTests.key("203.0.113.7")
        let start = ContinuousClock.now
        #expect(lists.spendUnlessInDebt(3_000, key: client, now: start) == nil)  // 2,000 in debt: two seconds
        #expect(lists.spendUnlessInDebt(10, key: client, now: start + .seconds(0.5)) == 2)  // Retry-After: 1.5 s, up
        #expect(lists.spendUnlessInDebt(10, key: client, now: start + .seconds(1.9)) != nil)
        #expect(lists.spendUnlessInDebt(10, key: try ConnectionsPerAddressTests.key("203.0.113.8"), now: start) == nil)
        #expect(lists.spendUnlessInDebt(10, key: client, now: start + .seconds(2.1)) == nil)
        // Loopback: not counted.
        #expect(lists.spendUnlessInDebt(1e9, key: try ConnectionsPerAddressTests.key("127.0.0.1"), now: start) == nil)
    }

    /// 10,000 other addresses make the table sweep; an address whose last list put it two seconds
    /// in debt, idle for one and a half, must not come out of the sweep with a full burst.
    @Test("A sweep keeps an address still in debt, however long it has been idle")
    func sweepKeepsDebts() throws {
        let lists = RatePerAddress(.roomLists(bytesPerSecond: 1_000))  // bursts of 1,000 bytes
        let client = try ConnectionsPerAddressTests.key("203.0.113.7")
        let start = ContinuousClock.now
        #expect(lists.spendUnlessInDebt(3_000, key: client, now: start) == nil)  // 2,000 in debt: out of it at 2 s
        for index in 0..<10_000 {
            let other = try ConnectionsPerAddressTests.key("10.0.\(index / 256).\(index % 256)")
            _ = lists.spendUnlessInDebt(1, key: other, now: start)
        }
        _ = lists.spendUnlessInDebt(
            1, key: try ConnectionsPerAddressTests.key("203.0.113.8"), now: start + .seconds(1.5))
        #expect(lists.sweepCount == 2)  // one as the table filled, one now
        #expect(lists.spendUnlessInDebt(10, key: client, now: start + .seconds(1.5)) != nil)
        #expect(lists.spendUnlessInDebt(10, key: client, now: start + .seconds(2.1)) == nil)
    }

    @Test("Past its budget of room lists an address gets 429 with Retry-After; other addresses are served")
    func liveBudget() async throws {
        let request = "GET /api/rooms/all HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            $0.limits.roomListsPerAddress = .roomLists(bytesPerSecond: 0.001)  // a burst of one byte, no refill
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            let first = try await rawExchange(port: port, request, from: "127.0.0.2")
            #expect(first.hasPrefix("HTTP/1.1 200") && first.hasSuffix("\r\n\r\n[]"), "\(first)")
            let joinable = request.replacingOccurrences(of: "/all", with: "")
            let refused = try await rawExchange(port: port, joinable, from: "127.0.0.2")
            #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused)")
            // 1 byte of debt at 0.001 a second: 1,000 s, less what a slow machine took meanwhile.
            let retryAfter = refused.lowercased().split(separator: "\r\n").first { $0.hasPrefix("retry-after: ") }
            #expect(retryAfter.flatMap { Int($0.dropFirst("retry-after: ".count)) }.map((900...1_000).contains) == true)
            #expect(refused.hasSuffix(#"{"detail":"Too many room lists from this address, try again shortly"}"#))
            #expect(try await rawExchange(port: port, request, from: "127.0.0.3").hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test("A room-list 429 carries the CORS and security headers every other answer has, and shows its Retry-After")
    func refusalHasTheHeaders() async throws {
        let request =
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            $0.limits.roomListsPerAddress = .roomLists(bytesPerSecond: 0.001)
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            _ = try await rawExchange(port: port, request, from: "127.0.0.2")
            let refused = try await rawExchange(port: port, request, from: "127.0.0.2").lowercased()
            #expect(refused.hasPrefix("http/1.1 429"), "\(refused)")
            #expect(refused.contains("\r\naccess-control-allow-origin: http://localhost:3000\r\n"), "\(refused)")
            #expect(refused.contains("\r\nx-content-type-options: nosniff\r\n"), "\(refused)")
            // Not a header a page may read unless told: without this the game cannot back off.
            #expect(refused.contains("\r\naccess-control-expose-headers: retry-after\r\n"), "\(refused)")
            // An answer without Retry-After exposes nothing.
            let fine = try await rawExchange(port: port, request, from: "127.0.0.3").lowercased()
            #expect(fine.hasPrefix("http/1.1 200"), "\(fine)")
            #expect(!fine.contains("access-control-expose-headers"), "\(fine)")
        }
    }
}

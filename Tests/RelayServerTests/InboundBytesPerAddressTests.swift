import ChildProcess
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import RecordedLogs
import Relay
import Synchronization
import Testing

@testable import RelayServer

/// The byte budget all room sockets of one client address share (``InboundBytesPerAddress``).
@Suite("Inbound bytes per address")
struct InboundBytesPerAddressTests {
    /// A shared budget of `rate` bytes a second; each connection's own is far larger.
    static func limits(addressRate rate: Int) -> RelayLimits {
        var limits = RoomSocketHandlerTests.byteBudget(perSecond: 1 << 20)
        limits.inboundByteBurst = 1 << 20
        limits.inboundBytesPerSecondPerAddress = rate
        return limits
    }

    @Test(
        "Connections of one address share one budget, other addresses have their own; it goes with the last connection"
    )
    func sharedAndGivenBack() throws {
        let table = InboundBytesPerAddress(limits: Self.limits(addressRate: 1_000))
        #expect(table.burst == 1_024, "at least one largest message")
        let first = try #require(table.share(for: "10.0.0.1"))
        let second = try #require(table.share(for: "10.0.0.1"))
        let other = try #require(table.share(for: "10.0.0.2"))
        #expect(first === second)
        #expect(other !== first)
        #expect(table.addressCount == 2)

        let now = ContinuousClock.now
        first.spend(2_024, now: now)  // a second's worth past the burst
        #expect(second.timeUntilOutOfDebt(now: now) == .seconds(1))
        #expect(other.timeUntilOutOfDebt(now: now) == .zero)

        first.release(now: now)
        #expect(table.addressCount == 2, "the address still has a connection")
        other.release(now: now)
        #expect(table.addressCount == 1, "out of debt, its last connection takes the entry with it")
        second.release(now: now + .seconds(2))
        #expect(table.addressCount == 0)
        let again = try #require(table.share(for: "10.0.0.1"))
        #expect(again !== first, "a new connection of a paid-up address starts afresh")
    }

    @Test("An address whose last connection ends in debt keeps the debt for its next connection, until it is paid")
    func debtOutlivesTheConnections() throws {
        let table = InboundBytesPerAddress(limits: Self.limits(addressRate: 1_000))
        let now = ContinuousClock.now
        let first = try #require(table.share(for: "10.0.0.1", now: now))
        first.spend(3_024, now: now)  // two seconds' worth past the burst
        first.release(now: now)
        #expect(table.addressCount == 1, "kept: it is in debt")
        let reopened = try #require(table.share(for: "10.0.0.1", now: now + .milliseconds(500)))
        #expect(reopened === first)
        #expect(reopened.timeUntilOutOfDebt(now: now + .milliseconds(500)) == .milliseconds(1_500))
        reopened.release(now: now + .seconds(1))
        // Live addresses are not what a sweep looks at: only the one left in debt is.
        for index in 0..<1_000 { _ = try #require(table.share(for: "10.1.\(index / 256).\(index % 256)", now: now)) }
        #expect(table.sweepCandidates == 1)

        // Once paid, the entry goes at the next sweep, when a new address comes (at most once a second).
        _ = try #require(table.share(for: "10.0.0.2", now: now + .seconds(3)))
        #expect(table.addressCount == 1_001, "10.0.0.1's paid-up entry was swept")
        #expect(table.sweepCandidates == 0)
    }

    /// One machine may be routed a whole /48: its /64s also pay into their site's budget, of 16
    /// times the rate and burst, which holds them all back once it is in debt.
    @Test("An IPv6 site (/48) has 16 times an address's budget, over however many /64s")
    func sites() throws {
        let table = InboundBytesPerAddress(limits: Self.limits(addressRate: 1_000))  // burst 1,024; a site's 16,384
        let now = ContinuousClock.now
        let first = try #require(table.share(for: "2001:db8:aa:1::/64", now: now))
        let second = try #require(table.share(for: "2001:db8:aa:2::/64", now: now))
        let elsewhere = try #require(table.share(for: "2001:db8:bb:1::/64", now: now))
        #expect(first.site === second.site && first.site !== elsewhere.site)
        #expect(table.addressCount == 5, "three /64s and two sites")
        first.spend(20_000, now: now)  // 3,616 past the site's burst: 0.226 s at 16,000 a second
        let secondsDebt = second.timeUntilOutOfDebt(now: now)
        #expect(secondsDebt > .milliseconds(220) && secondsDebt < .milliseconds(230), "\(secondsDebt)")
        #expect(elsewhere.timeUntilOutOfDebt(now: now) == .zero)

        // The site stays while any of its /64s is in the table, and goes with the last, once paid.
        second.release(now: now)
        #expect(table.addressCount == 4, "the second /64 went; its site stays for the first")
        first.release(now: now + .seconds(30))  // its own debt (~19 s) paid
        #expect(table.addressCount == 2, "the first /64 went, and its site with it")
        let again = try #require(table.share(for: "2001:db8:aa:1::/64", now: now + .seconds(30)))
        #expect(again.site !== first.site && again.timeUntilOutOfDebt(now: now + .seconds(30)) == .zero)

        // A /64 kept for its debt keeps its site: the next connection shares both, and a sweep,
        // once both are paid, takes both.
        let kept = try #require(table.share(for: "2001:db8:cc:1::/64", now: now + .seconds(30)))
        kept.spend(20_000, now: now + .seconds(30))
        kept.release(now: now + .seconds(30))
        let back = try #require(table.share(for: "2001:db8:cc:1::/64", now: now + .seconds(31)))
        #expect(back === kept && back.site === kept.site)
        back.release(now: now + .seconds(31))
        let count = table.addressCount
        _ = table.share(for: "203.0.113.9", now: now + .seconds(90))
        #expect(table.addressCount == count - 2 + 1, "the paid-up /64 and its site swept, the new address in")
    }

    @Test("Uncounted clients, and every client when the rate is zero, have no shared budget")
    func nothingShared() {
        #expect(InboundBytesPerAddress(limits: Self.limits(addressRate: 1_000)).share(for: nil) == nil)
        let off = InboundBytesPerAddress(limits: Self.limits(addressRate: 0))
        #expect(off.share(for: "10.0.0.1") == nil)
        #expect(off.addressCount == 0)
        #expect(
            InboundBytesPerAddress(limits: Self.limits(addressRate: 1 << 20)).burst == 262_144, "a quarter second's")
    }

    @Test("Each frame costs the address a fixed price beyond its bytes")
    func framesCost() throws {
        let limits = Self.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let share = try #require(table.share(for: "10.0.0.1"))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            try RoomSocketHandlerTests.makeHandler(limits: limits, addressBudget: share))
        let start = ContinuousClock.now
        try channel.writeInbound(RoomSocketHandlerTests.pings(10))  // 220 bytes in 10 frames
        let owed = 220 + 10 * RelayLimits.bytesChargedPerFrame - 1_024  // past the burst
        let wait = share.timeUntilOutOfDebt()
        // At 1,000 bytes a second, ~1.6 s from the read (a little less by now).
        #expect(wait <= .seconds(Double(owed) / 1_000))
        #expect(wait >= .seconds(Double(owed) / 1_000) - (ContinuousClock.now - start) - .milliseconds(1))
        _ = try? channel.finish()
    }

    @Test("Reading pauses while the connection's address is in debt, though its own budget is not; then resumes")
    func readingPausesForTheAddress() throws {
        // 40 pings cost the address 880 bytes and 40 frames: ~10 KB past its burst, ~2 s.
        let limits = Self.limits(addressRate: 5_000)
        let table = InboundBytesPerAddress(limits: limits)
        let time = ManualBudgetClock()
        let (channel, counter) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, addressBudget: table.share(for: "10.0.0.1"), budgetClock: time.clock)
        let (mate, mateCounter) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, addressBudget: table.share(for: "10.0.0.1"), budgetClock: time.clock)
        let (stranger, strangerCounter) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, addressBudget: table.share(for: "10.0.0.2"), budgetClock: time.clock)
        for channel in [channel, mate, stranger] { channel.read() }

        try channel.writeInbound(RoomSocketHandlerTests.pings(40))
        channel.read()
        #expect(counter.reads == 1, "in the address's debt, the read is held")
        // The mate's read was asked for before: what it brings is read, but not handled until the
        // address is out of debt, and the mate reads no more.
        try mate.writeInbound(RoomSocketHandlerTests.pings(1))
        mate.read()
        #expect(mateCounter.reads == 1, "the address's other connection waits too")
        #expect(try mate.readOutbound(as: WebSocketFrame.self) == nil, "its ping is held, not answered")
        try stranger.writeInbound(RoomSocketHandlerTests.pings(1))
        stranger.read()
        #expect(strangerCounter.reads == 2, "another address reads on")
        #expect(try stranger.readOutbound(as: WebSocketFrame.self)?.opcode == .pong)

        // The pause was timed for the debt when it began (at most half as long again). When its
        // timer fires on the loop's clock, the budget's has not moved: reading waits again.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(3_200))
        #expect(counter.reads == 1, "still in the address's debt: the pause is timed again")
        time.advance(by: .milliseconds(2_300))  // the debt is repaid
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        mate.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(counter.reads == 2, "the held read goes out once the address is out of debt")
        #expect(mateCounter.reads == 2)
        #expect(try mate.readOutbound(as: WebSocketFrame.self)?.opcode == .pong, "the held ping is answered")
        for channel in [channel, mate, stranger] { _ = try? channel.finish() }
    }

    /// Handled, it would be at once (NIO reads to the end of a closed input), whatever the debt: an
    /// address in debt could have its work done by filling connection after connection and hanging
    /// up. A player's last few messages (a `leave_room`, a close) are still handled. The pause
    /// outlasts the debt by up to half (its jitter): a hang-up then, the debt repaid, still handled
    /// what was held whole, ~10,900 messages for 64 KiB of empty frames.
    @Test(
        "A client that hangs up while its reads are held for its address has its last few messages handled, not more",
        arguments: [(1, false, 1), (6, false, 0), (1, true, 1), (6, true, 0)])
    func heldBytesAtHangUp(messages: Int, debtRepaidFirst: Bool, handled: Int) throws {
        let limits = Self.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let time = ManualBudgetClock()
        let share = table.share(for: "10.0.0.1")
        share?.spend(10_000, now: time.clock.now())  // ~10 s in debt
        let handler = try RoomSocketHandlerTests.makeHandler(
            limits: limits, addressBudget: share, budgetClock: time.clock)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        let padding = String(repeating: "p", count: 800)  // 6 messages: past the 4 KiB handled
        for _ in 0..<messages {
            try channel.writeInbound(
                RoomSocketHandlerTests.clientFrame(.text, #"{"type":"ping","pad":"\#(padding)"}"#))
        }
        #expect(handler.messagesWithReader == 0, "held while the address is in debt")
        if debtRepaidFirst { time.advance(by: .seconds(12)) }  // the pause's timer has not run
        let debtBefore = try #require(share).timeUntilOutOfDebt(now: time.clock.now())
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(handler.messagesWithReader == handled)
        // Dropped or handled, what was held is charged to the address: ~5 KB at 1,000 bytes a second.
        let debtAfter = try #require(share).timeUntilOutOfDebt(now: time.clock.now())
        #expect(messages == 1 || debtAfter - debtBefore >= .seconds(3.5), "\(debtBefore) → \(debtAfter)")
        #expect(!channel.isActive, "the connection is over")
        _ = try? channel.finish()
    }

    /// The reader may still have messages to decode when the connection ends: their values are
    /// charged to the address, which keeps its entry until the reader has finished.
    @Test("Values decoded after a connection ended are charged to its address", arguments: [0, 2_000])
    func valuesDecodedAfterTheEndAreCharged(debtBefore: Int) throws {
        let limits = Self.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let share = try #require(table.share(for: "10.0.0.1"))
        share.spend(Double(debtBefore))
        let handler = try RoomSocketHandlerTests.makeHandler(limits: limits, addressBudget: share)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!channel.isActive)
        let before = share.timeUntilOutOfDebt()
        handler.chargeDecodedValues(RelayLimits.decodedValuesPaidByBytes + 3_000)  // 3,000 values: 192,000 bytes
        #expect(share.timeUntilOutOfDebt() - before > .seconds(150), "about 192 s more")
        handler.readerEnded()
        #expect(table.addressCount == 1, "given back, and kept while the address is in debt")
        #expect(table.share(for: "10.0.0.1") === share, "the next connection pays the same debt")
        _ = try? channel.finish()
    }

    @Test("Bytes held for the address's debt, and what follows them, are handled if the debt ends as they are held")
    func heldBytesNeverStranded() throws {
        // At 1 GiB a second a byte of debt lasts ~1 ns: debts of 0–60 µs end, in some attempts,
        // between the read's look at the address's debt and the pause it then times for that debt.
        let limits = Self.limits(addressRate: 1 << 30)
        var stranded = 0
        for attempt in 0..<1_000 {
            let table = InboundBytesPerAddress(limits: limits)
            let share = try #require(table.share(for: "10.0.0.1"))
            let handler = try RoomSocketHandlerTests.makeHandler(limits: limits, addressBudget: share)
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(handler)
            share.spend(table.burst + Double(attempt * 64))
            try channel.writeInbound(RoomSocketHandlerTests.clientFrame(.text, #"{"type":"ping"}"#))
            while share.timeUntilOutOfDebt() > .zero {}
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))  // any pause is over
            try channel.writeInbound(RoomSocketHandlerTests.clientFrame(.text, #"{"type":"ping"}"#))
            if handler.messagesWithReader != 2 { stranded += 1 }
            _ = try? channel.finish()
        }
        #expect(stranded == 0, "held with no pause to end the hold in \(stranded) of 1,000 connections")
    }

    @Test("A connection held back by its address's debt logs the address: a warning at most every 10 s, else debug")
    func heldBackIsLogged() throws {
        let limits = Self.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        for _ in 0..<2 {
            let share = table.share(for: "10.0.0.1")
            share?.spend(10_000)  // ~10 s in debt
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(
                try RoomSocketHandlerTests.makeHandler(limits: limits, addressBudget: share, logger: logger))
            try channel.writeInbound(RoomSocketHandlerTests.pings(1))
            _ = try? channel.finish()
        }
        let held = records.entries.filter { $0.message == "connections.per_address_byte_budget" }
        #expect(held.map(\.level) == [.warning, .debug])
        #expect(held.allSatisfy { $0.metadata["client.address"] == "10.0.0.1" })
    }

    @Test("A connection gives its address's share back once as it ends, however it ends")
    func givenBackOnce() throws {
        let limits = Self.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let (first, _) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, addressBudget: table.share(for: "10.0.0.1"))
        let (second, _) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, addressBudget: table.share(for: "10.0.0.1"))
        let firstHandler = try first.pipeline.syncOperations.handler(type: RoomSocketHandler.self)
        let secondHandler = try second.pipeline.syncOperations.handler(type: RoomSocketHandler.self)
        first.pipeline.fireChannelInactive()  // the socket closed…
        _ = try? first.finish()  // …then the handler is removed: both stop it
        firstHandler.readerEnded()
        firstHandler.readerEnded()
        #expect(table.addressCount == 1, "the other connection still holds it")
        secondHandler.readerEnded()  // the reader done first, then the connection
        #expect(table.addressCount == 1)
        _ = try? second.finish()
        #expect(table.addressCount == 0)
    }

    /// A raw room socket to the server on `port` for `client`, named by the loopback proxy it trusts.
    static func connect(port: Int, from client: String) async throws -> StalledClient {
        try await StalledClient.connect(
            port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: \(client)\r\n")
    }

    /// Whether the server has read all that was sent on the one connection from loopback address
    /// `source` to `port`, as ``peerHasReadEverything(_:)`` tells it from `/proc/net/tcp` for a socket
    /// at hand: nothing waits unacknowledged in the client's send queue, or unread in the server's
    /// socket. A side no longer listed holds nothing (a server that closes with bytes unread resets
    /// the connection, and those bytes were never charged: the test's checks then fail).
    static func serverHasReadEverything(sentFrom source: String, port: Int) -> Bool {
        guard let table = procFile("/proc/net/tcp") else { return false }
        // As the table writes them: the address's four bytes read as a number of this machine's
        // byte order, and the port.
        let client = String(format: "%08X", inet_addr(source))
        let server = String(format: ":%04X", port)
        return table.split(separator: "\n").dropFirst().allSatisfy { line in
            let fields = line.split(separator: " ")  // "sl local remote state tx_queue:rx_queue …"
            guard fields.count > 4 else { return true }
            let queues = fields[4].split(separator: ":").compactMap { Int($0, radix: 16) }
            if fields[1].hasPrefix(client), fields[2].hasSuffix(server) { return queues.first == 0 }
            if fields[1].hasSuffix(server), fields[2].hasPrefix(client) { return queues.last == 0 }
            return true
        }
    }

    /// Over real sockets, through the loopback proxy the server trusts by default: two connections
    /// of the client it names share a budget, so together they are read no faster than one
    /// connection of another client (the control) is alone. Each of the three sends the same
    /// padded messages at once; when each was handled is read from the server's clock
    /// (`time_sync`'s `server_time`): the test's own tasks wait for the suite's busy threads.
    ///
    /// A connection's reads start at 512 bytes and double (``SmallReadBufferChannel``): its 15
    /// messages come in 5 reads, the last of ~9.3 KB with its frames' price, and the control's
    /// last is handled once the four before it are paid for, ~2.1 s after its first (up to half
    /// as long again: the pauses' jitter). Sharing, the pair's last waits for all but one read of
    /// both: ≥ 6.6 s. With a budget per connection the pair goes as fast as the control.
    @Test("A client's two connections are read together no faster than another client's one")
    func liveSharedBudget() async throws {
        let limits = Self.limits(addressRate: 4_096)  // burst 1,024: one largest message
        let padded = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: 960))"}"#
        let messages = 15
        let sent = Array(repeating: StalledClient.frame(padded), count: messages).flatMap { $0 }
        let rate = Double(limits.inboundBytesPerSecondPerAddress)
        // One connection's messages past the burst, ~4.3 s: however the reads fall, the pair's last
        // waits at least that long after its first (no read holds over half of what a connection sent).
        let oneConnection = Double(sent.count + messages * RelayLimits.bytesChargedPerFrame - 1_024) / rate
        try await withRelayServer(limits: limits) { port, _ in
            let first = try await Self.connect(port: port, from: "10.1.1.1")
            let mate = try await Self.connect(port: port, from: "10.1.1.1")
            let control = try await Self.connect(port: port, from: "10.1.1.2")
            // Raw sockets, written at once from the test's thread, after the set-up.
            for client in [first, mate, control] { try client.sendRaw(sent) }
            let pair =
                try await BusyLoopTests.timeSyncsHandled(messages, by: first)
                + BusyLoopTests.timeSyncsHandled(messages, by: mate)
            let alone = try await BusyLoopTests.timeSyncsHandled(messages, by: control)
            try #require(pair.count == 2 * messages && alone.count == messages)
            /// Seconds from the first to the last of `handled` (the server's ms).
            func span(_ handled: [Double]) -> Double { ((handled.max() ?? 0) - (handled.min() ?? 0)) / 1_000 }
            let (pairSeconds, controlSeconds) = (span(pair), span(alone))
            #expect(
                pairSeconds >= oneConnection * 0.9, "the pair in \(pairSeconds) s, \(oneConnection) s at the earliest")
            // Markedly slower than the control, measured alike: by half a connection's worth, over twice
            // what the pauses' jitter makes of a connection's own. Unless the control itself took a
            // connection's worth: then its loop (not always the pair's) was held up by the suite.
            if controlSeconds < oneConnection {
                #expect(
                    pairSeconds >= controlSeconds + oneConnection / 2,
                    "the pair in \(pairSeconds) s, the control in \(controlSeconds) s")
            }
        }
    }

    /// What a failed connection sends before it hangs up is read only to be discarded, but it is
    /// charged to the address all the same: else failing a connection on purpose would read at
    /// full speed past the address's budget and the loop's cap. Without the charge the mate is
    /// answered as soon as a connection of another address (the control) sent with it.
    @Test("Bytes a failed connection sends before hanging up are charged to its address")
    func discardedBytesCharged() async throws {
        var limits = Self.limits(addressRate: 16_384)  // burst 4,096
        // The hang-up comes a grace period after the close frame: long enough for a loaded loop to
        // read all that was sent (at 1 s, a suite run once closed it with half unread and uncharged).
        limits.closeGracePeriod = .seconds(10)
        // 100 KiB the server discards: 6 s of the address's budget past its burst.
        let discarded = 100 * 1_024
        let debt = Double(discarded - 4_096) / Double(limits.inboundBytesPerSecondPerAddress)
        try await withRelayServer(limits: limits) { port, _ in
            // From a loopback address of its own, so that its connection can be told apart in `/proc/net/tcp`.
            let failed = try await StalledClient.connect(
                port: port, path: "/ws/room/new", extraHeaders: "X-Forwarded-For: 10.1.1.3\r\n", from: "127.0.0.5")
            let mate = try await Self.connect(port: port, from: "10.1.1.3")
            let control = try await Self.connect(port: port, from: "10.1.1.4")
            let start = ContinuousClock.now  // after the set-up, which would count for the charge it measures
            let startedAt = Date().timeIntervalSince1970 * 1_000  // the server's clock: the same machine's
            // An unmasked frame (1002), then what the server discards.
            try failed.sendRaw([0x81, 0x02] + Array("{}".utf8) + [UInt8](repeating: 0x20, count: discarded))
            var closeCode: Int?
            while closeCode == nil, let frame = try await failed.readFrame() {
                if frame.opcode == 8 { closeCode = frame.closeCode }
            }
            #expect(closeCode == 1002)
            // The close frame may leave after the first read, before the rest is read and charged
            // (a loaded run's mate was answered at 0.13 s): the mate is sent once the server has
            // read it all, each read charged as it is read. The address is then in debt until
            // ~6 s from the start, and the mate, read within that, waits it out.
            try await eventually(timeout: .seconds(60)) {
                Self.serverHasReadEverything(sentFrom: "127.0.0.5", port: port)
            }
            // Sent together, and timed on the server's clock: the control is handled at once, and
            // what holds the mate longer is its address's debt, not the server's load.
            try mate.send(#"{"type":"time_sync"}"#)
            try control.send(#"{"type":"time_sync"}"#)
            let mateHandled = try #require(try await BusyLoopTests.timeSyncsHandled(1, by: mate).first)
            let elapsed = ContinuousClock.now - start
            let controlHandled = try #require(try await BusyLoopTests.timeSyncsHandled(1, by: control).first)
            #expect(elapsed >= .seconds(2), "answered after \(elapsed)")
            // The debt lasts until ~6 s from the start: a control handled within 4 s leaves the mate
            // held 2 s longer at least (a quarter of the debt, 1.5 s, is asked). Later (the test's
            // tasks, or the control's loop, held up by the suite), the two cannot be told apart so.
            let heldSeconds = (mateHandled - controlHandled) / 1_000
            if controlHandled - startedAt < 4_000 {
                #expect(heldSeconds >= debt / 4, "the mate was handled \(heldSeconds) s after the control")
            }
        }
    }
}

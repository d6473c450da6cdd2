import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOWebSocket
import RecordedLogs
import Relay
import Testing

@testable import RelayServer

/// The cap on room sockets of an event loop that falls behind (``BusyLoopCap``, ``BusyLoop``).
@Suite("Busy loop cap")
struct BusyLoopTests {
    static let late = BusyLoopCap.lateness + .milliseconds(1)
    static let onTime = Duration.microseconds(100)

    /// Limits whose only bound that matters is a cap of 4,000 bytes a second once the loop falls
    /// behind (a share of 1,000 bytes at once), and that loop, an `EmbeddedEventLoop`, measured.
    static func loopCappedAt4KB() -> (RelayLimits, EmbeddedEventLoop, BusyLoop) {
        var limits = RoomSocketHandlerTests.byteBudget(perSecond: 1 << 20)
        limits.inboundByteBurst = 1 << 20
        limits.busyLoopInboundBytesPerSecond = 4_000
        let loop = EmbeddedEventLoop()
        return (limits, loop, BusyLoops(limits: limits, logger: Logger(label: "test")).busyLoop(of: loop))
    }

    /// A room socket's handler, its budgets read at `budgetClock`, in an `EmbeddedChannel` on the
    /// loop of ``loopCappedAt4KB()``; connected, so that `isActive` turns false only when it closes.
    static func handlerOnLoopCappedAt4KB(
        budgetClock: BudgetClock = .system
    ) throws -> (EmbeddedChannel, RoomSocketHandler, BusyLoop) {
        let (limits, loop, busyLoop) = Self.loopCappedAt4KB()
        let channel = EmbeddedChannel(loop: loop)
        let handler = try RoomSocketHandlerTests.makeHandler(
            limits: limits, busyLoop: busyLoop, budgetClock: budgetClock)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, handler, busyLoop)
    }

    @Test(
        "Two late samples in a row of a busy loop start a cap at half a connection's budget; more halve it, to the floor"
    )
    func cutsToTheFloor() {
        var cap = BusyLoopCap(floor: 100_000, ceiling: 1_000_000)
        let now = ContinuousClock.now
        #expect(cap.record(lateness: Self.late, busyShare: 1, now: now) == nil, "one late sample: a stall")
        #expect(cap.bytesPerSecond == nil)
        #expect(cap.record(lateness: Self.late, busyShare: 1, now: now) == .started(bytesPerSecond: 500_000))
        #expect(cap.epoch == 1)
        _ = cap.record(lateness: Self.late, busyShare: 1, now: now)
        #expect(cap.record(lateness: Self.late, busyShare: 1, now: now) == .cut(bytesPerSecond: 250_000))
        var changes: [BusyLoopCap.Change] = []
        for _ in 0..<10 {
            if let change = cap.record(lateness: Self.late, busyShare: 1, now: now) { changes.append(change) }
        }
        #expect(changes == [.cut(bytesPerSecond: 125_000), .cut(bytesPerSecond: 100_000)], "never below the floor")
        #expect(cap.bytesPerSecond == 100_000)
        #expect(cap.epoch == 1, "cuts are the same cap")
    }

    @Test("Late samples apart, or late while the loop's thread was not busy (waiting for a core), start no cap")
    func stallsAndContentionAreNotCapped() {
        var cap = BusyLoopCap(floor: 100_000, ceiling: 1_000_000)
        let now = ContinuousClock.now
        for _ in 0..<20 {
            #expect(cap.record(lateness: Self.late, busyShare: 1, now: now) == nil)
            #expect(cap.record(lateness: Self.onTime, busyShare: 1, now: now) == nil)
        }
        for _ in 0..<20 {
            #expect(cap.record(lateness: .milliseconds(50), busyShare: BusyLoopCap.busyShare - 0.01, now: now) == nil)
        }
        #expect(cap.bytesPerSecond == nil)
        var off = BusyLoopCap(floor: 0, ceiling: 1_000_000)
        for _ in 0..<20 { #expect(off.record(lateness: .seconds(1), busyShare: 1, now: now) == nil, "a floor of 0") }
        // A floor at or above the connections' own budget could slow no one.
        var useless = BusyLoopCap(floor: 1_000_000, ceiling: 1_000_000)
        for _ in 0..<20 { #expect(useless.record(lateness: .seconds(1), busyShare: 1, now: now) == nil) }
    }

    @Test("The cap grows after each quiet period and is lifted once it bounds no one; the next cap is a new one")
    func growsBackAndLifts() {
        var cap = BusyLoopCap(floor: 100_000, ceiling: 1_000_000)
        var now = ContinuousClock.now
        for _ in 0..<2 { _ = cap.record(lateness: Self.late, busyShare: 1, now: now) }
        #expect(cap.bytesPerSecond == 500_000)
        now += BusyLoopCap.quietPeriod - .milliseconds(1)
        _ = cap.record(lateness: Self.onTime, busyShare: 1, now: now)
        #expect(cap.bytesPerSecond == 500_000, "not quiet for long enough")
        now += .milliseconds(1)
        _ = cap.record(lateness: Self.onTime, busyShare: 1, now: now)
        #expect(cap.bytesPerSecond == 500_000 * BusyLoopCap.growth)
        var lifted = false
        for _ in 0..<20 where !lifted {
            now += BusyLoopCap.quietPeriod
            lifted = cap.record(lateness: Self.onTime, busyShare: 1, now: now) == .lifted
        }
        #expect(lifted)
        #expect(cap.bytesPerSecond == nil)
        for _ in 0..<2 { _ = cap.record(lateness: Self.late, busyShare: 1, now: now) }
        #expect(cap.epoch == 2)
    }

    @Test(
        "A connection's share starts full with each cap, a quarter second's worth, repaid at the cap's rate; its work weighs"
    )
    func meter() {
        var meter = LoopShareMeter(weights: 1...1)
        let start = ContinuousClock.now
        meter.spend(25_000, bytesPerSecond: 100_000, epoch: 1, now: start)
        #expect(meter.secondsUntilOutOfDebt(bytesPerSecond: 100_000, epoch: 1, now: start) == 0, "the burst")
        meter.spend(10_000, bytesPerSecond: 100_000, epoch: 1, now: start)
        #expect(meter.secondsUntilOutOfDebt(bytesPerSecond: 100_000, epoch: 1, now: start) == 0.1)
        let later = start + .milliseconds(50)
        #expect(abs(meter.secondsUntilOutOfDebt(bytesPerSecond: 100_000, epoch: 1, now: later) - 0.05) < 1e-9)
        #expect(abs(meter.secondsUntilOutOfDebt(bytesPerSecond: 50_000, epoch: 1, now: later) - 0.1) < 1e-9, "cut")
        #expect(meter.secondsUntilOutOfDebt(bytesPerSecond: 50_000, epoch: 2, now: later) == 0, "a new cap")

        var weighed = LoopShareMeter(weights: 2...2)  // each connection's work weighs 1–1.5 by default
        weighed.spend(12_500 + 10_000, bytesPerSecond: 100_000, epoch: 1, now: start)
        #expect(weighed.secondsUntilOutOfDebt(bytesPerSecond: 100_000, epoch: 1, now: start) == 0.2)
    }

    @Test("While its loop is behind, a connection reading past the cap pauses; another on the loop reads on")
    func heavyPausesLightReadsOn() throws {
        let (limits, loop, busyLoop) = Self.loopCappedAt4KB()
        let time = ManualBudgetClock()
        let (heavy, heavyReads) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, busyLoop: busyLoop, budgetClock: time.clock, on: loop)
        let (light, lightReads) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, busyLoop: busyLoop, budgetClock: time.clock, on: loop)
        heavy.read()
        light.read()
        try heavy.writeInbound(RoomSocketHandlerTests.pings(10))  // uncapped: read on
        heavy.read()
        #expect(heavyReads.reads == 2)

        for _ in 0..<40 { busyLoop.record(wait: Self.late, busyShare: 1) }  // down to the floor
        #expect(busyLoop.connectionCap?.bytesPerSecond == 4_000)
        try heavy.writeInbound(RoomSocketHandlerTests.pings(10))  // 220 bytes and 10 frames: ~1.8 KB past its share
        heavy.read()
        #expect(heavyReads.reads == 2, "past the cap, the read is held")
        try light.writeInbound(RoomSocketHandlerTests.pings(1))  // 278 of its 1,000
        light.read()
        #expect(lightReads.reads == 2, "within the cap, reading goes on")
        #expect(try light.readOutbound(as: WebSocketFrame.self)?.opcode == .pong)

        // ~0.45–0.8 s repays the debt (its work weighs 1–1.5); the pause is timed for the debt, up
        // to half as long again (1.2 s).
        time.advance(by: .seconds(1))
        loop.advanceTime(by: .milliseconds(1_500))
        #expect(heavyReads.reads == 3, "the held read goes out once the debt is repaid")
        for channel in [heavy, light] { _ = try? channel.finish() }
    }

    @Test("A connection's large messages take their turns after the client hangs up: its reader handles the rest")
    func pacedAfterHangUp() throws {
        let (channel, handler, _) = try Self.handlerOnLoopCappedAt4KB()
        let large = HeavyMessagePacer.heavyBytes + 1
        #expect(handler.isPaced(large))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!channel.isActive)
        #expect(handler.isPaced(large), "the messages queued for the reader still wait for their turns")
        _ = try? channel.finish()
    }

    /// The hang-up must not buy a client past its loop share the handling of what it sent during
    /// the pause. Its budgets are read at a clock that stands still: on the real one, the debt
    /// (~0.45–0.8 s) could be repaid by a loaded machine before the hang-up, and the held message
    /// then rightly handled.
    @Test("A client past its share of a busy loop that hangs up has what came during the pause dropped")
    func pastTheCapAtHangUp() throws {
        let time = ManualBudgetClock()
        let (channel, handler, busyLoop) = try Self.handlerOnLoopCappedAt4KB(budgetClock: time.clock)
        for _ in 0..<40 { busyLoop.record(wait: Self.late, busyShare: 1) }  // down to the floor
        try channel.writeInbound(RoomSocketHandlerTests.pings(10))  // ~1.8 KB past its share
        try channel.writeInbound(RoomSocketHandlerTests.clientFrame(.text, #"{"type":"ping"}"#))
        #expect(handler.messagesWithReader == 0, "held while reading pauses")
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(handler.messagesWithReader == 0, "dropped: it would be handled at once, past the cap")
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test("A connection paused for a long debt under the cap reads again soon after the cap is lifted")
    func pauseEndsWithTheCap() throws {
        let (limits, loop, busyLoop) = Self.loopCappedAt4KB()
        let (heavy, heavyReads) = try RoomSocketHandlerTests.countedConnection(
            limits: limits, busyLoop: busyLoop, on: loop)
        heavy.read()
        for _ in 0..<40 { busyLoop.record(wait: Self.late, busyShare: 1) }  // down to the floor
        try heavy.writeInbound(RoomSocketHandlerTests.pings(100))  // ~27 KB past its share: ≥ 6.7 s at 4 KB/s
        heavy.read()
        #expect(heavyReads.reads == 1, "past the cap, the read is held")
        let start = ContinuousClock.now
        var quiet = 0
        while busyLoop.connectionCap != nil, quiet < 200 {  // the loop keeps up: the cap grows, and is lifted
            quiet += 1
            busyLoop.record(wait: Self.onTime, busyShare: 1, now: start + BusyLoopCap.quietPeriod * quiet)
        }
        #expect(busyLoop.connectionCap == nil)
        loop.advanceTime(by: .milliseconds(1_600))
        #expect(heavyReads.reads == 2, "reading resumes once the cap is lifted, not when the debt under it is repaid")
        _ = try? heavy.finish()
    }

    @Test(
        "A loop with sockets is measured only when its cap can start: not at a floor of 0, nor at or above the connections' own budget",
        arguments: [(0, false), (16_384, true), (2_097_152, false), (4_000_000, false)])
    func probedOnlyWhenTheCapCanStart(floor: Int, probed: Bool) async throws {
        var limits = RelayLimits()
        limits.inboundBytesPerSecond = 2_097_152
        limits.busyLoopInboundBytesPerSecond = floor
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let loops = BusyLoops(limits: limits, logger: Logger(label: "test"))
        let probing = try await loop.submit {
            let busyLoop = loops.busyLoop(of: loop)
            busyLoop.socketOpened()
            defer { busyLoop.socketClosed() }
            return busyLoop.isProbing
        }.get()
        #expect(probing == probed)
        // Its last socket gone, a probe that started stops (its thread with it) by itself.
        try await eventually(timeout: .seconds(30)) {
            try await loop.submit { !loops.busyLoop(of: loop).isProbing }.get()
        }
    }

    @Test("A probe closed by something else stops its sender, lifts the cap, and starts again while sockets remain")
    func probeClosedElsewhere() async throws {
        var limits = RelayLimits()
        limits.busyLoopInboundBytesPerSecond = 16_384
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let loops = BusyLoops(limits: limits, logger: Logger(label: "test"))
        try await loop.submit { loops.busyLoop(of: loop).socketOpened() }.get()
        try await eventually { try await loop.submit { loops.busyLoop(of: loop).probeChannels != nil }.get() }
        let first = try #require(try await loop.submit { loops.busyLoop(of: loop).probeChannels }.get())
        try await loop.submit {
            for _ in 0..<2 { loops.busyLoop(of: loop).record(wait: Self.late, busyShare: 1) }
        }.get()
        #expect(try await loop.submit { loops.busyLoop(of: loop).connectionCap != nil }.get())

        try await first.receiver.close()  // as the loop's shutdown, or a read error, would
        try await eventually(timeout: .seconds(30)) { !first.sender.isActive }
        #expect(try await loop.submit { loops.busyLoop(of: loop).connectionCap == nil }.get(), "no longer measured")
        try await eventually(timeout: .seconds(30)) {
            try await loop.submit {
                loops.busyLoop(of: loop).probeChannels.map { $0.receiver !== first.receiver } ?? false
            }.get()
        }

        let second = try #require(try await loop.submit { loops.busyLoop(of: loop).probeChannels }.get())
        try await loop.submit { loops.busyLoop(of: loop).socketClosed() }.get()
        try await eventually(timeout: .seconds(30)) { !second.sender.isActive && !second.receiver.isActive }
    }

    /// Over real sockets: the server's loop is kept busy for 150 ms at a time (as a flood would
    /// keep it), the probes it then reads late start the cap and cut it to the floor, and a client
    /// sending ~50 KB waits for its share of the loop while a light client is answered early in
    /// that wait. The loop held as long while its thread sleeps (a machine short of cores) is not
    /// capped.
    ///
    /// When each message was handled is read from the server's clock (`time_sync`'s
    /// `server_time`): the test's own tasks wait for the suite's busy threads, and what the test
    /// sees arrive may be seconds late.
    @Test("Once its loop falls behind, a heavy client waits for its share, a light one is answered; it is logged")
    func liveCap() async throws {
        var limits = RelayLimits()
        limits.inboundBytesPerSecond = 1 << 20  // its own budget: ~50 KB at once
        limits.busyLoopInboundBytesPerSecond = 8_192
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        let padded = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: 960))"}"#
        // A loop of its own: the suite's tests keep the shared loops busy, and would be held here.
        let floor = "\(limits.busyLoopInboundBytesPerSecond)"
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        try await withRelayServer(limits: limits, capBusyLoops: true, logger: logger, eventLoopGroup: group) {
            port, _ in
            // Raw sockets, written at once from the test's thread: a message queued for a client's
            // task could wait seconds for the suite's busy threads before it went out, and come after
            // one sent later.
            let heavy = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let light = try await StalledClient.connect(port: port, path: "/ws/room/new")
            for client in [heavy, light] {  // connected, and each loop's probe running
                try client.send(#"{"type":"ping"}"#)
                #expect(try await WebSocketProtocolTests.nextMessageType(client, answeringPings: true) == "pong")
            }
            try await Task.sleep(for: .milliseconds(100))
            // Counted from here: the suite's load can keep the loop busy and late while the clients
            // connect, and start a cap that way, rightly. What must not is the wait below.
            let behindBeforeSleeping = Self.behindEntries(records)
            for _ in 0..<3 {  // late while its thread sleeps: waiting, as for a core, not busy
                try await loop.submit { Thread.sleep(forTimeInterval: 0.15) }.get()
            }
            try await Task.sleep(for: .milliseconds(50))
            let behindAfterSleeping = Self.behindEntries(records)
            #expect(
                behindAfterSleeping.count == behindBeforeSleeping.count,
                "a loop late, but not busy, was capped: \(behindAfterSleeping.dropFirst(behindBeforeSleeping.count))")
            // Busy, not asleep, until the cap is at its floor (the suite may keep the core from the
            // loop, or the probes from it, some of the time).
            try await eventually(timeout: .seconds(60)) {
                try await loop.submit {
                    let end = ContinuousClock.now + .milliseconds(150)
                    while ContinuousClock.now < end {}
                }.get()
                return records.entries.contains {
                    $0.message == "relay.loop.behind" && $0.metadata[Self.capKey] == "\(floor)"
                }
            }
            #expect(records.entries.contains { $0.message == "relay.loop.behind" && $0.level == .warning })

            let heavyCount = 40  // ~50 KB with the frames' price: ≥ 4 s at 8 KB/s
            try heavy.sendRaw(Array(repeating: StalledClient.frame(padded), count: heavyCount).flatMap { $0 })
            try light.send(#"{"type":"time_sync"}"#)
            let lightHandled = try #require(try await Self.timeSyncsHandled(1, by: light).first)
            let heavyHandled = try await Self.timeSyncsHandled(heavyCount, by: heavy)
            let heavySpan = heavyHandled[heavyCount - 1] - heavyHandled[0]
            #expect(heavySpan >= 1_000, "the heavy client's messages were handled within \(heavySpan) ms")
            #expect(lightHandled < heavyHandled[heavyCount - 1], "the light client's came after the heavy's")
            #expect(
                lightHandled - heavyHandled[0] < heavySpan / 2,
                "the light client's, \(lightHandled - heavyHandled[0]) ms after the heavy's first of \(heavySpan) ms")
        }
    }

    static let capKey = "inbound.bytes_per_second_per_connection"

    /// The caps started or cut so far, as logged.
    static func behindEntries(_ records: RecordedLogs) -> [Logger.Metadata] {
        records.entries.filter { $0.message == "relay.loop.behind" }.map(\.metadata)
    }

    /// `server_time` of the next `count` `time_sync_response`s `client` gets, ms.
    static func timeSyncsHandled(_ count: Int, by client: StalledClient) async throws -> [Double] {
        var times: [Double] = []
        while times.count < count, let frame = try await client.readFrameAnsweringPing() {
            guard frame.opcode == WebSocketProtocolTests.textOpcode,
                let object = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any],
                object["type"] as? String == "time_sync_response"
            else { continue }
            times.append(try Self.serverTime(object))
        }
        return times
    }

    /// `server_time` of a `time_sync_response`, ms.
    static func serverTime(_ response: [String: Any]) throws -> Double {
        try #require(response["server_time"] as? Double)
    }
}

import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Relay
import Testing

@testable import RelayServer

/// Large messages take turns with everything else on their loop (``HeavyMessagePacer``).
@Suite("Heavy message pacer")
struct HeavyMessagePacerTests {
    @Test("After a large message's handling, the next large one waits as long again; none waits at first")
    func waitsAsLongAgain() {
        var pacer = HeavyMessagePacer()
        let start = NIODeadline.now()
        #expect(pacer.wait(now: start) == nil)
        pacer.handled(taking: .milliseconds(5), now: start)
        #expect(pacer.wait(now: start) == .milliseconds(5))
        #expect(pacer.wait(now: start + .milliseconds(2)) == .milliseconds(3))
        #expect(pacer.wait(now: start + .milliseconds(5)) == nil, "the others had their time")
        pacer.handled(taking: .milliseconds(1), now: start + .milliseconds(1))
        #expect(pacer.wait(now: start) == .milliseconds(5), "a shorter one that ended inside the others' time")
    }

    @Test("A loop that is never capped (--busy-loop-inbound-bytes-per-second 0) paces nothing")
    func offWithTheCap() {
        var limits = RelayLimits()
        limits.busyLoopInboundBytesPerSecond = 0
        let loop = EmbeddedEventLoop()
        let busyLoop = BusyLoops(limits: limits, logger: Logger(label: "test")).busyLoop(of: loop)
        busyLoop.heavyMessageHandled(taking: .seconds(10))
        #expect(busyLoop.heavyMessageWait() == nil)
        let capped = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test")).busyLoop(of: loop)
        capped.heavyMessageHandled(taking: .seconds(10))
        #expect(capped.heavyMessageWait() != nil)
    }

    @Test("A large message's handling counts for 20 ms at most: longer, it was waiting (for a plugin, say)")
    func longHandlingCountsLittle() throws {
        let loop = EmbeddedEventLoop()
        let busyLoop = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test")).busyLoop(of: loop)
        let handler = try RoomSocketHandlerTests.makeHandler(busyLoop: busyLoop)
        #expect(handler.isPaced(HeavyMessagePacer.heavyBytes + 1))
        #expect(!handler.isPaced(HeavyMessagePacer.heavyBytes), "the game's messages are far smaller")
        handler.heavyMessageHandled(taking: .seconds(5))
        // None left if this thread was held up 20 ms since: a loaded machine may do that.
        #expect((handler.heavyMessageWait() ?? .zero) <= HeavyMessagePacer.longestTurn)
    }

    /// Over real sockets, on a loop of the test's own: as if the loop had just spent 3 s on large
    /// messages, a large message waits out the others' 3 s while a small one is answered. When
    /// each was handled is read from the server's clock (`time_sync`'s `server_time`).
    @Test("Over a socket, a large message waits for its loop's turn; a small one sent after it does not")
    func largeMessageWaitsSmallDoesNot() async throws {
        let large = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: HeavyMessagePacer.heavyBytes))"}"#
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        let loops = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test"))
        try await withRelayServer(capBusyLoops: true, eventLoopGroup: group, busyLoops: loops) { port, _ in
            let heavy = TestSocket.connect(port: port)
            let light = TestSocket.connect(port: port)
            for socket in [heavy, light] {  // connected
                socket.send(["type": "ping"])
                _ = try await socket.expect("pong")
            }
            let othersUntil = try await loop.submit {
                loops.busyLoop(of: loop).heavyMessageHandled(taking: .seconds(3))
                return Date().timeIntervalSince1970 * 1_000 + 3_000
            }.get()
            heavy.send(raw: large)
            light.send(raw: #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: 1_000))"}"#)
            let lightHandled = try BusyLoopTests.serverTime(await light.expect("time_sync_response"))
            let heavyHandled = try BusyLoopTests.serverTime(
                await heavy.expect("time_sync_response", timeout: .seconds(60)))
            // The server's wall clock against the loop's monotonic one: a little slack.
            #expect(
                heavyHandled >= othersUntil - 100, "the large message waited \(othersUntil - heavyHandled) ms short")
            #expect(lightHandled < heavyHandled, "the small one was handled first")
        }
    }
}

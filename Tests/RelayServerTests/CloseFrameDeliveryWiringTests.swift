import NIOCore
import NIOEmbedded
import NIOWebSocket
import Relay
import Synchronization
import Testing

@testable import RelayServer

/// The room socket's handler asks the kernel what it still holds once its close frame has been
/// written (``CloseFrameDelivery``): here in an `EmbeddedChannel`, whose time moves only when the
/// test moves it, with the kernel's answers scripted. A connection the protocol fails (an unmasked
/// frame: 1002) writes its close frame at once, with a grace period of 1 s and a drain limit of
/// 2.9 s: the socket closes by 3.9 s after the close whatever the client does.
@Suite("Close frame delivery, in the handler")
struct CloseFrameDeliveryWiringTests {
    /// The kernel's answers: holding bytes, the client acknowledging `step` more at each look,
    /// until the look `emptyFromLook` (the first is the one as the close frame is written), from
    /// which it holds nothing.
    final class ScriptedKernel: Sendable {
        private let looks = Mutex<(count: Int, acknowledged: UInt64)>((0, 0))
        let step: UInt64
        let emptyFromLook: Int?

        init(acknowledgingEachLook step: UInt64, emptyFromLook: Int? = nil) {
            (self.step, self.emptyFromLook) = (step, emptyFromLook)
        }

        func queue(_ channel: any Channel) -> EventLoopFuture<KernelSendQueue?> {
            let (count, acknowledged) = self.looks.withLock { looks in
                looks.count += 1
                looks.acknowledged += self.step
                return looks
            }
            let isEmpty = self.emptyFromLook.map { count >= $0 } ?? false
            return channel.eventLoop.makeSucceededFuture(
                KernelSendQueue(isEmpty: isEmpty, bytesAcknowledged: acknowledged, clientWindow: 0))
        }
    }

    /// Holds what is written, unflushed, until ``release()``: a socket that takes nothing yet.
    final class WriteHold: ChannelOutboundHandler {
        typealias OutboundIn = WebSocketFrame
        private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
        private var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            self.held.append((data, promise))
        }

        func flush(context: ChannelHandlerContext) {}

        /// Writes and flushes what was held.
        func release() {
            guard let context = self.context else { return }
            for (data, promise) in self.held { context.write(data, promise: promise) }
            self.held = []
            context.flush()
        }
    }

    /// A connected handler that has failed the connection (1002), its kernel scripted by `kernel`.
    static func failedConnection(kernel: ScriptedKernel) throws -> EmbeddedChannel {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(1)
        limits.closeDrainLimit = .milliseconds(2_900)
        let channel = EmbeddedChannel()
        let handler = try RoomSocketHandlerTests.makeHandler(
            limits: limits, kernelSendQueue: { kernel.queue($0) })
        try channel.pipeline.syncOperations.addHandlers([DiscardedBytesLimitTests.HalfClose(), handler])
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(DiscardedBytesLimitTests.Refusal.unmasked.bytes)
        let close = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(close.opcode == .connectionClose)
        return channel
    }

    @Test("While the kernel delivers to a client that takes it, the socket stays open past the grace, to the deadline")
    func heldWhileDeliveringUntilTheDeadline() throws {
        let channel = try Self.failedConnection(kernel: ScriptedKernel(acknowledgingEachLook: 1_000))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_500))
        #expect(channel.isActive, "hung up after the grace while the kernel still delivered")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2_350))  // 3.85 s
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))  // 3.9 s: the deadline, not the next look
        #expect(!channel.isActive, "open past the drain's limit and a grace")
    }

    @Test("A client that takes nothing while the kernel holds bytes is hung up a grace period after the write")
    func hungUpWhenTakingNothing() throws {
        let channel = try Self.failedConnection(kernel: ScriptedKernel(acknowledgingEachLook: 0))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(!channel.isActive)
    }

    @Test("The deadline counts from the close's start, not from when the frame could be written")
    func deadlineFromTheCloseStart() throws {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(1)
        limits.closeDrainLimit = .milliseconds(2_900)
        let kernel = ScriptedKernel(acknowledgingEachLook: 1_000)
        let channel = EmbeddedChannel()
        let hold = WriteHold()
        let handler = try RoomSocketHandlerTests.makeHandler(limits: limits, kernelSendQueue: { kernel.queue($0) })
        try channel.pipeline.syncOperations.addHandlers([DiscardedBytesLimitTests.HalfClose(), hold, handler])
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(DiscardedBytesLimitTests.Refusal.unmasked.bytes)  // fails: 1002, held
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        channel.pipeline.fireChannelWritabilityChanged()  // the client took bytes: the drain waits on
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(600))  // 1.5 s
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        hold.release()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2_350))  // 3.85 s
        #expect(channel.isActive, "the kernel still delivers")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))  // 3.9 s: 2.4 s after the write
        #expect(!channel.isActive, "open past the drain's limit and a grace from the close's start")
    }

    @Test("A ping after the server's close frame is answered once the kernel has delivered the frame, not before")
    func pongWaitsForTheDelivery() throws {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(1)
        let kernel = ScriptedKernel(acknowledgingEachLook: 100, emptyFromLook: 3)  // at 500 ms
        let channel = EmbeddedChannel()
        let handler = try RoomSocketHandlerTests.makeHandler(limits: limits, kernelSendQueue: { kernel.queue($0) })
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        handler.sendClose(.goingAway)  // a close of the server's own: the client is to answer it
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        try channel.writeInbound(RoomSocketHandlerTests.clientFrame(.ping, "still there?"))
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "a pong behind the close frame")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))  // 300 ms: the kernel holds bytes
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))  // 500 ms: delivered
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong)
        #expect(String(buffer: pong.data) == "still there?")
        try channel.writeInbound(RoomSocketHandlerTests.clientFrame(.ping, "and now?"))
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .pong, "answered at once")
        #expect(channel.isActive)
        _ = try? channel.finish()
    }
}

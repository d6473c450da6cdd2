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
    /// The kernel's answers: holding bytes, the client acknowledging `step` more at each look.
    final class ScriptedKernel: Sendable {
        private let acknowledged = Mutex<UInt64>(0)
        let step: UInt64

        init(acknowledgingEachLook step: UInt64) { self.step = step }

        func queue(_ channel: any Channel) -> EventLoopFuture<KernelSendQueue?> {
            let total = self.acknowledged.withLock { total in
                total += self.step
                return total
            }
            return channel.eventLoop.makeSucceededFuture(
                KernelSendQueue(isEmpty: false, bytesAcknowledged: total, clientWindow: 0))
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
}

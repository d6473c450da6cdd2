import NIOCore
import NIOEmbedded
import NIOWebSocket
import Relay
import Testing

@testable import RelayServer

/// What the server reads, only to discard it, once it refuses a client's input (README: "up to
/// 1 MiB", ``RoomSocketHandler/discardedBytesLimit``): the handler on its own in an
/// `EmbeddedChannel` whose time moves only when the test moves it, so that "hung up at once" and
/// "held for the grace period" are told apart by the channel's state, not by a clock.
@Suite("Discarded bytes limit")
struct DiscardedBytesLimitTests {
    /// README's limit: 1 MiB, written out rather than read from the handler, so that a changed
    /// constant shows.
    static let limit = 1 << 20

    /// What a socket does with the server's `close(mode: .output)` and an `EmbeddedChannel` does
    /// not (it closes whole on any close): the server's half ends, and the channel stays open for
    /// reading. A whole close passes.
    final class HalfClose: ChannelOutboundHandler {
        typealias OutboundIn = Never
        private(set) var outputClosed = false

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            guard mode == .output else { return context.close(mode: mode, promise: promise) }
            self.outputClosed = true
            promise?.succeed(())
        }
    }

    /// What makes the server refuse what the client sends next.
    enum Refusal: String, CaseIterable, Sendable {
        /// An unmasked frame: the connection fails with 1002.
        case unmasked
        /// The header of a frame over the 1,024-byte cap: the connection fails with 1009.
        case oversized
        /// The client's own close frame, answered with 1000.
        case clientClose
        /// An unmasked frame while a close of the server's own waits (the reader has stopped): no
        /// close frame of its own, the reading ends.
        case whileClosing

        /// The close code the server answers with; nil when it sends none.
        var closeCode: UInt16? {
            switch self {
            case .unmasked: 1002
            case .oversized: 1009
            case .clientClose: 1000
            case .whileClosing: nil
            }
        }

        /// The read that makes the server refuse input, and nothing after it.
        var bytes: ByteBuffer {
            switch self {
            // An unmasked text frame, "hello".
            case .unmasked, .whileClosing: ByteBuffer(bytes: [0x81, 0x05, 0x68, 0x65, 0x6C, 0x6C, 0x6F])
            // A masked text frame of 1,025 bytes: its header and mask, refused before the payload.
            case .oversized: ByteBuffer(bytes: [0x81, 0x80 | 126, 0x04, 0x01, 0, 0, 0, 0])
            case .clientClose: RoomSocketHandlerTests.closeFrame(code: 1000)
            }
        }
    }

    /// A connected room socket's handler (messages of 1,024 bytes) behind a ``HalfClose``, with a
    /// close grace period and drain limit of 60 s, that has refused the client's input for
    /// `refusal`: checked here, the close frame sent (and the server's half ended) or none.
    static func refusedConnection(_ refusal: Refusal) throws -> EmbeddedChannel {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(60)
        limits.closeDrainLimit = .seconds(60)
        let channel = EmbeddedChannel()
        let halfClose = HalfClose()
        let handler = try RoomSocketHandlerTests.makeHandler(limits: limits)
        try channel.pipeline.syncOperations.addHandlers([halfClose, handler])
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        if refusal == .whileClosing { handler.readerEnded() }  // the connection ends its own way (a flood)
        try channel.writeInbound(refusal.bytes)
        if let code = refusal.closeCode {
            let close = try #require(try channel.readOutbound(as: WebSocketFrame.self))
            #expect(close.opcode == .connectionClose)
            var payload = close.data
            #expect(payload.readInteger(as: UInt16.self) == code)
            #expect(halfClose.outputClosed, "the close frame has left: the server's half ends")
        } else {
            #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "the server's own close stays")
        }
        #expect(channel.isActive, "read on until the client hangs up, or the grace period ends")
        return channel
    }

    /// `bytes` of junk, as reads of at most 64 KiB.
    static func sendJunk(_ bytes: Int, to channel: EmbeddedChannel) throws {
        var left = bytes
        while left > 0 {
            let read = min(left, 64 * 1_024)
            try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "j"), count: read))
            left -= read
        }
    }

    /// A client whose input the server refuses could otherwise stream into a connection the
    /// server only reads to discard, charged but unbounded, for the whole grace period (or, while
    /// the close frame still waits, the drain's limit). Exactly 1 MiB over many reads is still
    /// read (the limit is counted across reads, and "up to" includes it); the next byte hangs the
    /// client up at once, with no time passed of the 60 s grace period.
    @Test(
        "Past 1 MiB read and discarded once its input is refused, a client is hung up at once; up to 1 MiB it is not",
        arguments: Refusal.allCases)
    func hungUpPastTheLimit(refusal: Refusal) throws {
        let channel = try Self.refusedConnection(refusal)
        try Self.sendJunk(Self.limit, to: channel)
        #expect(channel.isActive, "1 MiB, in 16 reads, is read and discarded")
        try channel.writeInbound(ByteBuffer(bytes: [0x6A]))
        #expect(!channel.isActive, "one byte past 1 MiB: hung up, no grace period waited for")
        _ = try? channel.finish()
    }

    /// The control: without the limit the client is held to the grace period (or its own
    /// hang-up), as this client, which never passes it, is. What the limit saves is that time.
    @Test(
        "A client sending at most 1 MiB once its input is refused stays until the grace period ends or it hangs up",
        arguments: [false, true])
    func keptUpToTheLimit(hangsUp: Bool) throws {
        let channel = try Self.refusedConnection(.unmasked)
        try Self.sendJunk(Self.limit, to: channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive, "within the 60 s grace period, and 1 MiB discarded: still read")
        if hangsUp {
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            #expect(!channel.isActive, "the client hung up: the socket closes")
        } else {
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            #expect(!channel.isActive, "the grace period is over")
        }
        _ = try? channel.finish()
    }
}

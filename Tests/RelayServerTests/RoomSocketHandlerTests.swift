import Handlers
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOWebSocket
import Relay
import Testing
import WebSocketWire

@testable import RelayServer

/// The handler on its own, in an `EmbeddedChannel`: what the socket tests cannot see from outside.
@Suite("RoomSocketHandler")
struct RoomSocketHandlerTests {
    /// Counts the `read` requests that pass it on their way to the socket.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Never
        var reads = 0

        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    static func makeHandler(
        limits: RelayLimits = RelayLimits(), maxMessageBytes: Int = 1_024, pingInterval: TimeAmount = .seconds(30),
        addressBudget: InboundBytesPerAddress.Share? = nil, busyLoop: BusyLoop? = nil,
        budgetClock: BudgetClock = .system, logger: Logger = Logger(label: "test"),
        kernelSendQueue: (@Sendable (any Channel) -> EventLoopFuture<KernelSendQueue?>)? = nil
    ) throws
        -> RoomSocketHandler
    {
        let registry = RoomRegistry(
            limits: limits, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let session = ConnectionSession(
            connection: PlayerConnection(queueCapacity: 8) { _ in }, urlRoomID: "new", registry: registry,
            logger: logger)
        var settings = RoomSocketHandler.Settings(maxMessageBytes: maxMessageBytes, pingInterval: pingInterval)
        if let kernelSendQueue { settings.kernelSendQueue = kernelSendQueue }
        return RoomSocketHandler(
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), session: session, settings: settings,
            addressBudget: addressBudget, busyLoop: busyLoop, budgetClock: budgetClock)
    }

    /// A room socket's handler (with `addressBudget`, `busyLoop` and `budgetClock`) in an
    /// `EmbeddedChannel` on `loop` (a loop of its own by default), behind a read counter.
    static func countedConnection(
        limits: RelayLimits, addressBudget: InboundBytesPerAddress.Share? = nil, busyLoop: BusyLoop? = nil,
        budgetClock: BudgetClock = .system, on loop: EmbeddedEventLoop = EmbeddedEventLoop()
    ) throws -> (EmbeddedChannel, ReadCounter) {
        let channel = EmbeddedChannel(loop: loop)
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(
            try Self.makeHandler(
                limits: limits, addressBudget: addressBudget, busyLoop: busyLoop, budgetClock: budgetClock))
        return (channel, counter)
    }

    /// Limits with a byte budget of 1,024 bytes of burst (and messages) and `rate` a second.
    static func byteBudget(perSecond rate: Int) -> RelayLimits {
        var limits = RelayLimits()
        limits.maxFrameBytes = 1_024
        limits.inboundByteBurst = 1_024
        limits.inboundBytesPerSecond = rate
        return limits
    }

    /// A connected connection whose reading pauses for its byte budget (64 bytes a second, ~300
    /// bytes in debt: ~5 s), which then reads a message all the same, as NIO does when the client
    /// hangs up. Its budget's clock moves only when the test moves it, as the channel's loop does.
    static func pausedWithAMessageRead() throws -> (EmbeddedChannel, RoomSocketHandler, ManualBudgetClock) {
        let channel = EmbeddedChannel()
        let time = ManualBudgetClock()
        let handler = try Self.makeHandler(limits: Self.byteBudget(perSecond: 64), budgetClock: time.clock)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(Self.pingsCosting1320Bytes())  // 1,320 bytes of its 1,024
        try channel.writeInbound(Self.clientFrame(.text, #"{"type":"ping"}"#))
        return (channel, handler, time)
    }

    /// `count` pings of 16 bytes, in 22-byte frames, as one read.
    static func pings(_ count: Int) -> ByteBuffer {
        Self.frames(count, .ping)
    }

    /// 1,320 bytes of the connection's own byte budget in one read, ~300 past the burst of
    /// ``byteBudget(perSecond:)``: 4 pings of 74-byte frames, each charged 256 bytes more.
    static func pingsCosting1320Bytes() -> ByteBuffer {
        Self.frames(4, .ping, payloadBytes: 68)
    }

    /// `count` masked frames of `opcode` with `payloadBytes`-byte payloads (6 bytes more a frame),
    /// each final unless `fin` is false.
    static func frames(_ count: Int, _ opcode: WebSocketOpcode, payloadBytes: Int = 16, fin: Bool = true) -> ByteBuffer
    {
        var stream = ByteBuffer()
        for _ in 0..<count {
            var frame = Self.clientFrame(opcode, String(repeating: "p", count: payloadBytes))
            if !fin {
                frame.setInteger(frame.getInteger(at: frame.readerIndex, as: UInt8.self)! & 0x7F, at: frame.readerIndex)
            }
            stream.writeBuffer(&frame)
        }
        return stream
    }

    /// A final client frame, masked, as a socket read delivers it.
    static func clientFrame(_ opcode: WebSocketOpcode, _ payload: String) -> ByteBuffer {
        var buffer = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: payload.utf8.count)
        buffer.writeString(payload)
        return ClientFrame.frame(buffer, opcode: opcode, maskKey: 0x12A5_00FF)
    }

    @Test("Reading from the socket pauses while the reader has 64 messages, and resumes when it catches up")
    func readingPausesForASlowReader() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let handler = try Self.makeHandler()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(handler)

        channel.read()
        #expect(counter.reads == 1)
        for _ in 0..<ReaderQueue.highWater - 1 {
            try channel.writeInbound(Self.clientFrame(.text, #"{"type":"ping"}"#))
        }
        channel.read()
        #expect(counter.reads == 2, "one below the mark, reading goes on")
        try channel.writeInbound(Self.clientFrame(.text, #"{"type":"ping"}"#))
        channel.read()
        #expect(counter.reads == 2, "at the mark, the read is held")
        handler.readerFinished(try #require(handler.readerQueue.poll() ?? nil))
        #expect(counter.reads == 3, "the held read goes out once the reader is below the mark")
        _ = try channel.finish()
    }

    @Test("Reading from the socket pauses while the reader's messages hold 64 KiB, however few they are")
    func readingPausesForAReaderHoldingManyBytes() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let handler = try Self.makeHandler(maxMessageBytes: 64 * 1024)
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(handler)
        let large = #"{"type":"chat","message":""# + String(repeating: "m", count: 40 * 1024) + #""}"#

        channel.read()
        try channel.writeInbound(Self.clientFrame(.text, large))
        channel.read()
        #expect(counter.reads == 2, "40 KiB with the reader: reading goes on")
        try channel.writeInbound(Self.clientFrame(.text, large))
        channel.read()
        #expect(counter.reads == 2, "80 KiB in two messages: the read is held")
        #expect(handler.bytesWithReader == 2 * large.utf8.count)
        handler.readerFinished(try #require(handler.readerQueue.poll() ?? nil))
        #expect(counter.reads == 3, "the held read goes out once the reader holds less")
        #expect(handler.bytesWithReader == large.utf8.count)
        _ = try channel.finish()
    }

    @Test("Once its queue has overflowed, what a slow consumer sends is discarded, not handled")
    func nothingHandledAfterAnOverflow() throws {
        let channel = EmbeddedChannel()
        let handler = try Self.makeHandler()  // a queue of 8 frames, nothing writing it out
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.writeInbound(Self.clientFrame(.text, #"{"type":"ping"}"#))
        #expect(handler.messagesWithReader == 1, "handed to the reader")
        let connection = handler.session.connection
        for _ in 0..<9 { connection.send(ByteBuffer(string: "update")) }
        #expect(connection.closeCode == RelayCloseCode.slowConsumer)
        handler.closeRequested()  // as the connection's close asks, on the loop
        try channel.writeInbound(Self.clientFrame(.text, #"{"type":"ping"}"#))
        #expect(handler.messagesWithReader == 1, "a message after the overflow was handed on")
        _ = try? channel.finish()
    }

    @Test("Reading from the socket pauses once the client's bytes pass its budget, until the debt is repaid")
    func readingPausesForBytesInDebt() throws {
        let limits = Self.byteBudget(perSecond: 64)  // a debt of a few hundred bytes takes seconds to repay
        let time = ManualBudgetClock()
        let (channel, counter) = try Self.countedConnection(limits: limits, budgetClock: time.clock)
        channel.read()
        try channel.writeInbound(Self.frames(40, .text))  // 880 of the 1,024 bytes
        channel.read()
        #expect(counter.reads == 2, "within the budget, reading goes on")
        try channel.writeInbound(Self.frames(20, .text))  // 440 more: ~300 bytes in debt, ~5 s at 64 a second
        channel.read()
        #expect(counter.reads == 2, "in debt, the read is held")
        time.advance(by: .seconds(1))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(counter.reads == 2, "still in debt")
        time.advance(by: .seconds(10))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(counter.reads == 3, "the held read goes out once the debt is repaid")
        channel.read()
        #expect(counter.reads == 4)
        _ = try? channel.finish()
    }

    /// No message budget pays for a control frame or a fragment before a message's last:
    /// unsolicited pongs, charged their bytes alone, were ~350,000 frames a second (6 bytes each)
    /// for the loop to read within the byte budget.
    @Test(
        "Control frames and fragments cost the connection's own byte budget 256 bytes a frame more than their bytes",
        arguments: ["pong", "ping", "fragment"])
    func framesBesideMessagesCostAFrameCharge(kind: String) throws {
        func frames(_ count: Int, first: Bool) -> ByteBuffer {
            switch kind {
            case "pong": return Self.frames(count, .pong)
            case "ping": return Self.frames(count, .ping)
            default:  // a text message's first fragment, then continuations: none its last
                var stream = first ? Self.frames(1, .text, fin: false) : ByteBuffer()
                var rest = Self.frames(first ? count - 1 : count, .continuation, fin: false)
                stream.writeBuffer(&rest)
                return stream
            }
        }
        // The budget's clock stands still: the debt cannot be repaid between the two reads.
        let (channel, counter) = try Self.countedConnection(
            limits: Self.byteBudget(perSecond: 64), budgetClock: ManualBudgetClock().clock)
        channel.read()
        try channel.writeInbound(frames(3, first: true))  // 3 × (22 + 256): 834 of the 1,024 bytes
        channel.read()
        #expect(counter.reads == 2, "within the budget, reading goes on")
        try channel.writeInbound(frames(1, first: false))  // 278 more: in debt, though 88 bytes were read
        channel.read()
        #expect(counter.reads == 2, "in debt, the read is held")
        _ = try? channel.finish()
    }

    @Test("Values the reader decodes while reading pauses add to the pause: reading resumes once they are paid for")
    func decodedValuesDuringAPauseExtendIt() throws {
        let limits = Self.byteBudget(perSecond: 1_024)
        let time = ManualBudgetClock()
        let (channel, counter) = try Self.countedConnection(limits: limits, budgetClock: time.clock)
        let handler = try channel.pipeline.syncOperations.handler(type: RoomSocketHandler.self)
        try channel.writeInbound(Self.pingsCosting1320Bytes())  // ~300 in debt, ~0.29 s
        channel.read()
        #expect(counter.reads == 0, "in debt, the read is held")
        // The reader decodes a message read before: 48 values, 16 past what its bytes paid for,
        // charge 1,024 bytes more, a second.
        handler.chargeDecodedValues(RelayLimits.decodedValuesPaidByBytes + 16)
        time.advance(by: .milliseconds(300))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        #expect(counter.reads == 0, "the pause timed for the first debt ends, the second holds reading")
        time.advance(by: .seconds(1))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(counter.reads == 1, "both paid for: reading resumes")
        _ = try? channel.finish()
    }

    @Test("What arrives while reading pauses for the byte budget (NIO reads at hang-up) waits for the pause's end")
    func bytesReadDuringAPauseWait() throws {
        let (channel, handler, time) = try Self.pausedWithAMessageRead()
        #expect(handler.messagesWithReader == 0, "held while reading pauses")
        time.advance(by: .seconds(10))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(handler.messagesWithReader == 1, "handled as the pause ends")
        _ = try? channel.finish()
    }

    @Test("A client that hangs up past its own byte budget has what came during the pause dropped, not handled")
    func pastItsBudgetAtHangUp() throws {
        let (channel, handler, time) = try Self.pausedWithAMessageRead()
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(handler.messagesWithReader == 0, "dropped: it would be handled at once, past the budget")
        #expect(!channel.isActive, "the connection is over")
        time.advance(by: .seconds(10))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(handler.messagesWithReader == 0)
        _ = try? channel.finish()
    }

    @Test("A pong the server has not read because reading pauses for the byte budget does not count as missed")
    func pausedReadingDoesNotMissPongs() throws {
        let limits = Self.byteBudget(perSecond: 64)  // ~300 bytes of debt: ~5 s without reading
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler(limits: limits, pingInterval: .seconds(1)))
        channel.read()
        try channel.writeInbound(Self.pingsCosting1320Bytes())  // in debt
        channel.read()
        #expect(counter.reads == 1, "in debt, the read is held")
        var pingPayload: ByteBuffer?
        var closes: [WebSocketFrame] = []
        func drainOutbound() throws {
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
                if frame.opcode == .ping { pingPayload = frame.data }
                if frame.opcode == .connectionClose { closes.append(frame) }
            }
        }
        // The client answers the first ping at once; its pong waits in TCP while the server reads nothing.
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try drainOutbound()
        let payload = try #require(pingPayload)
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            try drainOutbound()
        }
        #expect(closes.isEmpty, "closed while the server was not reading: \(closes)")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))  // 5 s: the debt is repaid (at ~4.6 s)
        try drainOutbound()
        #expect(counter.reads == 2, "reading resumes")
        var pong = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: payload.readableBytes)
        pong.writeImmutableBuffer(payload)
        try channel.writeInbound(ClientFrame.frame(pong, opcode: .pong, maskKey: 0x12A5_00FF))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try drainOutbound()
        #expect(closes.isEmpty, "the pong came: \(closes)")
        _ = try? channel.finish()
    }

    @Test("A byte rate of zero (set in code; the command line takes 1,024 at least) reads a byte a second")
    func zeroByteRate() throws {
        let limits = Self.byteBudget(perSecond: 0)
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler(limits: limits))
        try channel.writeInbound(Self.pingsCosting1320Bytes())  // ~300 in debt
        channel.read()
        #expect(counter.reads == 0, "in debt, the read is held")
        channel.embeddedEventLoop.advanceTime(by: .seconds(250))
        #expect(counter.reads == 0, "~300 bytes of debt take ~300 s at a byte a second")
        channel.embeddedEventLoop.advanceTime(by: .seconds(150))
        #expect(counter.reads == 1, "repaid at a byte a second")
        _ = try? channel.finish()
    }

    @Test("Pings from a client whose socket takes no more are not answered one by one: the latest is, once it does")
    func pongsWaitForWritability() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler())
        channel.isWritable = false
        for index in 0..<1000 {
            try channel.writeInbound(Self.clientFrame(.ping, "\(index)"))
        }
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing written while unwritable")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong)
        #expect(String(buffer: pong.data) == "999")
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "one pong")
        _ = try channel.finish()
    }

    /// A `reconnect` or `join_room` the reader handles after this must take no seat (``GameRoom``).
    @Test("Once its socket has closed, or the server has hung up on it, a connection can take no seat")
    func aClosedSocketTakesNoSeat() throws {
        // Failed, its close frame not yet out (a full socket): the channel is still open.
        let (hungUpOn, failed, _) = try Self.heldConnection()
        #expect(failed.session.connection.canTakeASeat)
        failed.sendClose(.protocolError, thenHangUp: true)
        #expect(hungUpOn.isActive)
        #expect(!failed.session.connection.canTakeASeat)
        _ = try? hungUpOn.finish()

        let closed = EmbeddedChannel()
        let handler = try Self.makeHandler()
        try closed.pipeline.syncOperations.addHandler(handler)
        try closed.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        #expect(handler.session.connection.canTakeASeat)
        try closed.close().wait()  // the client hung up
        #expect(!handler.session.connection.canTakeASeat)
        #expect(handler.session.connection.closeCode == nil, "not a close the server asked for")
    }

    @Test("A ping while the server waits for the answer to its close frame is answered (RFC 6455 §5.5.2)")
    func pingAnsweredWhileClosing() throws {
        let channel = EmbeddedChannel()
        let handler = try Self.makeHandler()
        try channel.pipeline.syncOperations.addHandler(handler)
        handler.sendClose(.goingAway)
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        try channel.writeInbound(Self.clientFrame(.ping, "still there?"))
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong)
        #expect(String(buffer: pong.data) == "still there?")
        _ = try? channel.finish()
    }

    /// Answering the pings, a client kept the fragments of a message it never finished for as
    /// long as it liked: up to a message's worth of memory (64 KiB by default) per connection.
    @Test(
        "A message left unfinished from one ping to the next closes the connection (1008); one finished in between does not",
        arguments: [false, true])
    func unfinishedMessageIsClosed(finishes: Bool) throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler(pingInterval: .seconds(1)))
        var closes: [WebSocketFrame] = []
        /// Answers every ping, as a live client does.
        func answerPings() throws {
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
                if frame.opcode == .connectionClose { closes.append(frame) }
                guard frame.opcode == .ping else { continue }
                var pong = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: frame.data.readableBytes)
                pong.writeImmutableBuffer(frame.data)
                try channel.writeInbound(ClientFrame.frame(pong, opcode: .pong, maskKey: 0x12A5_00FF))
            }
        }
        /// The start of a message, FIN clear: more to come.
        func unfinished() -> ByteBuffer {
            var frame = Self.clientFrame(.text, #"{"type":"ping","#)
            frame.setInteger(frame.getInteger(at: frame.readerIndex, as: UInt8.self)! & 0x7F, at: frame.readerIndex)
            return frame
        }
        try channel.writeInbound(unfinished())
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_500))  // a ping
        try answerPings()
        if finishes {
            try channel.writeInbound(Self.clientFrame(.continuation, #""timestamp":1}"#))
            try channel.writeInbound(unfinished())  // another: it has seen no ping yet
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))  // the next
        try answerPings()
        let codes = closes.map { $0.data.getInteger(at: $0.data.readerIndex, as: UInt16.self) }
        #expect(codes == (finishes ? [] : [1008]), "\(codes)")
        _ = try? channel.finish()
    }

    /// Its last fragment may wait unread while the server holds back reading (here for the
    /// connection's byte budget): that is not the client's doing.
    @Test("A message unfinished while the server held back reading is not closed for it")
    func unfinishedWhileReadsAreHeld() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        let limits = Self.byteBudget(perSecond: 64)  // ~600 bytes of debt: ~9 s without reading
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler(limits: limits, pingInterval: .seconds(1)))
        channel.read()
        var first = Self.clientFrame(.text, #"{"type":"ping","#)
        first.setInteger(first.getInteger(at: first.readerIndex, as: UInt8.self)! & 0x7F, at: first.readerIndex)
        var stream = first
        var pings = Self.pingsCosting1320Bytes()
        stream.writeBuffer(&pings)
        try channel.writeInbound(stream)  // the message's start (a fragment: 277 bytes), then 1,320: in debt
        channel.read()
        #expect(counter.reads == 1, "in debt, the read is held")
        var closes: [WebSocketFrame] = []
        for _ in 0..<3 {  // three pings: the message was open at two of them
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
                if frame.opcode == .connectionClose { closes.append(frame) }
            }
        }
        #expect(closes.isEmpty, "closed while the server was not reading: \(closes)")
        _ = try? channel.finish()
    }

    /// Holds the frames written, as a socket whose buffer is full does, until released.
    final class HeldWrites: ChannelOutboundHandler {
        typealias OutboundIn = WebSocketFrame
        private(set) var frames: [WebSocketFrame] = []
        private var held: [(NIOAny, EventLoopPromise<Void>?)] = []
        private var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            self.frames.append(self.unwrapOutboundIn(data))
            self.held.append((data, promise))
        }
        func flush(context: ChannelHandlerContext) {}

        /// The client read what was waiting: it all leaves.
        func release() {
            guard let context = self.context else { return }
            let held = self.held
            self.held = []
            for (data, promise) in held { context.write(data, promise: promise) }
            context.flush()
        }
    }

    /// A connection whose writes wait in a ``HeldWrites`` (grace period 1 s), and its handler.
    static func heldConnection(
        closeDrainLimit: Duration = RelayLimits().closeDrainLimit, pingInterval: TimeAmount = .seconds(30)
    ) throws -> (EmbeddedChannel, RoomSocketHandler, HeldWrites) {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(1)
        limits.closeDrainLimit = closeDrainLimit
        let channel = EmbeddedChannel()
        let held = HeldWrites()
        let handler = try Self.makeHandler(limits: limits, pingInterval: pingInterval)
        try channel.pipeline.syncOperations.addHandlers([held, handler])
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, handler, held)
    }

    static func closeFrame(code: UInt16) -> ByteBuffer {
        var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: 2)
        payload.writeInteger(code)
        return ClientFrame.frame(payload, opcode: .connectionClose, maskKey: 0x12A5_00FF)
    }

    @Test(
        "The answer to a client's close waits behind a backlog while the client takes bytes; one that takes none is hung up"
    )
    func closeAnswerWaitsForABacklog() throws {
        let (channel, _, held) = try Self.heldConnection()
        try channel.writeInbound(Self.closeFrame(code: 1000))
        #expect(held.frames.last?.opcode == .connectionClose)
        for second in 1...3 {
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()  // the client took bytes
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            #expect(channel.isActive, "second \(second): the frame is not out yet, and the client reads")
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive, "a whole grace period without a byte taken")
        _ = try? channel.finish()

        let (reading, _, released) = try Self.heldConnection()
        try reading.writeInbound(Self.closeFrame(code: 1000))
        released.release()
        // Written: the server's half ends (an EmbeddedChannel has no half-close, so it closes).
        #expect(!reading.isActive)
        _ = try? reading.finish()
    }

    /// The socket tests of slow consumers see a client dropped, not at which queue length.
    @Test(
        "A room socket's queue holds what --outbound-queue-frames and --outbound-queue-bytes say",
        arguments: [(frames: 3, bytes: Int.max, fitting: 3), (frames: 1_000, bytes: 100, fitting: 1)])
    func queueLimitsReachTheConnection(frames: Int, bytes: Int, fitting: Int) throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = frames
        limits.outboundQueueBytes = bytes
        let registry = RoomRegistry(
            limits: limits, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        let socket = try RoomSocket.open(
            on: channel, roomID: "new", dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all),
            registry: registry, settings: .init(maxMessageBytes: 1024, pingInterval: .seconds(30)),
            logger: Logger(label: "test"))
        let connection = socket.handler.value.session.connection
        let message = ByteBuffer(repeating: UInt8(ascii: "x"), count: 60)  // no writer runs: all of it waits
        for _ in 0..<fitting { #expect(connection.send(message)) }
        #expect(connection.closeCode == nil)
        #expect(!connection.send(message))
        #expect(connection.closeCode == RelayCloseCode.slowConsumer)
        _ = try? channel.finish()
    }

    /// The drain bounds the connection's life: a ping the client has not answered (it waits behind
    /// the backlog the client is reading) used to fail it with 1001, replacing the close the
    /// server was sending (4001, 1008) and dropping what was queued before it.
    @Test("While the server's close drains a backlog, a missed pong does not fail the connection")
    func noPingCheckWhileDraining() throws {
        let (channel, handler, held) = try Self.heldConnection(
            closeDrainLimit: .seconds(60), pingInterval: .seconds(1))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(held.frames.last?.opcode == .ping)
        handler.closeRequested()  // the server closes: its queue goes out first
        for second in 1...4 {
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()  // the client still takes bytes
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            #expect(channel.isActive, "second \(second)")
        }
        #expect(!held.frames.contains { $0.opcode == .connectionClose }, "failed: \(held.frames.map(\.opcode))")
        _ = try? channel.finish()
    }

    @Test("A client's close during the server's own closing drain does not start the drain's limit over")
    func clientCloseKeepsTheDrainLimit() throws {
        let (channel, handler, _) = try Self.heldConnection(closeDrainLimit: .milliseconds(800))
        handler.closeRequested()  // the server closes: its queue goes out first, the drain starts now
        // The drain's first check is due 1 s on (a grace period), past its limit; the client's close
        // comes half way, so a drain it started over would be 0.5 s old then, within the limit.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        try channel.writeInbound(Self.closeFrame(code: 1000))  // the client's own close, behind the backlog
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()  // the client still reads
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        #expect(!channel.isActive, "the limit runs from the server's close")
        _ = try? channel.finish()
    }

    @Test("A client's answer to the server's close before that frame has left waits for it to leave")
    func closeAnsweredEarlyWaitsForTheFrame() throws {
        let (channel, handler, held) = try Self.heldConnection()
        handler.sendClose(.goingAway)
        #expect(held.frames.last?.opcode == .connectionClose)
        try channel.writeInbound(Self.closeFrame(code: 1001))
        #expect(channel.isActive, "closing now would drop the server's close frame")
        held.release()
        #expect(!channel.isActive, "answered: no grace period to wait")
        _ = try? channel.finish()
    }

    @Test("While the server closes, a new data frame over the cap is dropped, not answered with 1009")
    func oversizedFrameWhileClosing() throws {
        let channel = EmbeddedChannel()
        let handler = try Self.makeHandler()  // messages of 1,024 bytes
        try channel.pipeline.syncOperations.addHandler(handler)
        handler.readerEnded()  // the connection ends its own way (a flood: its replies drain, then 1008)
        // The header of a masked text frame of 1,025 bytes.
        try channel.writeInbound(ByteBuffer(bytes: [0x81, 0x80 | 126, 0x04, 0x01, 0, 0, 0, 0]))
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        handler.sendClose(.policyViolation)  // the close the server meant to send still goes out
        var code = try #require(try channel.readOutbound(as: WebSocketFrame.self)).data
        #expect(code.readInteger(as: UInt16.self) == 1008)
        _ = try? channel.finish()
    }

    @Test("A ping read after the client's answer to the server's close is not answered")
    func noPongAfterTheCloseHandshake() throws {
        let (channel, handler, held) = try Self.heldConnection()
        handler.sendClose(.goingAway)
        var bytes = Self.closeFrame(code: 1001)
        var ping = ClientFrame.frame(ByteBuffer(string: "x"), opcode: .ping, maskKey: 0x0102_0304)
        bytes.writeBuffer(&ping)
        try channel.writeInbound(bytes)
        #expect(held.frames.map(\.opcode) == [.connectionClose])
        _ = try? channel.finish()
    }

    @Test("A continuation longer than its message has left is refused at its header, before its payload comes")
    func continuationRefusedAtItsHeader() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler())  // messages of 1,024 bytes
        var start = Self.clientFrame(.text, String(repeating: "a", count: 1_000))
        // Not final: FIN cleared.
        start.setInteger(start.getInteger(at: start.readerIndex, as: UInt8.self)! & 0x7F, at: start.readerIndex)
        try channel.writeInbound(start)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        // A final continuation of 100 bytes (24 would fit): its header alone, masked.
        try channel.writeInbound(ByteBuffer(bytes: [0x80, 0x80 | 100, 1, 2, 3, 4]))
        let close = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(close.opcode == .connectionClose)
        var code = close.data
        #expect(code.readInteger(as: UInt16.self) == 1009)
        _ = try? channel.finish()

        // Once the reader has stopped (the connection is ending its own way), it is discarded as any
        // data frame is, not answered with 1009 in place of the close the server means to send.
        let ending = EmbeddedChannel()
        let handler = try Self.makeHandler()
        try ending.pipeline.syncOperations.addHandler(handler)
        try ending.writeInbound(start)
        handler.readerEnded()
        var continuation = ByteBuffer(bytes: [0x80, 0x80 | 100, 0, 0, 0, 0])
        continuation.writeRepeatingByte(UInt8(ascii: "a"), count: 100)
        try ending.writeInbound(continuation)
        #expect(try ending.readOutbound(as: WebSocketFrame.self) == nil)
        _ = try? ending.finish()
    }

    @Test("Frames are handled whether a read holds several or a part of one; a refused frame fails the connection")
    func framesAcrossReads() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(try Self.makeHandler())
        var stream = ByteBuffer()
        for index in 0..<3 {
            var ping = Self.clientFrame(.ping, "p\(index)")
            stream.writeBuffer(&ping)
        }
        // 3 pings in 2 reads, cut inside the second ping's mask.
        let cut = 11
        try channel.writeInbound(stream.getSlice(at: stream.readerIndex, length: cut)!)
        try channel.writeInbound(stream.getSlice(at: stream.readerIndex + cut, length: stream.readableBytes - cut)!)
        // One pong per read, for its latest ping.
        for payload in ["p0", "p2"] {
            let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
            #expect(pong.opcode == .pong && String(buffer: pong.data) == payload)
        }
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        // A frame over the 1,024-byte cap: a 1009 close, and what follows it is not read.
        var tooLong = Self.clientFrame(.text, String(repeating: "a", count: 2000))
        var ping = Self.clientFrame(.ping, "1")
        tooLong.writeBuffer(&ping)
        try channel.writeInbound(tooLong)
        var close = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(close.opcode == .connectionClose)
        #expect(close.data.readWebSocketErrorCode() == .messageTooLarge)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "no pong after the refusal")
        _ = try? channel.finish()
    }

    @Test("What is kept of a partial frame stays small while every read ends inside a frame")
    func partialFramesKeepLittle() throws {
        var limits = RelayLimits()
        limits.inboundByteBurst = 1 << 24  // within budget: reads during a pause would be held
        let channel = EmbeddedChannel()
        let handler = try Self.makeHandler(limits: limits)
        try channel.pipeline.syncOperations.addHandler(handler)
        var stream = ByteBuffer()
        for _ in 0..<20_000 {  // 20,000 pongs of 131 bytes: 2.6 MB, never answered
            var pong = Self.clientFrame(.pong, String(repeating: "a", count: 125))
            stream.writeBuffer(&pong)
        }
        var largestKept = 0
        while stream.readableBytes > 0 {
            var length = min(4096, stream.readableBytes)
            // Never on a boundary.
            if length < stream.readableBytes, (stream.readerIndex + length) % 131 == 0 { length -= 1 }
            // A buffer of its own, as a socket read is.
            try channel.writeInbound(ByteBuffer(bytes: stream.readSlice(length: length)!.readableBytesView))
            largestKept = max(largestKept, handler.frames.unparsed?.capacity ?? 0)
        }
        #expect(handler.frames.unparsed == nil, "the last read ends the last frame")
        #expect(largestKept < 16 * 1024, "a partial frame of at most 131 bytes, not the 2.6 MB read so far")
        _ = try? channel.finish()
    }
}

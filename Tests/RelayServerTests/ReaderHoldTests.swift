import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import RelayServer

/// The reader's 64 messages, or 64 KiB, hold within a read too: what one read brings past them waits uncut.
@Suite("RoomSocketHandler: frames wait for a full reader")
struct ReaderHoldTests {
    typealias Socket = RoomSocketHandlerTests

    /// `count` text messages numbered from `first`, each padded with `padding` bytes, masked, as one read.
    static func numberedMessages(_ count: Int, from first: Int = 0, padding: Int = 0) -> ByteBuffer {
        var stream = ByteBuffer()
        let pad = padding > 0 ? #""pad":""# + String(repeating: "p", count: padding) + #"","# : ""
        for number in first..<first + count {
            var frame = Socket.clientFrame(.text, #"{"type":"ping",\#(pad)"n":\#(number)}"#)
            stream.writeBuffer(&frame)
        }
        return stream
    }

    /// A room socket's handler with default limits (but `maxMessageBytes`), in an `EmbeddedChannel` of its own.
    static func handlerOnChannel(maxMessageBytes: Int = 1_024) throws -> (EmbeddedChannel, RoomSocketHandler) {
        let channel = EmbeddedChannel()
        let handler = try Socket.makeHandler(maxMessageBytes: maxMessageBytes)
        try channel.pipeline.syncOperations.addHandler(handler)
        return (channel, handler)
    }

    /// The number of each message the reader has, in order, each finished as it is taken; `most`
    /// and `mostBytes` grow to the most messages, and bytes, the reader held meanwhile.
    static func drain(_ handler: RoomSocketHandler, most: inout Int, mostBytes: inout Int) -> [Int] {
        var numbers: [Int] = []
        while case .some(.some(let message)) = handler.readerQueue.poll(), case .text(let bytes) = message {
            let text = String(buffer: bytes)
            numbers.append(Int(text.split(separator: ":").last!.dropLast()) ?? -1)
            handler.readerFinished(message)
            most = max(most, handler.messagesWithReader)
            mostBytes = max(mostBytes, handler.bytesWithReader)
        }
        return numbers
    }

    static func drain(_ handler: RoomSocketHandler, most: inout Int) -> [Int] {
        var mostBytes = 0
        return Self.drain(handler, most: &most, mostBytes: &mostBytes)
    }

    @Test("One read of 1,000 messages gives the reader 64; the rest follow, in order, as it catches up")
    func aReadOfManyMessagesWaitsForTheReader() throws {
        let (channel, handler) = try Self.handlerOnChannel()
        try channel.writeInbound(Self.numberedMessages(1_000))
        #expect(handler.messagesWithReader == ReaderQueue.highWater)
        var most = handler.messagesWithReader
        #expect(Self.drain(handler, most: &most) == Array(0..<1_000))
        #expect(most <= ReaderQueue.highWater)
        #expect(handler.frames.unparsed == nil, "nothing left uncut")
        _ = try? channel.finish()
    }

    @Test("One read of 40 messages of 4 KiB gives the reader 64 KiB of them; the rest follow as it catches up")
    func aReadOfLargeMessagesWaitsForTheReader() throws {
        let (channel, handler) = try Self.handlerOnChannel(maxMessageBytes: 64 * 1024)
        try channel.writeInbound(Self.numberedMessages(40, padding: 4 * 1024))
        #expect(handler.messagesWithReader == 16, "the 16th brings it to 64 KiB")
        #expect(handler.bytesWithReader >= ReaderQueue.highWaterBytes)
        var (most, mostBytes) = (handler.messagesWithReader, handler.bytesWithReader)
        #expect(Self.drain(handler, most: &most, mostBytes: &mostBytes) == Array(0..<40))
        #expect(mostBytes < ReaderQueue.highWaterBytes + 4 * 1024 + 100, "never more than one message past the mark")
        #expect(handler.frames.unparsed == nil, "nothing left uncut")
        #expect(handler.bytesWithReader == 0)
        _ = try? channel.finish()
    }

    @Test("A ping behind a full reader is answered once it is cut, not before")
    func aPingBehindAFullReaderIsAnsweredWhenCut() throws {
        let (channel, handler) = try Self.handlerOnChannel()
        var read = Self.numberedMessages(ReaderQueue.highWater)
        var ping = Socket.clientFrame(.ping, "late")
        read.writeBuffer(&ping)
        try channel.writeInbound(read)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "not cut yet")
        handler.readerFinished(try #require(handler.readerQueue.poll() ?? nil))
        let pong = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(pong.opcode == .pong && String(buffer: pong.data) == "late")
        _ = try? channel.finish()
    }

    @Test("At the client's hang-up, a few messages a full reader left uncut are handed to it, in order")
    func aFewMessagesLeftUncutAreHandledAtHangUp() throws {
        let (channel, handler) = try Self.handlerOnChannel()
        try channel.writeInbound(Self.numberedMessages(100))  // 36 waiting, ~1 KB
        #expect(handler.messagesWithReader == ReaderQueue.highWater)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(handler.messagesWithReader == 100, "no more reads come to make room")
        var most = 0
        #expect(Self.drain(handler, most: &most) == Array(0..<100))
        _ = try? channel.finish()
    }

    @Test("At the client's hang-up, more than a few messages left uncut (a client that outran its reader) are dropped")
    func manyMessagesLeftUncutAreDroppedAtHangUp() throws {
        let (channel, handler) = try Self.handlerOnChannel()
        try channel.writeInbound(Self.numberedMessages(1_000))  // 936 waiting, ~30 KB
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(handler.messagesWithReader == ReaderQueue.highWater, "not thousands at once")
        var most = 0
        #expect(Self.drain(handler, most: &most) == Array(0..<ReaderQueue.highWater))
        _ = try? channel.finish()
    }

    @Test("Once the reader has ended (a flood), what waited uncut is read: data discarded, the client's close answered")
    func aCloseBehindAFullReaderIsReadOnceItEnds() throws {
        let (channel, handler) = try Self.handlerOnChannel()
        var read = Self.numberedMessages(100)
        var close = Socket.clientFrame(.connectionClose, "")
        read.writeBuffer(&close)
        try channel.writeInbound(read)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "not cut yet")
        handler.readerEnded()
        let answer = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(answer.opcode == .connectionClose)
        #expect((handler.readerQueue.poll() ?? nil) == nil, "the data behind was discarded, not handed on")
        #expect(handler.messagesWithReader == 0 && handler.bytesWithReader == 0)
        _ = try? channel.finish()
    }
}

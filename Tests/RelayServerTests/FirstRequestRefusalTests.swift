import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import RelayServer

/// How a refused request ends its connection, seen handler by handler.
@Suite("A refused request's connection")
struct FirstRequestRefusalTests {
    /// The first read takes 512 bytes (``SmallReadBufferChannel``). Closed at once, the connection
    /// met the rest of a body still coming with a reset, and a client sending it failed a send
    /// before it read the 400 (over loopback the kernels hold what these tests could send).
    @Test(
        "Its 400 goes out, its output closes, what it reads meanwhile is dropped, and it closes half a second later",
        arguments: [HTTPParserError.invalidHeaderToken, RequestHeadRules.Refusal.host] as [any Error])
    func closesAfterALinger(_ refusal: any Error) throws {
        let loop = EmbeddedEventLoop()
        let closes = CloseRecorder()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([closes, FirstRequestGuard()])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()

        channel.pipeline.fireErrorCaught(refusal)
        let answer = try Self.written(on: channel)
        guard case .head(let head)? = answer.first, case .end? = answer.last else {
            Issue.record("no whole answer: \(answer)")
            return
        }
        #expect(head.status == .badRequest)
        #expect(head.headers["connection"] == ["close"])
        #expect(head.headers["date"].first.map(HTTPDateTests.isRecent) == true, "\(head.headers)")
        #expect(closes.modes == [.output])
        closes.finishOutputClose()  // the answer has gone: the linger starts
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "the body, still coming")))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        channel.pipeline.fireErrorCaught(HTTPParserError.invalidHeaderToken)  // the decoder's, about those bytes
        #expect(try Self.written(on: channel).isEmpty, "one answer")

        loop.advanceTime(by: .milliseconds(499))
        #expect(closes.modes == [.output] && channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        #expect(closes.modes == [.output, .all] && !channel.isActive)
    }

    /// A later request refused for its head: nothing more is read until hummingbird's 400 has
    /// gone (its body, read as fast as it came, could be gigabytes); then the connection reads on
    /// a moment and closes, where it waited for the client's close until the idle timeout.
    @Test("A later request's refusal stops the reads until its answer closes the output, then it closes after a linger")
    func laterRefusalReadsOnlyToLinger() throws {
        let loop = EmbeddedEventLoop()
        let closes = CloseRecorder()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers([closes, RequestHeadRules(), EndedReader()])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var served = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/rooms")
        served.headers.add(name: "host", value: "a")
        try channel.writeInbound(HTTPServerRequestPart.head(served))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.read()
        #expect(closes.reads == 1)

        let reader = try channel.pipeline.syncOperations.handler(type: EndedReader.self)
        let refused = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/api/scores")  // no Host
        #expect(throws: HTTPParserError.self) { try channel.writeInbound(HTTPServerRequestPart.head(refused)) }
        reader.hasEnded = true  // as hummingbird's, once it has taken the error
        channel.read()
        #expect(closes.reads == 1, "reads stop")
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "its body")))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self)?.isHead == true)  // the first's
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self)?.isHead == false)  // its end
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil, "nothing of the refused one")

        channel.close(mode: .output, promise: nil)  // as hummingbird does after its 400
        #expect(closes.modes == [.output] && closes.reads == 1, "no read before the answer has gone")
        closes.finishOutputClose()
        #expect(closes.reads == 2, "reads on")
        // hummingbird's reader has ended and asks for no read: each read done asks for the next.
        channel.read()
        #expect(closes.reads == 2)
        channel.pipeline.fireChannelReadComplete()
        #expect(closes.reads == 3)
        loop.advanceTime(by: .milliseconds(500))
        #expect(closes.modes == [.output, .all] && !channel.isActive)
    }

    private static func written(on channel: EmbeddedChannel) throws -> [HTTPServerResponsePart] {
        var parts: [HTTPServerResponsePart] = []
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) { parts.append(part) }
        return parts
    }
}

extension HTTPServerRequestPart {
    fileprivate var isHead: Bool {
        if case .head = self { true } else { false }
    }
}

/// Records each close asked for, and closes only for a whole close (an `EmbeddedChannel` closes
/// whole for any); counts the reads asked for.
private final class CloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = Never
    private(set) var modes: [CloseMode] = []
    private(set) var reads = 0

    func read(context: ChannelHandlerContext) {
        self.reads += 1
        context.read()
    }

    /// An output close waits for ``finishOutputClose()``, as ``DrainBeforeClose`` holds one until
    /// the answers before it have gone.
    private var outputClose: EventLoopPromise<Void>?

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.modes.append(mode)
        switch mode {
        case .all: context.close(mode: mode, promise: promise)
        default: self.outputClose = promise ?? context.eventLoop.makePromise()
        }
    }

    func finishOutputClose() {
        self.outputClose?.succeed(())
        self.outputClose = nil
    }
}

/// The pipeline's last handler as hummingbird's is once its request stream has ended: it asks
/// for no more reads.
private final class EndedReader: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    var hasEnded = false

    func read(context: ChannelHandlerContext) {
        if !self.hasEnded { context.read() }
    }
}

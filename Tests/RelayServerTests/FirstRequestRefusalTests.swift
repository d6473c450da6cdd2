import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import RelayServer

/// How a refused first request ends its connection, seen handler by handler.
@Suite("A refused first request's connection")
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
        #expect(closes.modes == [.output])
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "the body, still coming")))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        channel.pipeline.fireErrorCaught(HTTPParserError.invalidHeaderToken)  // the decoder's, about those bytes
        #expect(try Self.written(on: channel).isEmpty, "one answer")

        loop.advanceTime(by: .milliseconds(499))
        #expect(closes.modes == [.output] && channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        #expect(closes.modes == [.output, .all] && !channel.isActive)
    }

    private static func written(on channel: EmbeddedChannel) throws -> [HTTPServerResponsePart] {
        var parts: [HTTPServerResponsePart] = []
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) { parts.append(part) }
        return parts
    }
}

/// Records each close asked for, and closes only for a whole close (an `EmbeddedChannel` closes
/// whole for any).
private final class CloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = Never
    private(set) var modes: [CloseMode] = []

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.modes.append(mode)
        guard mode == .all else { return promise?.succeed(()) ?? () }
        context.close(mode: mode, promise: promise)
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A loopback WebSocket server that answers each text message a client sends with the text
/// frames `answer` returns (`close:CODE` closes the connection with that code instead; `close+:CODE`
/// sends that close frame and goes on writing): a server that gets the protocol wrong in a chosen
/// way, for tests of how the bench takes one.
final class ScriptedRelay: Sendable {
    let port: Int
    private let channel: any Channel

    /// Runs `body` against a server answering with `answer`, and closes it afterwards.
    static func with<T>(
        answer: @escaping @Sendable (String) -> [String], _ body: (ScriptedRelay) async throws -> T
    ) async throws -> T {
        let relay = try await ScriptedRelay(answer: answer)
        do {
            let result = try await body(relay)
            try await relay.channel.close()
            return result
        } catch {
            try? await relay.channel.close()
            throw error
        }
    }

    private init(answer: @escaping @Sendable (String) -> [String]) async throws {
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptedAnswers(answer: answer))
                }
            })
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = self.channel.localAddress?.port else { throw ChannelError.unknownLocalAddress }
        self.port = port
    }
}

/// Answers each text frame with the script's frames; closes when the client does.
private final class ScriptedAnswers: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let answer: @Sendable (String) -> [String]

    init(answer: @escaping @Sendable (String) -> [String]) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let text = String(buffer: frame.unmaskedData)
            for reply in self.answer(text) {
                if let code = reply.wholeMatch(of: /close:(\d+)/).flatMap({ UInt16($0.1) }) {
                    var data = context.channel.allocator.buffer(capacity: 2)
                    data.writeInteger(code)
                    let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
                    let channel = context.channel
                    context.writeAndFlush(Self.wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
                    return
                }
                if let code = reply.wholeMatch(of: /close\+:(\d+)/).flatMap({ UInt16($0.1) }) {
                    var data = context.channel.allocator.buffer(capacity: 2)
                    data.writeInteger(code)
                    context.write(
                        Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)),
                        promise: nil)
                    continue
                }
                let frame = WebSocketFrame(
                    fin: true, opcode: .text, data: context.channel.allocator.buffer(string: reply))
                context.write(Self.wrapOutboundOut(frame), promise: nil)
            }
            context.flush()
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }
}

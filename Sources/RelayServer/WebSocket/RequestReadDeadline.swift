import NIOCore
import NIOHTTP1

/// Closes an HTTP connection whose next request has not arrived whole, head and body, within
/// `timeout` of the server starting to wait for it: from the connection's start, and from the
/// end of each answer.
///
/// An idle timeout alone restarts with every byte, so a client sending its head or its body a
/// byte every few seconds held its connection for as long as it liked (a 29-byte body over 44 s
/// with a 2 s timeout), and enough of them fill the connection cap. While a request is being
/// answered the server is not waiting, and nothing is timed: a slow store write is not the
/// client's fault. A room-socket upgrade takes the connection off HTTP, and this handler out.
///
/// It sits after ``FirstRequestGuard`` (which has already dropped any `Upgrade` the server will
/// not act on), just before NIO's upgrade handler.
final class RequestReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests read whole whose answers have not ended (more than one if the client pipelines).
    private var unanswered = 0
    private var isFirstHead = true

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.arm(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            defer { self.isFirstHead = false }
            if self.isFirstHead, head.headers.contains(name: "upgrade") {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        case .body:
            break
        case .end:
            self.unanswered += 1
            self.disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data), self.unanswered > 0 {
            self.unanswered -= 1
            if self.unanswered == 0 { self.arm(context: context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(context: ChannelHandlerContext) {
        self.disarm()
        let channel = context.channel
        self.deadline = context.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
    }

    private func disarm() {
        self.deadline?.cancel()
        self.deadline = nil
    }
}

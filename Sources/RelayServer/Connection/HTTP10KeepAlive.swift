import NIOCore
import NIOHTTP1

/// Says `Connection: keep-alive` in each answer to an HTTP/1.0 request that asked to keep its
/// connection, unless the answer closes it. An HTTP/1.0 connection stays open only when both
/// sides say so: the server kept it open, silently, and a client that asked (`ab -k`) took the
/// answer for one that ends at the close, and waited for it until the idle timeout.
///
/// It sits after ``RequestHeadRules``, which has turned every other HTTP/1.0 head's `Connection`
/// into `close`, and leaves the pipeline at a room socket's upgrade, as the other HTTP handlers do
/// (the order: ``RelayChildChannel``).
final class HTTP10KeepAlive: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// For each request read and not yet answered, in order: whether it is HTTP/1.0 kept alive.
    private var keptAlive = CircularBuffer<Bool>(initialCapacity: 2)
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = self.unwrapInboundIn(data) {
            defer { self.isFirstHead = false }
            if self.isFirstHead, head.asksToUpgrade {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
            self.keptAlive.append(head.version == .http1_0 && head.headers["connection"] != ["close"])
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // An answer's head, not a `100 Continue`: its request's.
        guard case .head(var head) = self.unwrapOutboundIn(data), head.status.code >= 200,
            self.keptAlive.popFirst() == true,
            !head.headers["connection"].contains(where: { $0.listsASCII(caseInsensitively: "close") })
        else { return context.write(data, promise: promise) }
        head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
        context.write(self.wrapOutboundOut(.head(head)), promise: promise)
    }
}

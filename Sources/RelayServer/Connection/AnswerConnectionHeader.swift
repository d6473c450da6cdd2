import NIOCore
import NIOHTTP1

/// Says in each answer's `Connection` what its request made of the connection, unless the answer
/// closes it anyway:
/// - `keep-alive` to an HTTP/1.0 request that asked to keep it. An HTTP/1.0 connection stays open
///   only when both sides say so: the server kept it open, silently, and a client that asked
///   (`ab -k`) took the answer for one that ends at the close, and waited for it until the idle
///   timeout.
/// - `close` to a request that ends it (RFC 9112 §9.6, as uvicorn answered): NIO closes the
///   connection after the answer without saying so in it.
///
/// It sits after ``RequestHeadRules``, which has put every request head's `Connection` that ends
/// the connection in the form `close`, HTTP/1.0 heads without `keep-alive` included, and leaves the
/// pipeline at an upgrade the server makes (``FirstRequestGuard/takesUpgrade(_:)``: the order is
/// ``RelayChildChannel``'s).
final class AnswerConnectionHeader: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// For each request read and not yet answered, in order: what its answer's `Connection` says
    /// (nil: nothing, an HTTP/1.1 connection kept).
    private var answerSays = CircularBuffer<String?>(initialCapacity: 2)
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = self.unwrapInboundIn(data) {
            defer { self.isFirstHead = false }
            if self.isFirstHead, FirstRequestGuard.takesUpgrade(head) {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
            // NIO's decoder reads no request after one that asks to upgrade (a later one: `Upgrade`
            // named in `Connection` too, as llhttp reads it); one the server does not make (h2c,
            // another path's) is answered as a plain request, and ends its connection.
            let endsConnection =
                head.headers["connection"] == ["close"]
                || (head.asksToUpgrade
                    && (self.isFirstHead
                        || head.headers["connection"].contains { $0.listsASCII(caseInsensitively: "upgrade") }))
            self.answerSays.append(endsConnection ? "close" : head.version == .http1_0 ? "keep-alive" : nil)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // An answer's head, not a `100 Continue`: its request's.
        guard case .head(var head) = self.unwrapOutboundIn(data), head.status.code >= 200,
            let word = self.answerSays.popFirst() ?? nil,
            !head.headers["connection"].contains(where: { $0.listsASCII(caseInsensitively: "close") })
        else { return context.write(data, promise: promise) }
        head.headers.replaceOrAdd(name: "connection", value: word)
        context.write(self.wrapOutboundOut(.head(head)), promise: promise)
    }
}

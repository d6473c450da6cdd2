import NIOCore
import NIOHTTP1

/// Ends a connection after an answer that went out before its request's body could follow: the
/// request asked for `100 Continue` (``ExpectContinue``), was answered without one (a bad key, an
/// unknown route, a body declared too large), and its body had not arrived whole. Also after any
/// answer that goes out while a body longer than ``longestBodyDrained`` still comes (declared so,
/// or chunked; a `413`, a bad key, an unknown route): read to its end, as it would be to keep the
/// connection, it could be gigabytes.
///
/// The connection is then in an unknown state. The client may send its body anyway (curl does,
/// as do clients that stop waiting for the `100`), or go straight to its next request, as RFC
/// 9110 §10.1.1 lets it; the server cannot tell the next bytes apart. Kept open, a client of the
/// second kind had its next request read as the unsent body. So the answer says
/// `Connection: close`, as §10.1.1 asks a server to say which it will do; the connection's output
/// closes after it, and the whole connection a moment later (``ChannelHandlerContext/closeOutputThenLinger(promise:)``).
/// Nothing read after the answer is acted on. A client that sent its body without waiting, or
/// was sent the `100`, keeps its connection.
///
/// It sits last before NIO's upgrade handler, after the handlers that put each head in its final
/// form, and leaves the pipeline at a room socket's upgrade, as they do (the order:
/// ``RelayChildChannel``).
final class EarlyAnswerEndsConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Where a request's body stands, as an answer to it would find it.
    enum Body: Equatable {
        /// Whole, or none: an answer leaves the connection as it is.
        case settled
        /// Still coming: an answer ends the connection when the body is not `drainable` (declared
        /// at most ``longestBodyDrained``, read and dropped to keep the connection, as a client
        /// that sent it whole expects).
        case coming(drainable: Bool)
        /// Waiting for `100 Continue`: any answer ends the connection.
        case inDoubt(drainable: Bool)
    }

    /// The longest body a `413` still reads to its end to keep the connection.
    static let longestBodyDrained = 1 << 20

    /// For each request read and not yet answered, in order (more than one if the client
    /// pipelines): where its body stands.
    private var unanswered = CircularBuffer<Body>(initialCapacity: 2)
    /// The last head read has not had its end yet.
    private var isReadingBody = false
    /// The answer being written ends the connection: nothing read from then on is acted on.
    private var closesAfterAnswer = false
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closesAfterAnswer else { return }
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            defer { self.isFirstHead = false }
            if self.isFirstHead, head.asksToUpgrade {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
            self.isReadingBody = true
            self.unanswered.append(Self.body(of: head))
        case .body:
            break
        case .end:
            // Still unanswered, the request being read is the last one read: answers go in order.
            if self.isReadingBody, !self.unanswered.isEmpty {
                self.unanswered[self.unanswered.index(before: self.unanswered.endIndex)] = .settled
            }
            self.isReadingBody = false
        }
        context.fireChannelRead(data)
    }

    /// After a closing answer the decoder's errors are about bytes the server will not act on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.closesAfterAnswer else { return }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head) where head.status == .continue:
            // The client sends its body now, and the server reads it all.
            if case .inDoubt(let drainable)? = self.unanswered.first {
                self.unanswered[self.unanswered.startIndex] = .coming(drainable: drainable)
            }
        case .head(var head):
            switch self.unanswered.popFirst() {
            case .inDoubt?: break
            // A 413, a bad key, an unknown route: read to its end, the body could be gigabytes.
            case .coming(drainable: false)?: break
            default: return context.write(data, promise: promise)
            }
            self.closesAfterAnswer = true
            head.headers.replaceOrAdd(name: "connection", value: "close")
            return context.write(self.wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            break
        case .end:
            guard self.closesAfterAnswer else { break }
            context.write(data, promise: promise)
            // The input stays open a moment for what the client already sent, dropped above.
            return context.closeOutputThenLinger()
        }
        context.write(data, promise: promise)
    }

    /// Where the body `head` declares stands as the head is read: waiting for `100 Continue` if
    /// the head asks for one (``RequestHeadRules`` has dropped the expectation from an HTTP/1.0
    /// head), else coming, unless there is none. A length is read as `UInt64`, as HTTP's parser
    /// takes it: one past `Int.max` is a body too.
    static func body(of head: HTTPRequestHead) -> Body {
        let declaresBody =
            head.headers.contains(name: "transfer-encoding")
            || head.headers["content-length"].contains { UInt64($0).map { $0 > 0 } ?? true }
        guard declaresBody else { return .settled }
        let drainable =
            !head.headers.contains(name: "transfer-encoding")
            && head.headers["content-length"].allSatisfy {
                UInt64($0).map { $0 <= Self.longestBodyDrained } ?? false
            }
        return ExpectContinue.asksToContinue(head.headers["expect"])
            ? .inDoubt(drainable: drainable) : .coming(drainable: drainable)
    }
}

import NIOCore
import NIOHTTP1

/// How long an HTTP connection may keep the server waiting, on either side. Both are the HTTP
/// timeout (`--http-idle-timeout-seconds`):
///
/// - **A request must arrive whole**, head and body, within the timeout of the server starting to
///   wait for it: from the connection's start, and from the end of each answer. An idle timeout
///   alone restarts with every byte, so a client sending its body a byte every few seconds held its
///   connection for as long as it liked (29 bytes over 44 s with a 2 s timeout), and enough of them
///   fill the connection cap. While a request is being answered nothing is timed: a slow store
///   write is not the client's fault.
/// - **An answer may not stall**: a connection whose socket stays unwritable (the client stopped
///   reading, and its buffers and ours are full) for the timeout is closed. Before, a client that
///   asked for images and never read held its connection for good.
///
/// A room-socket upgrade takes the connection off HTTP, and this handler out: room sockets have
/// their own rules for slow readers. It sits after ``FirstRequestGuard`` (which has already
/// dropped any `Upgrade` the server will not act on), just before NIO's upgrade handler.
final class HTTPDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    /// When the server began waiting for the request now due; nil while it answers one.
    private var waitingSince: NIODeadline?
    /// One timer per connection, firing at most once per timeout, not one per request: a
    /// request only stamps ``waitingSince`` (a timer armed and cancelled per request cost the
    /// HTTP API a few per cent of its throughput).
    private var check: Scheduled<Void>?
    /// Set while the socket is unwritable.
    private var stall: Scheduled<Void>?
    /// Requests read whole whose answers have not ended (more than one if the client pipelines).
    private var unanswered = 0
    /// Answers that ended before their request did (a 405 or 413 at the head): that request's end
    /// then starts the wait for the next, rather than waiting for an answer that has gone out.
    private var answeredEarly = 0
    private var isFirstHead = true

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        self.waitingSince = now
        self.scheduleCheck(context: context, at: now + self.timeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.check?.cancel()
        self.stall?.cancel()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.stall?.cancel()
            self.stall = nil
        } else if self.stall == nil {
            let channel = context.channel
            self.stall = context.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
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
            if self.answeredEarly > 0 {
                self.answeredEarly -= 1
                if self.unanswered == 0 { self.waitingSince = .now() }
            } else {
                self.unanswered += 1
                self.waitingSince = nil
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) {
            if self.unanswered > 0 {
                self.unanswered -= 1
                if self.unanswered == 0 { self.waitingSince = .now() }
            } else {
                self.answeredEarly += 1
            }
        }
        context.write(data, promise: promise)
    }

    /// Closes the connection if it has waited a whole timeout for its request; otherwise looks
    /// again when the current wait would run out (or a timeout from now, if it is not waiting).
    private func scheduleCheck(context: ChannelHandlerContext, at time: NIODeadline) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.check = context.value.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = (handler.value, context.value)
            let now = NIODeadline.now()
            guard let since = handler.waitingSince else {
                return handler.scheduleCheck(context: context, at: now + handler.timeout)
            }
            if now >= since + handler.timeout {
                context.close(promise: nil)
            } else {
                handler.scheduleCheck(context: context, at: since + handler.timeout)
            }
        }
    }
}

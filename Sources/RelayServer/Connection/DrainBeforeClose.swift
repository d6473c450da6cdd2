import NIOCore

/// Lets what an HTTP connection has written leave for the socket before closes that would drop
/// it, and bounds how long a graceful stop waits for the connection. hummingbird closes a connection
/// once its last answer is written, not sent, and an 8 MB image queued behind a close arrived as 270 KB:
///
/// - **A half-close of the output**, which ends a connection: NIO makes it a full close when the
///   client has already half-closed its side (sent its request, then `shutdown(SHUT_WR)`, as
///   `nc -N` does).
/// - **A stop** (SIGTERM): hummingbird closes each connection once its last answer is written, and
///   waits for a request still arriving (an upload stalled mid-body held the stop for the 30 s
///   request deadline). At a stop the close waits for the writes too, and each connection is given
///   ``limitWhenStopping`` to finish its request, its answer and the answer's sending; then it is
///   closed, so that a slow client cannot hold the stop longer. Not while the server is working out
///   an answer: the stop waits for hummingbird's handler anyway, and a close would only take the
///   answer from the client (a score whose write then committed, which it would send again). The
///   limit starts again once the answer begins.
///
/// An empty write queued behind the others completes once they are all written; the close follows
/// it. First in the pipeline, so that the empty write goes straight to the socket; taken out when a
/// connection becomes a room socket, which closes its own way.
final class DrainBeforeClose: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// How long a stop waits for an HTTP connection (less than the 10 s `docker stop` gives before
    /// it kills).
    static let limitWhenStopping: TimeAmount = .seconds(5)

    private var isStopping = false
    /// Closes waiting for the writes queued before them.
    private var drains = 0
    /// The close that ends the connection once a stop has waited for it long enough.
    private var limit: Scheduled<Void>?
    /// The limit ran out while an answer was being worked out: it starts again with the answer.
    private var limitWaitsForAnswer = false

    func handlerRemoved(context: ChannelHandlerContext) {
        self.limit?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !self.isStopping {
            self.isStopping = true
            self.startLimit(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func startLimit(_ context: ChannelHandlerContext) {
        self.limitWaitsForAnswer = false
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.limit = context.eventLoop.scheduleTask(in: Self.limitWhenStopping) {
            let (handler, context) = bound.value
            handler.limit = nil
            // A close waiting for writes is cut whatever the request (a late upgrade's is unanswered).
            let deadlines = try? context.pipeline.syncOperations.handler(type: HTTPDeadlines.self)
            if handler.drains == 0, deadlines?.isPreparingAnswer == true {
                handler.limitWaitsForAnswer = true
            } else {
                context.close(promise: nil)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if self.limitWaitsForAnswer { self.startLimit(context) }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.limitWaitsForAnswer { self.startLimit(context) }
        switch mode {
        case .output:
            self.afterQueuedWrites(context) { $0.close(mode: .output, promise: promise) }
        case .all where self.isStopping:
            self.afterQueuedWrites(context) { $0.close(mode: .all, promise: promise) }
        default:
            context.close(mode: mode, promise: promise)
        }
    }

    /// Runs `next` once everything written so far has gone to the kernel, or failed to (the
    /// connection is closing anyway: a reset, a cut-off, the stop's limit; `next`'s close then
    /// fails as it would have).
    private func afterQueuedWrites(
        _ context: ChannelHandlerContext, _ next: @escaping (ChannelHandlerContext) -> Void
    ) {
        self.drains += 1
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: written)
        let bound = NIOLoopBound((self, context, next), eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in
            let (handler, context, next) = bound.value
            handler.drains -= 1
            next(context)
        }
    }

    /// Takes the handler out of `channel`'s pipeline, if it is there (on the channel's event loop).
    static func remove(from channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let handler = try? pipeline.handler(type: Self.self) {
            pipeline.removeHandler(handler, promise: nil)
        }
    }
}

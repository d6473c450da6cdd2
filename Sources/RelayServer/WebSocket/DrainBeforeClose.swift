import NIOCore

/// Lets what an HTTP connection has written leave for the socket before closes that would drop
/// it. hummingbird closes a connection once its last answer is written, not sent, and an 8 MB
/// image queued behind a close arrived as 270 KB:
///
/// - **A half-close of the output**, which ends a connection: NIO makes it a full close when the
///   client has already half-closed its side (sent its request, then `shutdown(SHUT_WR)`, as
///   `nc -N` does).
/// - **The closes at a graceful stop** (SIGTERM): hummingbird closes each connection once its last
///   answer is written. At a stop, a close (or half-close) waits for the writes for at most
///   ``drainLimitWhenStopping``, so that a client that reads slowly cannot hold the stop longer.
///
/// An empty write queued behind the others completes once they are all written; the close follows
/// it. First in the pipeline, so that the empty write goes straight to the socket; taken out when a
/// connection becomes a room socket, which closes its own way.
final class DrainBeforeClose: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// How long a stop waits for an answer still being sent (less than the 10 s `docker stop`
    /// gives before it kills).
    static let drainLimitWhenStopping: TimeAmount = .seconds(5)

    private var isStopping = false
    /// Closes waiting for the writes queued before them.
    private var drains = 0
    /// The full close that ends the connection's drains once a stop has waited for them long enough.
    private var limit: Scheduled<Void>?

    func handlerRemoved(context: ChannelHandlerContext) {
        self.limit?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.isStopping = true
            // A half-close already waiting is bounded too: a late upgrade's, whose request
            // hummingbird counts as unanswered, so that it never closes the connection at the stop.
            if self.drains > 0 { self.limitDrains(context) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
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
    /// connection is closing anyway: a reset, a cut-off; `next`'s close then fails as it would have).
    private func afterQueuedWrites(
        _ context: ChannelHandlerContext, _ next: @escaping (ChannelHandlerContext) -> Void
    ) {
        if self.isStopping { self.limitDrains(context) }
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

    /// Closes the connection ``drainLimitWhenStopping`` from now, unless it has closed by then.
    private func limitDrains(_ context: ChannelHandlerContext) {
        guard self.limit == nil else { return }
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.limit = context.value.eventLoop.scheduleTask(in: Self.drainLimitWhenStopping) {
            context.value.close(promise: nil)
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

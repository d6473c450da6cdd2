import NIOCore

/// Holds back a half-close of an HTTP connection's output until everything written before it
/// has gone to the kernel.
///
/// hummingbird ends a connection by half-closing its output once its last answer is written,
/// not sent. When the client has already half-closed its own side (sent its request, then
/// `shutdown(SHUT_WR)`, as `nc -N` does), NIO makes that a full close, which drops the writes
/// still queued: an 8 MB image arrived as 270 KB. An empty write queued behind them completes
/// once they are all written; the half-close follows it. First in the pipeline, so that the
/// empty write goes straight to the socket; taken out when a connection becomes a room socket.
final class HalfCloseAfterWrites: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .output else { return context.close(mode: mode, promise: promise) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: written)
        // A failed write means the connection is closing anyway (a reset, a cut-off): the close
        // then fails as it would have.
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in context.value.close(mode: .output, promise: promise) }
    }

    /// Takes the handler out of `channel`'s pipeline, if it is there (on the channel's event loop).
    static func remove(from channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let handler = try? pipeline.handler(type: Self.self) {
            pipeline.removeHandler(handler, promise: nil)
        }
    }
}

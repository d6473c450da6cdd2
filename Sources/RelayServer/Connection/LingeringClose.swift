import NIOCore

extension ChannelHandlerContext {
    /// How long a connection's input stays open after an answer that ends it.
    static var lingerAfterClosingAnswer: TimeAmount { .milliseconds(500) }

    /// Ends the connection after an answer that closes it, which was written before this: its
    /// output closes (once the answers have gone: ``DrainBeforeClose`` holds the close until
    /// then), and the whole connection ``lingerAfterClosingAnswer`` later. Closed at once while the
    /// client's bytes wait unread, the kernel would answer them with a reset, which can destroy
    /// the answer at the client (a client still sending a body meets it as a failed send, and
    /// gives up unread). Meanwhile the connection reads on (``LingeringReads``), and the handler
    /// that ends it drops what comes; nothing read is answered, so no deadline would end it. Go's
    /// `net/http` lingers 500 ms too.
    ///
    /// `promise`: the output's close.
    func closeOutputThenLinger(promise: EventLoopPromise<Void>? = nil) {
        let closed = self.eventLoop.makePromise(of: Void.self)
        closed.futureResult.cascade(to: promise)
        self.close(mode: .output, promise: closed)
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        closed.futureResult.whenComplete { result in
            let context = bound.value
            if case .success = result {
                try? context.pipeline.syncOperations.addHandler(LingeringReads(), position: .before(context.handler))
            }
            context.eventLoop.scheduleTask(in: Self.lingerAfterClosingAnswer) { bound.value.close(promise: nil) }
        }
    }
}

/// Reads a lingering connection to its close: hummingbird's reader, the pipeline's last handler,
/// has ended by then and asks for no read, so a connection left to it read one batch (a few KB)
/// and the rest of what the client sent met the close's reset. Each read done asks for the next;
/// it sits before the handler that ends the connection, whose own reads it does not wait for.
final class LingeringReads: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        context.read()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        context.read()
    }
}

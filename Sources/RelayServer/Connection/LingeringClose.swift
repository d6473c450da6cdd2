import NIOCore

extension ChannelHandlerContext {
    /// How long a connection's input stays open after an answer that ends it.
    static var lingerAfterClosingAnswer: TimeAmount { .milliseconds(500) }

    /// Ends the connection after an answer that closes it, which was written before this: its
    /// output closes at once (after the answer), and the whole connection
    /// ``lingerAfterClosingAnswer`` later. Closed at once while the client's bytes wait unread, the
    /// kernel would answer them with a reset, which can destroy the answer at the client (a client
    /// still sending a body meets it as a failed send, and gives up unread). Nothing read meanwhile
    /// is answered, so no deadline would end it. Go's `net/http` lingers 500 ms too.
    /// `promise`: the output's close.
    func closeOutputThenLinger(promise: EventLoopPromise<Void>? = nil) {
        let closed = self.eventLoop.makePromise(of: Void.self)
        closed.futureResult.cascade(to: promise)
        self.close(mode: .output, promise: closed)
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        closed.futureResult.whenComplete { _ in
            bound.value.eventLoop.scheduleTask(in: Self.lingerAfterClosingAnswer) { bound.value.close(promise: nil) }
        }
    }
}

import NIOCore
import NIOHTTP1

/// Hands on a request body in one part per socket read, however many chunks the client cut it into.
///
/// NIO's decoder emits a part per chunk of a chunked body, and each part then costs ~1 µs on its
/// way through the pipeline, the async channel and hummingbird's body stream: a 15 KB body sent in
/// 1-byte chunks cost 15.6 ms of CPU against 0.4 ms in one piece, so ~6 MB/s of such requests kept
/// a core busy. Parts of one read are gathered here and go on together when the read is done (or
/// the body ends, or ``mostGathered`` bytes have gathered). A body in one part passes untouched.
///
/// It sits after ``FirstRequestGuard``, so an `Upgrade` still on the first head is one the server
/// makes: the handler then leaves, as room sockets read their own frames.
final class BodyPartCoalescer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// A read's body so far: its one part as it came (passed on without a new wrapper, the
    /// common case), or several parts gathered.
    private enum Pending {
        case part(NIOAny)
        case gathered(ByteBuffer)
    }

    private var pending: Pending?
    /// Gathered bytes that go on at once, read or not: the server's input queue counts parts, not
    /// bytes, so a part's size bounds what a request's body can have waiting there.
    static let mostGathered = 16 * 1024
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.flush(context: context)
            defer { self.isFirstHead = false }
            if self.isFirstHead, head.asksToUpgrade {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
            context.fireChannelRead(data)
        case .body(var part):
            switch self.pending {
            case nil:
                self.pending = .part(data)
            case .part(let first):
                guard case .body(var gathered) = self.unwrapInboundIn(first) else {
                    preconditionFailure("only bodies wait")
                }
                gathered.writeBuffer(&part)
                self.pending = .gathered(gathered)
            case .gathered(var gathered):
                self.pending = nil  // keeps `gathered` uniquely referenced while it grows
                gathered.writeBuffer(&part)
                self.pending = .gathered(gathered)
            }
            if self.pendingBytes >= Self.mostGathered { self.flush(context: context) }
        case .end:
            self.flush(context: context)
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.flush(context: context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.pending = nil  // only at an upgrade (no body) or as the channel goes
    }

    /// The body bytes waiting to go on.
    private var pendingBytes: Int {
        switch self.pending {
        case nil: 0
        case .part(let data):
            if case .body(let part) = self.unwrapInboundIn(data) { part.readableBytes } else { 0 }
        case .gathered(let body): body.readableBytes
        }
    }

    private func flush(context: ChannelHandlerContext) {
        guard let pending = self.pending else { return }
        self.pending = nil
        switch pending {
        case .part(let data): context.fireChannelRead(data)
        case .gathered(let body): context.fireChannelRead(self.wrapInboundOut(.body(body)))
        }
    }
}

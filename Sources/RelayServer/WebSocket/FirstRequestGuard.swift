import NIOCore
import NIOHTTP1

/// Watches a connection until its first request head, the only one that may upgrade it:
///
/// - A connection whose first request head has not arrived within the idle timeout (silent, or
///   sending a head a byte at a time) is closed, so idle sockets cannot pile up. After the first
///   request, hummingbird's idle timeout covers HTTP keep-alive, and pings a room socket.
/// - Only an upgrade the server can make reaches NIO's upgrade handler: `Upgrade: websocket` with
///   one `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`, on a room socket's path. Any other
///   request with `Upgrade` (`h2c` from `curl --http2`, another WebSocket version, no key, another
///   path) loses that header and is answered as the plain request it also is (RFC 9110 §7.8 lets a
///   server ignore `Upgrade`), on a connection that then closes. NIO's typed upgrade handler would
///   hand such a request on without its head, and the router could not answer it.
///
/// It sits just before the upgrade handler and leaves the pipeline at the first head.
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeout: TimeAmount
    private var closeIfSilent: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        self.closeIfSilent = context.eventLoop.scheduleTask(in: self.timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.closeIfSilent?.cancel()
        self.closeIfSilent = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = self.unwrapInboundIn(data) else {
            return context.fireChannelRead(data)
        }
        if head.headers.contains(name: "upgrade"), !Self.isWebSocketUpgrade(head) || RoomSocketRoutes.roomID(inPath: head.uri) == nil {
            head.headers.remove(name: "upgrade")
            // NIO's decoder took the request for an upgrade and reads no further request on this
            // connection: it ends after the answer.
            head.headers.replaceOrAdd(name: "connection", value: "close")
        }
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    static func isWebSocketUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
            && head.headers["sec-websocket-key"].count == 1
            && head.headers["sec-websocket-version"] == ["13"]
    }
}

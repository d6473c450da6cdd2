import NIOCore
import NIOHTTP1

/// Watches a connection's first request head, the only one that may upgrade it, so that only an
/// upgrade the server can make reaches NIO's upgrade handler: `Upgrade: websocket` with one
/// `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`, on a room socket's path. Any other request
/// with `Upgrade` (`h2c` from `curl --http2`, another WebSocket version, no key, another path)
/// loses that header and is answered as the plain request it also is (RFC 9110 §7.8 lets a server
/// ignore `Upgrade`), on a connection that then closes. NIO's typed upgrade handler would hand
/// such a request on without its head, and the router could not answer it.
///
/// It sits first after NIO's HTTP decoder and leaves the pipeline at the first head. (How long
/// the head may take is ``HTTPDeadlines``'s.)
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

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

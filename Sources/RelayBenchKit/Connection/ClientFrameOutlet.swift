import NIOCore
import NIOWebSocket

/// A pass-through handler just before NIO's frame encoder: frames the bench built itself
/// (``ClientFrame``) are written through its context and go to the socket as they are.
final class ClientFrameOutlet: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Puts an outlet in front of `channel`'s frame encoder and returns its context.
    static func install(on channel: any Channel) throws -> ChannelHandlerContext {
        let pipeline = channel.pipeline.syncOperations
        let encoder = try pipeline.handler(type: WebSocketFrameEncoder.self)
        let outlet = ClientFrameOutlet()
        try pipeline.addHandler(outlet, position: .before(encoder))
        return try pipeline.context(handler: outlet)
    }
}

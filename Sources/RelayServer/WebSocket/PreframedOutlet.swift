import NIOCore
import NIOWebSocket

/// Where a connection's writer puts frames that already carry their header
/// (``Relay/TextFrameHeader``): a pass-through handler just before NIO's WebSocket frame
/// encoder, so what is written through its context goes on toward the socket (through TLS,
/// if any) without being encoded again.
final class PreframedOutlet: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Puts an outlet in front of `channel`'s frame encoder and returns its context; nil when the
    /// pipeline has no encoder (then every frame goes through the pipeline as before).
    /// Call on the channel's event loop.
    static func install(on channel: any Channel) -> NIOLoopBound<ChannelHandlerContext>? {
        let pipeline = channel.pipeline.syncOperations
        guard let encoder = try? pipeline.handler(type: WebSocketFrameEncoder.self) else { return nil }
        let outlet = PreframedOutlet()
        guard (try? pipeline.addHandler(outlet, position: .before(encoder))) != nil,
            let context = try? pipeline.context(handler: outlet)
        else { return nil }
        return NIOLoopBound(context, eventLoop: channel.eventLoop)
    }
}

import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Relay

/// Writes one connection's queued frames to its socket: the only code that writes data frames.
///
/// On the channel's event loop, while the socket takes more, a whole batch goes straight into
/// the channel pipeline with one flush — no hop into hummingbird's WebSocket handler actor per
/// frame. A frame that carries its header already (``TextFrameHeader``, every broadcast) goes in
/// through the ``PreframedOutlet``, past NIO's frame encoder. A client that does not keep up is
/// written to one frame at a time through `WebSocketOutboundWriter`, which waits until the socket
/// drains; meanwhile its bounded queue fills and it is disconnected.
///
/// After hummingbird sends a close frame (the client closed, a ping went unanswered, the server
/// is stopping) it half-closes the channel's output, so a frame written directly after that
/// fails instead of following the close frame.
struct SocketWriter {
    let channel: any Channel
    let outbound: WebSocketOutboundWriter
    /// The ``PreframedOutlet``'s context, if the pipeline has one.
    let outlet: NIOLoopBound<ChannelHandlerContext>?

    /// How many frames the next batch may hold: all of them when they can be written at once.
    var batchLimit: Int { self.canWriteDirectly ? .max : 1 }

    private var canWriteDirectly: Bool { self.channel.eventLoop.inEventLoop && self.channel.isWritable }

    /// Writes `frames` (each a complete text message), in order.
    func write(_ frames: CircularBuffer<ByteBuffer>) async throws {
        if self.canWriteDirectly, let outlet = self.outlet?.value {
            for frame in frames {
                if let framed = TextFrameHeader.framed(frame) {
                    outlet.write(NIOAny(framed), promise: nil)
                } else {
                    self.channel.write(Self.textFrame(frame), promise: nil)
                }
            }
            outlet.flush()
        } else if self.canWriteDirectly {
            for frame in frames { self.channel.write(Self.textFrame(frame), promise: nil) }
            self.channel.flush()
        } else {
            for frame in frames { try await self.outbound.write(.custom(Self.textFrame(frame))) }
        }
    }

    private static func textFrame(_ payload: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: payload)
    }
}

import NIOCore
import NIOWebSocket
import Relay

/// Writes one connection's queued frames to its socket: the only code that writes data frames.
/// Runs on the channel's event loop (the writer task prefers it), so it writes straight into the
/// channel pipeline, a whole batch with one flush.
///
/// A frame that carries its header already (``TextFrameHeader``, every broadcast) goes in
/// through the ``PreframedOutlet``, past NIO's frame encoder. While the socket takes no more
/// (a client that does not read), the writer waits, one frame at a time; meanwhile the
/// connection's bounded queue fills and the client is disconnected.
struct SocketWriter {
    let channel: any Channel
    let handler: NIOLoopBound<RoomSocketHandler>
    /// The ``PreframedOutlet``'s context, if the pipeline has one.
    let outlet: NIOLoopBound<ChannelHandlerContext>?

    /// What the next batch may hold: while the socket takes more, every frame up to NIO's
    /// high-water mark of unsent bytes (64 KiB); otherwise one frame, written once it does. A batch
    /// is out of the bounded queue, so what it holds is not counted there: taken whole (up to the
    /// queue's 1 MiB), a client that then stopped reading pinned twice what the queue allows.
    var batchLimit: (frames: Int, bytes: Int) { self.channel.isWritable ? (.max, Self.batchBytes) : (1, .max) }

    /// NIO's default high-water mark of a channel's unsent bytes (`WriteBufferWaterMark`).
    static let batchBytes = 64 * 1024

    /// Writes `frames` (each a complete text message), in order, once the socket takes them.
    /// After a close frame has gone out, frames are dropped.
    func write(_ frames: CircularBuffer<ByteBuffer>) async {
        let handler = self.handler.value
        if !self.channel.isWritable { await handler.waitUntilWritable() }
        guard !handler.closeSent, self.channel.isActive else { return }
        if let outlet = self.outlet?.value {
            for frame in frames {
                if let framed = TextFrameHeader.framed(frame) {
                    outlet.write(NIOAny(framed), promise: nil)
                } else {
                    self.channel.write(Self.textFrame(frame), promise: nil)
                }
            }
            outlet.flush()
        } else {
            for frame in frames { self.channel.write(Self.textFrame(frame), promise: nil) }
            self.channel.flush()
        }
    }

    /// Sends the close frame with `code`, after everything written before.
    func close(code: UInt16) {
        self.handler.value.sendClose(WebSocketErrorCode(codeNumber: Int(code)))
    }

    private static func textFrame(_ payload: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: payload)
    }
}

import NIOCore
import NIOEmbedded
import NIOWebSocket
import Relay
import Testing

@testable import RelayServer

/// Frames that carry their header pass NIO's frame encoder through the ``PreframedOutlet``;
/// everything else is still encoded.
@Suite("PreframedOutlet")
struct PreframedOutletTests {
    static func payload(_ text: String) -> ByteBuffer {
        var message = OutboundMessage(type: "t")
        message.add("s", text)
        return message.encoded()
    }

    @Test func framedBytesSkipTheEncoderAndPlainFramesAreStillEncoded() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        let outlet = try #require(PreframedOutlet.install(on: channel))
        let payload = Self.payload("hello")
        let framed = try #require(TextFrameHeader.framed(payload))

        outlet.value.write(NIOAny(framed), promise: nil)
        outlet.value.flush()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(written == framed, "written as it is, in one buffer")

        try channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: payload)).wait()
        var encoded = ByteBufferAllocator().buffer(capacity: 64)
        while let part = try channel.readOutbound(as: ByteBuffer.self) { encoded.writeImmutableBuffer(part) }
        #expect(encoded == framed, "the encoder writes the same frame")
        _ = try channel.finish()
    }

    @Test func noEncoderNoOutlet() throws {
        let channel = EmbeddedChannel()
        #expect(PreframedOutlet.install(on: channel) == nil)
        #expect(try channel.finish().isClean)
    }
}

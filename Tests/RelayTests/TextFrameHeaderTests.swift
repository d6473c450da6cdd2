import NIOCore
import Testing

@testable import Relay

/// The WebSocket text-frame header an outbound message carries in front of its payload.
@Suite("TextFrameHeader")
struct TextFrameHeaderTests {
    /// The frame NIO's encoder would write for `payload`: final text frame, unmasked.
    static func expectedFrame(_ payload: ByteBuffer) -> [UInt8] {
        let length = payload.readableBytes
        let header: [UInt8] =
            length < 126 ? [0x81, UInt8(length)] : [0x81, 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        return header + Array(payload.readableBytesView)
    }

    /// A message whose payload is exactly `length` bytes: `{"type":"t","s":"xxx…"}`.
    static func message(payloadLength length: Int) -> OutboundMessage {
        var message = OutboundMessage(type: "t")
        message.add("s", String(repeating: "x", count: length - #"{"type":"t","s":""}"#.utf8.count))
        return message
    }

    @Test(arguments: [20, 125, 126, 127, 300, 65_535])
    func aMessageCarriesItsHeader(payloadLength: Int) throws {
        let payload = Self.message(payloadLength: payloadLength).encoded()
        #expect(payload.readableBytes == payloadLength)
        let framed = try #require(TextFrameHeader.framed(payload))
        #expect(Array(framed.readableBytesView) == Self.expectedFrame(payload))
    }

    @Test func aPayloadOver64KiBHasNone() {
        #expect(TextFrameHeader.framed(Self.message(payloadLength: 65_536).encoded()) == nil)
        #expect(TextFrameHeader.framed(Self.message(payloadLength: 70_000).encoded()) == nil)
    }

    @Test func theSmallestMessageHasOne() throws {
        let payload = OutboundMessage(type: "pong").encoded()
        #expect(Array(try #require(TextFrameHeader.framed(payload)).readableBytesView) == Self.expectedFrame(payload))
    }

    @Test func theHeaderFollowsEveryAddition() throws {
        var message = OutboundMessage(type: "t")
        for index in 0..<40 {
            message.add("k\(index)", String(repeating: "y", count: index * 3))
            let payload = message.encoded()
            let framed = try #require(TextFrameHeader.framed(payload), "after \(index + 1) fields")
            #expect(Array(framed.readableBytesView) == Self.expectedFrame(payload))
        }
    }

    @Test func anEarlierEncodingKeepsItsOwnHeader() throws {
        var message = Self.message(payloadLength: 120)
        let earlier = message.encoded()
        message.add("more", String(repeating: "z", count: 50))  // now over 125: a 4-byte header
        let later = message.encoded()
        #expect(Array(try #require(TextFrameHeader.framed(earlier)).readableBytesView) == Self.expectedFrame(earlier))
        #expect(Array(try #require(TextFrameHeader.framed(later)).readableBytesView) == Self.expectedFrame(later))
    }

    @Test func aBufferWithoutTheHeaderHasNone() {
        var plain = ByteBufferAllocator().buffer(capacity: 16)
        plain.writeString(#"{"type":"t"}"#)
        #expect(TextFrameHeader.framed(plain) == nil, "no bytes in front")

        var wrongBytes = ByteBufferAllocator().buffer(capacity: 16)
        wrongBytes.writeBytes([0x82, 12])  // a binary frame's header, not a text frame's
        wrongBytes.writeString(#"{"type":"t"}"#)
        wrongBytes.moveReaderIndex(forwardBy: 2)
        #expect(TextFrameHeader.framed(wrongBytes) == nil)

        var wrongLength = ByteBufferAllocator().buffer(capacity: 16)
        wrongLength.writeBytes([0x81, 11])
        wrongLength.writeString(#"{"type":"t"}"#)
        wrongLength.moveReaderIndex(forwardBy: 2)
        #expect(TextFrameHeader.framed(wrongLength) == nil)
    }

    @Test func aSliceOfAMessageHasNone() {
        let payload = Self.message(payloadLength: 60).encoded()
        let slice = payload.getSlice(at: payload.readerIndex + 1, length: 20)!
        #expect(TextFrameHeader.framed(slice) == nil)
    }

    @Test func theRightBytesAreTheRightHeaderWhereverTheyComeFrom() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeBytes([0x81, 12])
        buffer.writeString(#"{"type":"t"}"#)
        buffer.moveReaderIndex(forwardBy: 2)
        let framed = try #require(TextFrameHeader.framed(buffer))
        #expect(Array(framed.readableBytesView) == Self.expectedFrame(buffer))
    }
}

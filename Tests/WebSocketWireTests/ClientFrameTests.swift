import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
import WebSocketWire

/// The bench's own client frames read back by NIO's frame decoder.
@Suite("Client frames")
struct ClientFrameTests {
    static func decoded(_ bytes: ByteBuffer) throws -> WebSocketFrame? {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try channel.writeInbound(bytes)
        let frame = try channel.readInbound(as: WebSocketFrame.self)
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil, "one frame, nothing left over")
        _ = try channel.finish()
        return frame
    }

    static func text(_ length: Int) -> String {
        String((0..<length).map { Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0 % 26))) })
    }

    @Test(arguments: [0, 1, 7, 8, 125, 126, 127, 65_535, 65_536, 70_001])
    func framesWithHeadroomDecodeToThePayload(length: Int) throws {
        var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: length)
        payload.writeString(Self.text(length))
        let frame = try #require(try Self.decoded(ClientFrame.frame(payload, opcode: .text, maskKey: 0x1234_ABCD)))
        #expect(frame.fin)
        #expect(frame.opcode == .text)
        #expect(frame.maskKey == WebSocketMaskingKey([0x12, 0x34, 0xAB, 0xCD]))
        #expect(String(buffer: frame.unmaskedData) == Self.text(length))
    }

    @Test(arguments: [0, 5, 125])  // (a control frame carries at most 125 bytes)
    func framesWithoutHeadroomAreCopiedAndLeaveThePayloadAlone(length: Int) throws {
        let payload = ByteBufferAllocator().buffer(string: Self.text(length))
        let frame = try #require(try Self.decoded(ClientFrame.frame(payload, opcode: .pong, maskKey: 0xFFFF_0001)))
        #expect(frame.opcode == .pong)
        #expect(String(buffer: frame.unmaskedData) == Self.text(length))
        #expect(String(buffer: payload) == Self.text(length))
    }

    @Test func aSharedPayloadIsNotMaskedUnderItsOtherOwner() throws {
        var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: 16)
        payload.writeString("hello, server")
        let kept = payload
        let frame = try #require(try Self.decoded(ClientFrame.frame(payload, opcode: .text, maskKey: 0xDEAD_BEEF)))
        #expect(String(buffer: frame.unmaskedData) == "hello, server")
        #expect(String(buffer: kept) == "hello, server")
    }

    @Test func aPayloadWithHeadroomIsFramedInPlace() throws {
        var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: 64)
        payload.writeString(String(repeating: "p", count: 40))
        let payloadAddress = payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frame = ClientFrame.frame(consume payload, opcode: .text, maskKey: 7)
        let frameAddress = frame.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(frameAddress + 6 == payloadAddress, "header (2 + 4 bytes) right in front of the payload, no copy")
    }
}

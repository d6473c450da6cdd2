import NIOCore
import NIOWebSocket
import Testing

@testable import RelayServer

/// The room socket handler reads a frame's payload unmasked into a temporary buffer and leaves
/// the frame itself as it was, for the reader.
@Suite("Unmasked payload of a frame")
struct UnmaskedPayloadTests {
    @Test(arguments: [0, 1, 3, 4, 5, 187, 4096, 70_000])
    func maskedPayloadsReadAsSent(length: Int) {
        let text = Array((0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) })
        let key: WebSocketMaskingKey = [0x12, 0xA5, 0x00, 0xFF]
        var data = ByteBufferAllocator().buffer(bytes: text)
        data.webSocketMask(key)
        let maskedBytes = Array(data.readableBytesView)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: key, data: data)

        let read = frame.withUnmaskedPayload { Array($0) }
        #expect(read == text)
        #expect(Array(frame.data.readableBytesView) == maskedBytes, "the frame keeps its masked bytes")
        #expect(frame.unmaskedData == ByteBufferAllocator().buffer(bytes: text))
    }

    @Test func anUnmaskedPayloadIsReadAsItIs() {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBufferAllocator().buffer(string: #"{"a":1}"#))
        #expect(frame.withUnmaskedPayload { String(decoding: $0, as: UTF8.self) } == #"{"a":1}"#)
    }
}

import NIOCore
import NIOWebSocket

/// Client frames the bench writes itself: header, masking key and masked payload in one buffer.
///
/// NIO's frame encoder allocates a separate buffer for every header and has the socket write
/// two; here a payload written after ``headroom`` free bytes gets its header in front and is
/// masked in place, and goes out as one buffer through a ``ClientFrameOutlet``.
enum ClientFrame {
    /// Bytes kept free in front of a payload: the longest client header (2 + 8 length + 4 key).
    static let headroom = 14

    /// An empty payload buffer with room for the frame header in front.
    static func payloadBuffer(_ allocator: ByteBufferAllocator, capacity: Int) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Self.headroom + capacity)
        buffer.writeRepeatingByte(0, count: Self.headroom)
        buffer.moveReaderIndex(forwardBy: Self.headroom)
        return buffer
    }

    /// `payload` as one final frame of `opcode`, masked with `maskKey`: in place when it has the
    /// headroom (and is not shared), else in a new buffer.
    /// The payload is taken (`consuming`): a copy still held by the caller would make the
    /// writes below copy the whole buffer.
    static func frame(_ payload: consuming ByteBuffer, opcode: WebSocketOpcode, maskKey: UInt32) -> ByteBuffer {
        var frame = payload
        let length = frame.readableBytes
        let lengthBytes = length < 126 ? 0 : length <= Int(UInt16.max) ? 2 : 8
        let headerLength = 2 + lengthBytes + 4
        if frame.readerIndex < headerLength {
            var roomy = Self.payloadBuffer(ByteBufferAllocator(), capacity: length)
            roomy.writeImmutableBuffer(frame)
            frame = roomy
        }
        let payloadStart = frame.readerIndex
        var index = payloadStart - headerLength
        frame.setInteger(UInt8(0x80) | UInt8(webSocketOpcode: opcode), at: index)
        switch lengthBytes {
        case 0: frame.setInteger(UInt8(0x80) | UInt8(length), at: index + 1)
        case 2:
            frame.setInteger(UInt8(0x80 | 126), at: index + 1)
            frame.setInteger(UInt16(length), at: index + 2)
        default:
            frame.setInteger(UInt8(0x80 | 127), at: index + 1)
            frame.setInteger(UInt64(length), at: index + 2)
        }
        index += 2 + lengthBytes
        frame.setInteger(maskKey, at: index)  // big-endian: the key's first byte first
        frame.withUnsafeMutableReadableBytes { Self.mask($0, with: maskKey) }
        frame.moveReaderIndex(to: payloadStart - headerLength)
        return frame
    }

    /// XORs `bytes` with the key's bytes in turn (most significant first), eight at a time.
    static func mask(_ bytes: UnsafeMutableRawBufferPointer, with maskKey: UInt32) {
        let key = maskKey.bigEndian
        let wideKey = withUnsafeBytes(of: (key, key)) { $0.loadUnaligned(as: UInt64.self) }
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ wideKey
            bytes.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        withUnsafeBytes(of: key) { keyBytes in
            while index < bytes.count {
                bytes[index] ^= keyBytes[index & 3]
                index += 1
            }
        }
    }
}

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

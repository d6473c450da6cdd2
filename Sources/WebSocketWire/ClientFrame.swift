public import NIOCore
public import NIOWebSocket

/// Client frames written whole: header, masking key and masked payload in one buffer (the
/// bench writes its frames so; tests use them to speak to the server).
///
/// NIO's frame encoder allocates a separate buffer for every header and has the socket write
/// two; here a payload written after ``headroom`` free bytes gets its header in front and is
/// masked in place, and goes out as one buffer (the bench writes it past NIO's encoder).
public enum ClientFrame {
    /// Bytes kept free in front of a payload: the longest client header (2 + 8 length + 4 key).
    public static let headroom = 14

    /// An empty payload buffer with room for the frame header in front.
    public static func payloadBuffer(_ allocator: ByteBufferAllocator, capacity: Int) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Self.headroom + capacity)
        buffer.writeRepeatingByte(0, count: Self.headroom)
        buffer.moveReaderIndex(forwardBy: Self.headroom)
        return buffer
    }

    /// `payload` as one final frame of `opcode`, masked with `maskKey`: in place when it has the
    /// headroom (and is not shared), else in a new buffer.
    /// The payload is taken (`consuming`): a copy still held by the caller would make the
    /// writes below copy the whole buffer.
    public static func frame(_ payload: consuming ByteBuffer, opcode: WebSocketOpcode, maskKey: UInt32) -> ByteBuffer {
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
        frame.withUnsafeMutableReadableBytes {
            WebSocketMask.apply(maskKey, from: UnsafeRawBufferPointer($0), into: $0)
        }
        frame.moveReaderIndex(to: payloadStart - headerLength)
        return frame
    }
}

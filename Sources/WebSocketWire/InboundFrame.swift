public import NIOCore
public import NIOWebSocket

/// One frame cut straight out of the bytes read from a socket (see ``InboundFrameReader``).
/// NIO's `ByteToMessageHandler` and `WebSocketFrameDecoder` did this before, at the price of a
/// pipeline step, a state machine step per header field and a heap-allocated `WebSocketFrame`
/// for every message.
public struct InboundFrame {
    /// FIN, the three reserved bits and the opcode, as sent.
    public let firstByte: UInt8
    /// The masking key, its first byte the most significant (NIO's `WebSocketMaskingKey` is
    /// made only through a generic initializer, which allocated four times per frame).
    public let maskKey: UInt32?
    /// The payload as sent: still masked, if the client masked it.
    public let data: ByteBuffer

    public var fin: Bool { self.firstByte & 0x80 != 0 }
    /// RSV1–3: no extension is negotiated, so a frame with one set is a protocol error.
    public var hasReservedBits: Bool { Self.hasReservedBits(firstByte: self.firstByte) }
    /// Whether a frame whose first byte is `firstByte` sets RSV1–3: for a header judged before its
    /// frame is read (the server's refusal at the header).
    public static func hasReservedBits(firstByte: UInt8) -> Bool { firstByte & 0x70 != 0 }
    /// Always a value: any 4-bit opcode is one (reserved ones included).
    public var opcode: WebSocketOpcode { WebSocketOpcode(encodedWebSocketOpcode: self.firstByte & 0x0F)! }

    /// What the start of the bytes read so far holds.
    public enum Parsed {
        case frame(InboundFrame)
        /// Not a whole frame yet.
        case incomplete
        /// A frame the connection is failed for, with this close code: longer than the reader
        /// takes (1009), or a control frame that is fragmented or over 125 bytes, or a 64-bit
        /// length with its top bit set (1002), or one the caller's header check refuses.
        case refused(WebSocketErrorCode)
    }

    /// Takes the first frame off `buffer`; while it is incomplete, leaves `buffer` as it is. A
    /// frame is refused as soon as its header shows it too long, before its payload is buffered:
    /// longer than `maxPayloadBytes`, or, for a continuation frame, than `maxContinuationBytes`
    /// (what the message it continues has left). `headerRefusal` sees the first two bytes before
    /// the length is judged, so a frame that is malformed (its close code) and too long is
    /// refused for what is wrong with it.
    public static func read(
        from buffer: inout ByteBuffer, maxPayloadBytes: Int, maxContinuationBytes: Int? = nil,
        headerRefusal: (_ firstByte: UInt8, _ secondByte: UInt8) -> WebSocketErrorCode? = { _, _ in nil }
    ) -> Parsed {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return .incomplete }
        // A control frame must be whole and at most 125 bytes, which its 7-bit length tells
        // (126 and 127 announce longer ones): malformed (1002), whatever the reader's limit.
        if first & 0x08 != 0, first & 0x80 == 0 || second & 0x7F > 125 { return .refused(.protocolError) }
        if let code = headerRefusal(first, second) { return .refused(code) }
        let maxPayloadBytes =
            first & 0x0F == 0 ? max(0, min(maxPayloadBytes, maxContinuationBytes ?? .max)) : maxPayloadBytes
        var headerBytes = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let word = buffer.getInteger(at: start + 2, as: UInt16.self) else { return .incomplete }
            length = Int(word)
            headerBytes = 4
        } else if length == 127 {
            guard let quad = buffer.getInteger(at: start + 2, as: UInt64.self) else { return .incomplete }
            // Its most significant bit must be 0 (RFC 6455 §5.2): malformed, not too large.
            guard quad >> 63 == 0 else { return .refused(.protocolError) }
            // Checked before the conversion: a 64-bit length need not fit an `Int`.
            guard quad <= UInt64(maxPayloadBytes) else { return .refused(.messageTooLarge) }
            length = Int(quad)
            headerBytes = 10
        }
        guard length <= maxPayloadBytes else { return .refused(.messageTooLarge) }
        var maskKey: UInt32?
        if second & 0x80 != 0 {
            guard let key = buffer.getInteger(at: start + headerBytes, as: UInt32.self) else { return .incomplete }
            maskKey = key
            headerBytes += 4
        }
        guard let data = buffer.getSlice(at: start + headerBytes, length: length) else { return .incomplete }
        buffer.moveReaderIndex(forwardBy: headerBytes + length)
        return .frame(InboundFrame(firstByte: first, maskKey: maskKey, data: data))
    }

    /// The payload unmasked, in a buffer of its own.
    public var unmaskedData: ByteBuffer {
        guard let key = self.maskKey else { return self.data }
        let count = self.data.readableBytes
        var payload = ByteBufferAllocator().buffer(capacity: count)
        payload.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { output in
            self.data.withUnsafeReadableBytes { WebSocketMask.apply(key, from: $0, into: output) }
            return count
        }
        return payload
    }

    /// Calls `body` with the payload, unmasked into a temporary buffer (on the stack when small):
    /// the frame's own bytes stay as they are, for the reader if `body` declines.
    public func withUnmaskedPayload<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        self.data.withUnsafeReadableBytes { (masked: UnsafeRawBufferPointer) -> Result in
            guard let key = self.maskKey else { return body(masked.assumingMemoryBound(to: UInt8.self)) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: masked.count) {
                (payload: UnsafeMutableBufferPointer<UInt8>) -> Result in
                WebSocketMask.apply(key, from: masked, into: UnsafeMutableRawBufferPointer(payload))
                return body(UnsafeBufferPointer(payload))
            }
        }
    }
}

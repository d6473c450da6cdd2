import NIOCore
import NIOWebSocket
import Testing
import WebSocketWire

/// Frames cut out of the bytes read from a socket: the room socket's reading of its clients and
/// relay-bench's of the server.
@Suite("Inbound frames")
struct InboundFrameTests {
    /// A client frame as it travels: FIN and opcode, the length in 1, 3 or 9 bytes, the mask, the payload.
    static func frameBytes(opcode: UInt8, fin: Bool = true, payload: [UInt8], mask: UInt32? = 0x12A5_00FF) -> ByteBuffer
    {
        var buffer = ByteBuffer()
        buffer.writeInteger((fin ? 0x80 : 0) | opcode)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        switch payload.count {
        case ..<126: buffer.writeInteger(maskBit | UInt8(payload.count))
        case ..<65_536:
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(payload.count))
        default:
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(payload.count))
        }
        guard let mask else {
            buffer.writeBytes(payload)
            return buffer
        }
        buffer.writeInteger(mask)
        let key = withUnsafeBytes(of: mask.bigEndian) { Array($0) }
        var masked = payload
        masked.withUnsafeMutableBufferPointer { bytes in
            for index in bytes.indices { bytes[index] ^= key[index & 3] }
        }
        buffer.writeBytes(masked)
        return buffer
    }

    static func text(_ length: Int) -> [UInt8] {
        (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    static func read(_ buffer: inout ByteBuffer, max: Int = 1 << 20) -> InboundFrame? {
        if case .frame(let frame) = InboundFrame.read(from: &buffer, maxPayloadBytes: max) { return frame }
        return nil
    }

    @Test(arguments: [0, 1, 3, 4, 5, 8, 125, 126, 187, 4096, 65_535, 65_536, 70_000])
    func maskedPayloadsReadAsSent(length: Int) throws {
        let text = Self.text(length)
        var bytes = Self.frameBytes(opcode: 0x1, payload: text)
        let frame = try #require(Self.read(&bytes))
        #expect(bytes.readableBytes == 0, "the whole frame is taken")
        #expect(frame.fin && frame.opcode == .text && !frame.hasReservedBits)
        #expect(Array(frame.data.readableBytesView) != text || length == 0, "the frame keeps its masked bytes")
        #expect(frame.withUnmaskedPayload { Array($0) } == text)
        #expect(Array(frame.unmaskedData.readableBytesView) == text)
    }

    @Test func anUnmaskedPayloadIsReadAsItIs() throws {
        var bytes = Self.frameBytes(opcode: 0x1, payload: Array(#"{"a":1}"#.utf8), mask: nil)
        let frame = try #require(Self.read(&bytes))
        #expect(frame.withUnmaskedPayload { String(decoding: $0, as: UTF8.self) } == #"{"a":1}"#)
        #expect(String(buffer: frame.unmaskedData) == #"{"a":1}"#)
    }

    @Test(arguments: [10, 300, 70_000])
    func anIncompleteFrameIsLeftUntilItIsWhole(length: Int) throws {
        let whole = Self.frameBytes(opcode: 0x2, fin: false, payload: Self.text(length))
        for cut in Set([0, 1, 2, 3, 4, 5, 8, 11, 13, 14, whole.readableBytes - 1]) where cut < whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            guard case .incomplete = InboundFrame.read(from: &part, maxPayloadBytes: 1 << 20) else {
                Issue.record("\(cut) of \(whole.readableBytes) bytes made a frame")
                continue
            }
            #expect(part.readableBytes == cut, "nothing taken")
        }
        var all = whole
        let frame = try #require(Self.read(&all))
        #expect(!frame.fin && frame.opcode == .binary)
    }

    @Test func framesReadOneAfterAnother() throws {
        var bytes = Self.frameBytes(opcode: 0x1, payload: Array("one".utf8))
        var second = Self.frameBytes(opcode: 0x9, payload: Array("two".utf8), mask: nil)
        var third = Self.frameBytes(opcode: 0x0, payload: Self.text(200))
        bytes.writeBuffer(&second)
        bytes.writeBuffer(&third)
        bytes.writeInteger(UInt8(0x81))  // the start of a fourth
        #expect(try String(buffer: #require(Self.read(&bytes)).unmaskedData) == "one")
        #expect(try #require(Self.read(&bytes)).opcode == .ping)
        #expect(try #require(Self.read(&bytes)).unmaskedData.readableBytes == 200)
        #expect(Self.read(&bytes) == nil)
        #expect(bytes.readableBytes == 1)
    }

    @Test func aFrameTooLongIsRefusedFromItsHeader() {
        for length in [1025, 70_000] {
            var header = Self.frameBytes(opcode: 0x1, payload: Self.text(length))
            header.moveWriterIndex(to: header.readerIndex + (length < 65_536 ? 4 : 10))  // the length, not the payload
            guard case .refused(.messageTooLarge) = InboundFrame.read(from: &header, maxPayloadBytes: 1024) else {
                Issue.record("\(length) bytes not refused")
                continue
            }
        }
        var huge = ByteBuffer(bytes: [0x81, 0xFF])
        huge.writeInteger(UInt64(Int64.max))
        guard case .refused(.messageTooLarge) = InboundFrame.read(from: &huge, maxPayloadBytes: 1024) else {
            Issue.record("a 2^63 - 1 byte length not refused")
            return
        }
    }

    @Test("A continuation frame is held to what its message has left; text, binary and control frames are not")
    func continuationFramesAreHeldToTheirMessagesRoom() {
        func parsed(_ opcode: UInt8, _ length: Int, room: Int?) -> String {
            var bytes = Self.frameBytes(opcode: opcode, fin: opcode != 0x1, payload: Self.text(length))
            switch InboundFrame.read(from: &bytes, maxPayloadBytes: 1024, maxContinuationBytes: room) {
            case .frame(let frame): return "frame \(frame.data.readableBytes)"
            case .refused(let code): return "refused \(code)"
            case .incomplete: return "incomplete"
            }
        }
        #expect(parsed(0x0, 6, room: 6) == "frame 6")
        #expect(parsed(0x0, 6, room: 5) == "refused \(WebSocketErrorCode.messageTooLarge)")
        #expect(parsed(0x0, 1, room: 0) == "refused \(WebSocketErrorCode.messageTooLarge)")
        #expect(parsed(0x0, 0, room: -3) == "frame 0", "a room below nothing is nothing")
        // The reader's own limit still holds where the message has more left.
        #expect(parsed(0x0, 1025, room: 5_000) == "refused \(WebSocketErrorCode.messageTooLarge)")
        for opcode: UInt8 in [0x1, 0x2, 0x9, 0xA] {
            #expect(parsed(opcode, 6, room: 5) == "frame 6", "opcode \(opcode)")
        }
    }

    @Test("The caller's header check sees a frame's first two bytes, before its length is judged")
    func theHeaderCheckComesBeforeTheLength() {
        var seen: [(UInt8, UInt8)] = []
        // RSV1 on a text frame announcing 70,000 bytes: refused for the bit, not for the length.
        var reserved = ByteBuffer(bytes: [0xC1, 0xFF])
        reserved.writeInteger(UInt64(70_000))
        let parsed = InboundFrame.read(from: &reserved, maxPayloadBytes: 1024) { first, second in
            seen.append((first, second))
            return InboundFrame.hasReservedBits(firstByte: first) ? .protocolError : nil
        }
        guard case .refused(.protocolError) = parsed else {
            Issue.record("refused as \(parsed), not for its reserved bit")
            return
        }
        #expect(seen.map { [$0.0, $0.1] } == [[0xC1, 0xFF]])
        // Its refusal is any code it likes; nil lets the frame be read as usual.
        var text = Self.frameBytes(opcode: 0x1, payload: Self.text(3))
        guard
            case .refused(.unacceptableData) = InboundFrame.read(
                from: &text, maxPayloadBytes: 1024, headerRefusal: { _, _ in .unacceptableData })
        else {
            Issue.record("the header check's own code not given")
            return
        }
        guard case .frame = InboundFrame.read(from: &text, maxPayloadBytes: 1024, headerRefusal: { _, _ in nil }) else {
            Issue.record("a frame the header check lets through not read")
            return
        }
    }

    @Test("A 64-bit length with its most significant bit set is malformed (RFC 6455 §5.2), not too large")
    func aLengthWithItsTopBitSetIsMalformed() {
        for length: UInt64 in [.max, 1 << 63 | 2] {
            var frame = ByteBuffer(bytes: [0x81, 0xFF])
            frame.writeInteger(length)
            frame.writeBytes([0, 0, 0, 0] + Array("{}".utf8))
            guard case .refused(.protocolError) = InboundFrame.read(from: &frame, maxPayloadBytes: 1024) else {
                Issue.record("a length of \(length) not refused as malformed")
                continue
            }
        }
    }

    @Test func malformedControlFramesAreRefused() {
        let fragmentedPing = Self.frameBytes(opcode: 0x9, fin: false, payload: [1])
        let longPing = Self.frameBytes(opcode: 0x9, payload: Self.text(126))
        let longClose = Self.frameBytes(opcode: 0x8, payload: Self.text(300))
        // Longer than the reader takes too: still a malformed control frame, not a message too big.
        let hugePing = Self.frameBytes(opcode: 0x9, payload: Self.text(2_000))
        var hugerPing = ByteBuffer(bytes: [0x89, 0xFF])
        hugerPing.writeInteger(UInt64.max)
        for var bytes in [fragmentedPing, longPing, longClose, hugePing, hugerPing] {
            guard case .refused(.protocolError) = InboundFrame.read(from: &bytes, maxPayloadBytes: 1024) else {
                Issue.record("not refused: \(Array(bytes.readableBytesView.prefix(4)))")
                continue
            }
        }
    }

    @Test func reservedBitsAndOpcodesAreReported() throws {
        var bytes = ByteBuffer(bytes: [0xC1, 0x00, 0x83, 0x00])  // RSV1 on a text frame; a reserved opcode
        let first = try #require(Self.read(&bytes))
        #expect(first.hasReservedBits)
        let second = try #require(Self.read(&bytes))
        #expect(!second.hasReservedBits && second.opcode == WebSocketOpcode(encodedWebSocketOpcode: 0x3))
    }

    @Test(
        "Each reserved bit alone is reported (RSV1, RSV2, RSV3), FIN and opcode aside", arguments: [0x40, 0x20, 0x10])
    func eachReservedBitIsReported(bit: UInt8) throws {
        var bytes = ByteBuffer(bytes: [0x81 | bit, 0x00, 0x81, 0x00])  // then the same text frame without it
        #expect(try #require(Self.read(&bytes)).hasReservedBits)
        #expect(try !#require(Self.read(&bytes)).hasReservedBits)
    }

    @Test(arguments: [0, 3, 9, 125, 126, 65_536])
    func clientFramesReadBack(length: Int) throws {
        var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: length)
        payload.writeBytes(Self.text(length))
        var bytes = ClientFrame.frame(payload, opcode: .binary, maskKey: 0xA1B2_C3D4)
        let frame = try #require(Self.read(&bytes))
        #expect(frame.fin && frame.opcode == .binary && frame.maskKey == 0xA1B2_C3D4)
        #expect(Array(frame.unmaskedData.readableBytesView) == Self.text(length))
        #expect(bytes.readableBytes == 0)
    }

    @Test func theReaderKeepsOnlyAPartialFrameAndStopsWhenAsked() {
        var stream = ByteBuffer()
        for index in 0..<4 {
            var frame = Self.frameBytes(opcode: 0x1, payload: Array("m\(index)".utf8))
            stream.writeBuffer(&frame)
        }
        var reader = InboundFrameReader(maxPayloadBytes: 1024)
        var seen: [String] = []
        let cut = 10  // inside the second frame (each is 2 + 4 + 2 bytes)
        #expect(
            reader.read(stream.getSlice(at: 0, length: cut)!) {
                seen.append(String(buffer: $0.unmaskedData))
                return true
            } == nil)
        #expect(seen == ["m0"])
        #expect(reader.unparsed?.readableBytes == 2, "only the part of the second frame")
        #expect(
            reader.read(stream.getSlice(at: cut, length: stream.readableBytes - cut)!) { frame in
                seen.append(String(buffer: frame.unmaskedData))
                return seen.count < 3  // stop after the third
            } == nil)
        #expect(seen == ["m0", "m1", "m2"], "the fourth is not handed on")
        var tooLong = Self.frameBytes(opcode: 0x1, payload: Self.text(2000))
        tooLong.moveWriterIndex(to: 4)
        var fresh = InboundFrameReader(maxPayloadBytes: 1024)
        #expect(fresh.read(tooLong) { _ in true } == .messageTooLarge)
    }
}

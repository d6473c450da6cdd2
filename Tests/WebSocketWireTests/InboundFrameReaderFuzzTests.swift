import NIOCore
import NIOEmbedded
import NIOWebSocket
import SeededRandom
import Testing
import WebSocketWire

/// Random streams of frames, cut into random reads, read by ``InboundFrameReader`` and by NIO's
/// own decoder: both must see the same frames, and refuse the same malformed one.
@Suite("Inbound frame reader against NIO's decoder")
struct InboundFrameReaderFuzzTests {
    struct SeenFrame: Equatable {
        let fin: Bool
        let opcode: UInt8
        let payload: [UInt8]
    }

    /// Whole frames, data frames at most `maxLength` bytes long.
    static func randomStream(_ random: inout SplitMix64, maxLength: Int = 70_000) -> ByteBuffer {
        var stream = ByteBuffer()
        for _ in 0..<Int.random(in: 1...40, using: &random) {
            let isControl = Int.random(in: 0..<4, using: &random) == 0
            let opcode: UInt8 =
                isControl
                ? [0x8, 0x9, 0xA].randomElement(using: &random)! : [0x0, 0x1, 0x2].randomElement(using: &random)!
            let fin = isControl || Bool.random(using: &random)
            let length =
                isControl
                ? Int.random(in: 0...125, using: &random)
                : [Int.random(in: 0...125, using: &random), Int.random(in: 126...maxLength, using: &random)]
                    .randomElement(using: &random)!
            let payload = random.bytes(length)
            let mask: UInt32? = Bool.random(using: &random) ? UInt32.random(in: .min ... .max, using: &random) : nil
            var frame = InboundFrameTests.frameBytes(opcode: opcode, fin: fin, payload: payload, mask: mask)
            stream.writeBuffer(&frame)
        }
        return stream
    }

    static func cuts(of stream: ByteBuffer, _ random: inout SplitMix64) -> [ByteBuffer] {
        var rest = stream
        var reads: [ByteBuffer] = []
        while rest.readableBytes > 0 {
            let length = min(rest.readableBytes, [1, 7, 64, 1500, 65_536].randomElement(using: &random)!)
            reads.append(ByteBuffer(bytes: rest.readSlice(length: length)!.readableBytesView))
        }
        return reads
    }

    /// The frames NIO's decoder reads, and the close code its error would fail the connection with.
    static func readByNIO(
        _ reads: [ByteBuffer], limit: Int = 1 << 17
    ) throws -> (frames: [SeenFrame], refusal: WebSocketErrorCode?) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: limit)))
        var seen: [SeenFrame] = []
        var refusal: WebSocketErrorCode?
        reading: for read in reads {
            do {
                try channel.writeInbound(read)
            } catch let error as NIOWebSocketError {
                // As NIO's own WebSocket handler maps them.
                refusal = error == .invalidFrameLength ? .messageTooLarge : .protocolError
            }
            while let frame = try channel.readInbound(as: WebSocketFrame.self) {
                seen.append(
                    SeenFrame(
                        fin: frame.fin, opcode: frame.opcode.encoded,
                        payload: Array(frame.unmaskedData.readableBytesView)))
            }
            if refusal != nil { break reading }
        }
        _ = try? channel.finish()
        return (seen, refusal)
    }

    static func readByReader(
        _ reads: [ByteBuffer], limit: Int = 1 << 17
    ) -> (frames: [SeenFrame], refusal: WebSocketErrorCode?) {
        var reader = InboundFrameReader(maxPayloadBytes: limit)
        var seen: [SeenFrame] = []
        for read in reads {
            let refusal = reader.read(read) { frame in
                seen.append(
                    SeenFrame(
                        fin: frame.fin, opcode: frame.opcode.encoded,
                        payload: Array(frame.unmaskedData.readableBytesView)))
                return true
            }
            if let refusal { return (seen, refusal) }
        }
        #expect(reader.unparsed == nil, "every frame was whole by the end")
        return (seen, nil)
    }

    /// A frame both readers must refuse, and its close code: a data frame over `limit` (its
    /// header and a little of its payload), or a control frame fragmented or over 125 bytes.
    /// (Not a 64-bit length with its top bit set, nor a control frame over the limit: NIO takes
    /// those for too long, this reader for malformed, as RFC 6455 §5.2 has them.)
    static func malformedFrame(_ random: inout SplitMix64, limit: Int) -> (ByteBuffer, WebSocketErrorCode) {
        let mask: UInt32? = Bool.random(using: &random) ? UInt32.random(in: .min ... .max, using: &random) : nil
        let control = [0x8, 0x9, 0xA].randomElement(using: &random)! as UInt8
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            let opcode = [0x0, 0x1, 0x2].randomElement(using: &random)! as UInt8
            // Just over the limit, somewhat over, far over.
            let length = [
                limit + 1, limit + Int.random(in: 2...65_536, using: &random),
                Int.random(in: (limit + 1)...(1 << 20), using: &random), 1 << 40,
            ].randomElement(using: &random)!
            var frame = ByteBuffer(bytes: [(Bool.random(using: &random) ? 0x80 : 0) | opcode])
            if length < 65_536 {
                frame.writeInteger((mask == nil ? 0 : 0x80) | 126 as UInt8)
                frame.writeInteger(UInt16(length))
            } else {
                frame.writeInteger((mask == nil ? 0 : 0x80) | 127 as UInt8)
                frame.writeInteger(UInt64(length))
            }
            if let mask { frame.writeInteger(mask) }
            frame.writeBytes((0..<Int.random(in: 0...300, using: &random)).map { UInt8(truncatingIfNeeded: $0) })
            return (frame, .messageTooLarge)
        case 1:
            let payload = (0..<Int.random(in: 0...125, using: &random)).map { UInt8(truncatingIfNeeded: $0) }
            return (
                InboundFrameTests.frameBytes(opcode: control, fin: false, payload: payload, mask: mask), .protocolError
            )
        default:
            // Within the limit: past it, NIO takes the frame for too long, this reader for malformed.
            let payload = (0..<Int.random(in: 126...min(limit, 70_000), using: &random)).map {
                UInt8(truncatingIfNeeded: $0)
            }
            return (InboundFrameTests.frameBytes(opcode: control, payload: payload, mask: mask), .protocolError)
        }
    }

    @Test(arguments: 0..<40)
    func sameFramesAsNIO(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let stream = Self.randomStream(&random)
        let reads = Self.cuts(of: stream, &random)
        let expected = try Self.readByNIO(reads)
        #expect(!expected.frames.isEmpty && expected.refusal == nil)
        let read = Self.readByReader(reads)
        #expect(read.frames == expected.frames, "seed \(seed)")
        #expect(read.refusal == nil, "seed \(seed)")
    }

    /// Limits below 65,536 judge 16-bit lengths, the others 64-bit ones.
    @Test(arguments: 0..<60)
    func sameRefusalAsNIO(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let limit = [1_000, 65_535, 1 << 17][Int(seed % 3)]
        var stream = Bool.random(using: &random) ? Self.randomStream(&random, maxLength: limit) : ByteBuffer()
        var (malformed, code) = Self.malformedFrame(&random, limit: limit)
        stream.writeBuffer(&malformed)
        var after = Self.randomStream(&random)  // never read: nothing after a refusal is
        stream.writeBuffer(&after)
        let reads = Self.cuts(of: stream, &random)
        let expected = try Self.readByNIO(reads, limit: limit)
        #expect(expected.refusal == code, "seed \(seed)")
        let read = Self.readByReader(reads, limit: limit)
        #expect(read.frames == expected.frames, "seed \(seed)")
        #expect(read.refusal == code, "seed \(seed)")
    }
}

extension WebSocketOpcode {
    /// The opcode's 4 bits, as on the wire.
    fileprivate var encoded: UInt8 { UInt8(webSocketOpcode: self) }
}

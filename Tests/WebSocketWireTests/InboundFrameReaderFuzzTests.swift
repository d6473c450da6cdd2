import NIOCore
import NIOEmbedded
import NIOWebSocket
import SeededRandom
import Testing
import WebSocketWire

/// Random streams of frames, cut into random reads, read by ``InboundFrameReader`` and by NIO's
/// own decoder: both must see the same frames.
@Suite("Inbound frame reader against NIO's decoder")
struct InboundFrameReaderFuzzTests {
    struct SeenFrame: Equatable {
        let fin: Bool
        let opcode: UInt8
        let payload: [UInt8]
    }

    static func randomStream(_ random: inout SplitMix64) -> ByteBuffer {
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
                : [Int.random(in: 0...125, using: &random), Int.random(in: 126...70_000, using: &random)].randomElement(
                    using: &random)!
            let payload = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
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

    static func readByNIO(_ reads: [ByteBuffer]) throws -> [SeenFrame] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 17)))
        var seen: [SeenFrame] = []
        for read in reads {
            try channel.writeInbound(read)
            while let frame = try channel.readInbound(as: WebSocketFrame.self) {
                seen.append(
                    SeenFrame(
                        fin: frame.fin, opcode: frame.opcode.encoded,
                        payload: Array(frame.unmaskedData.readableBytesView)))
            }
        }
        _ = try channel.finish()
        return seen
    }

    static func readByReader(_ reads: [ByteBuffer]) -> [SeenFrame] {
        var reader = InboundFrameReader(maxPayloadBytes: 1 << 17)
        var seen: [SeenFrame] = []
        for read in reads {
            let refusal = reader.read(read) { frame in
                seen.append(
                    SeenFrame(
                        fin: frame.fin, opcode: frame.opcode.encoded,
                        payload: Array(frame.unmaskedData.readableBytesView)))
                return true
            }
            #expect(refusal == nil)
        }
        #expect(reader.unparsed == nil, "every frame was whole by the end")
        return seen
    }

    @Test(arguments: 0..<40)
    func sameFramesAsNIO(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let stream = Self.randomStream(&random)
        let reads = Self.cuts(of: stream, &random)
        let expected = try Self.readByNIO(reads)
        #expect(!expected.isEmpty)
        #expect(Self.readByReader(reads) == expected, "seed \(seed)")
    }
}

extension WebSocketOpcode {
    /// The opcode's 4 bits, as on the wire.
    fileprivate var encoded: UInt8 { UInt8(webSocketOpcode: self) }
}

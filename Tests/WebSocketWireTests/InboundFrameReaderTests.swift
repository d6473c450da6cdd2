import NIOCore
import Testing
import WebSocketWire

/// ``InboundFrameReader`` holding whole frames back (`mayCut`), as a room socket does for a full reader.
@Suite("Inbound frame reader: frames left for later")
struct InboundFrameReaderTests {
    @Test("Frames left uncut are cut in order, one call at a time, the kept bytes moved only now and then")
    func framesLeftForLaterAreCutInOrder() {
        var read = ByteBuffer()
        for number in 0..<1_000 {
            var frame = InboundFrameTests.frameBytes(opcode: 0x1, payload: Array("\(number)".utf8))
            read.writeBuffer(&frame)
        }
        var reader = InboundFrameReader(maxPayloadBytes: 1 << 16)
        var numbers: [Int] = []
        var compactions = 0
        var bytes = read
        repeat {
            var allowance = 1
            let refusal = reader.read(
                bytes,
                mayCut: {
                    defer { allowance -= 1 }
                    return allowance > 0
                }
            ) { frame in
                numbers.append(Int(String(buffer: frame.unmaskedData)) ?? -1)
                return true
            }
            #expect(refusal == nil)
            bytes = ByteBuffer()
            guard let kept = reader.unparsed else { break }
            if kept.readerIndex == 0 { compactions += 1 }
            #expect(kept.readerIndex <= kept.readableBytes, "the dead front never outgrows what is left")
        } while numbers.count < 1_100
        #expect(numbers == Array(0..<1_000))
        #expect(compactions < 20, "moved \(compactions) times: each cut moving the rest is quadratic")
    }

    @Test("Asked with nothing left to cut, mayCut is not asked")
    func mayCutIsNotAskedForNothing() {
        var reader = InboundFrameReader(maxPayloadBytes: 1 << 16)
        var asked = 0
        let frame = InboundFrameTests.frameBytes(opcode: 0x1, payload: Array("whole".utf8))
        _ = reader.read(
            frame,
            mayCut: {
                asked += 1
                return true
            }
        ) { _ in true }
        #expect(asked == 1, "once for the frame, not again for the empty rest")
        #expect(reader.unparsed == nil)
    }
}

import NIOCore
import NIOWebSocket
import WebSocketWire

/// WebSocket frames: InboundFrame.read and InboundFrameReader on a byte stream cut anywhere,
/// WebSocketMask both ways at any alignment, and ClientFrame round trips.
///
/// Input: byte 0 seeds where the stream is cut (and the mask key, and the rooms and header check
/// below), byte 1 picks the payload limit, the rest is the stream. Read as the server reads it,
/// with a continuation frame's room (what its message has left) that changes from frame to frame,
/// and a header check that refuses some first two bytes: cut or whole, a reader must see the same
/// frames and the same refusal; a frame's payload is within the limit (a continuation frame's,
/// within its room) and the same unmasked either way; an incomplete read
/// leaves the buffer as it was; masking is byte by byte the key's, and twice is the identity; a
/// frame ClientFrame writes reads back as its payload.
struct FramesCheck {
    /// Masks `source` into `target`; a seam for showing the check fails on a broken mask.
    var mask: (UInt32, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void = {
        WebSocketMask.apply($0, from: $1, into: $2)
    }

    private static let limits = [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 17, Int.max / 2, Int(UInt32.max)]

    private struct Seen: Equatable {
        let first: UInt8
        let payload: [UInt8]
    }

    func run(_ input: UnsafeBufferPointer<UInt8>) throws(FuzzViolation) {
        guard input.count >= 2 else { return }
        var seed = UInt64(input[0]) &* 0x9E37_79B9_7F4A_7C15 | 1
        let maxPayload = Self.limits[Int(input[1]) % Self.limits.count]
        let stream = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: input[2...]))

        let rules = Rules(seed: input[0])
        let whole = try Self.readAll([ByteBuffer(bytes: stream)], max: maxPayload, rules: rules)
        var reads: [ByteBuffer] = []
        var start = 0
        while start < stream.count {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            let length = min(stream.count - start, Int(seed % 23))
            reads.append(ByteBuffer(bytes: stream[start..<(start + length)]))
            start += length
        }
        let cut = try Self.readAll(reads, max: maxPayload, rules: rules)
        try require(whole.frames == cut.frames, "\(whole.frames.count) frames whole, \(cut.frames.count) cut")
        try require(whole.refused == cut.refused, "refused \(String(describing: whole.refused)) whole, else cut")

        // Direct reads at every offset of a buffer whose reader index moves.
        var buffer = ByteBuffer(bytes: stream)
        for _ in 0..<min(64, stream.count) {
            var copy = buffer
            switch InboundFrame.read(from: &copy, maxPayloadBytes: maxPayload) {
            case .frame(let frame):
                try require(copy.readerIndex > buffer.readerIndex, "a frame read nothing")
                _ = frame.unmaskedData
            case .incomplete:
                try require(copy.readerIndex == buffer.readerIndex, "an incomplete frame moved the reader")
            case .refused: break
            }
            buffer.moveReaderIndex(forwardBy: 1)
        }

        let key = UInt32(truncatingIfNeeded: seed)
        try self.checkMask(key, stream)
        try Self.roundTrip(stream, key: key)
    }

    /// Masking at any alignment and length: each byte with the key's, twice the identity.
    private func checkMask(_ key: UInt32, _ stream: UnsafeRawBufferPointer) throws(FuzzViolation) {
        for offset in 0..<min(8, stream.count + 1) {
            let source = UnsafeRawBufferPointer(rebasing: stream[offset...])
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 1)
            defer { out.deallocate() }
            self.mask(key, source, out)
            for i in 0..<source.count {
                let keyByte = UInt8(truncatingIfNeeded: key >> (24 - 8 * UInt32(i & 3)))
                try require(out[i] == source[i] ^ keyByte, "mask byte \(i) of \(source.count) at offset \(offset)")
            }
            self.mask(key, UnsafeRawBufferPointer(out), out)
            try require(Array(out) == Array(source), "masking twice at offset \(offset) is not the identity")
        }
    }

    /// The stream as one payload, framed by ClientFrame (with and without headroom) and read back.
    private static func roundTrip(_ stream: UnsafeRawBufferPointer, key: UInt32) throws(FuzzViolation) {
        for opcode in [WebSocketOpcode.text, .binary] {
            var payload = ClientFrame.payloadBuffer(ByteBufferAllocator(), capacity: stream.count)
            payload.writeBytes(stream)
            let framed = ClientFrame.frame(payload, opcode: opcode, maskKey: key)
            let read = try Self.readAll([framed], max: 1 << 20)
            try require(
                read.refused == nil && read.frames.count == 1 && read.frames[0].payload == Array(stream),
                "a \(opcode) frame of \(stream.count) bytes does not read back")
            let bare = ClientFrame.frame(ByteBuffer(bytes: stream), opcode: opcode, maskKey: key)
            try require(bare == framed, "a \(opcode) frame framed without headroom differs")
        }
    }

    /// What the server's reader is told, as pure functions of the frame: the room a continuation
    /// frame has (by how many frames came before it; nil, none asked), and which headers it refuses.
    struct Rules {
        let seed: UInt8

        func continuationRoom(afterFrames count: Int) -> Int? {
            let pick = (Int(self.seed) &+ count &* 7) % 5
            return pick == 0 ? nil : [0, 1, 125, 4_000][pick - 1]
        }

        /// Refuses one opcode (by the first byte alone, so that a frame read can be checked against it).
        func headerRefusal(_ first: UInt8, _ second: UInt8) -> WebSocketErrorCode? {
            self.seed & 0x20 != 0 && first & 0x0F == self.seed & 0x0F ? .protocolError : nil
        }
    }

    private static func readAll(
        _ reads: [ByteBuffer], max: Int, rules: Rules? = nil
    ) throws(FuzzViolation) -> (frames: [Seen], refused: WebSocketErrorCode?) {
        var reader = InboundFrameReader(maxPayloadBytes: max)
        var seen: [Seen] = []
        var violation: FuzzViolation?
        for read in reads {
            let refused = reader.read(
                read, continuationRoom: { rules?.continuationRoom(afterFrames: seen.count) },
                headerRefusal: { rules?.headerRefusal($0, $1) }
            ) { frame in
                let unmasked = Array(frame.unmaskedData.readableBytesView)
                if unmasked != frame.withUnmaskedPayload({ Array($0) }) {
                    violation = FuzzViolation("unmaskedData and withUnmaskedPayload differ")
                } else if unmasked.count > max {
                    violation = FuzzViolation("a payload of \(unmasked.count) bytes, over the limit \(max)")
                } else if frame.firstByte & 0x0F == 0, let room = rules?.continuationRoom(afterFrames: seen.count),
                    unmasked.count > Swift.max(0, room)
                {
                    violation = FuzzViolation("a continuation frame of \(unmasked.count) bytes, over its room \(room)")
                } else if rules?.headerRefusal(frame.firstByte, 0) != nil {
                    violation = FuzzViolation(
                        "a frame of opcode \(frame.firstByte & 0x0F) read, which the header check refuses")
                }
                _ = (frame.opcode, frame.fin, frame.hasReservedBits)
                seen.append(Seen(first: frame.firstByte, payload: unmasked))
                return violation == nil
            }
            if let violation { throw violation }
            if let refused { return (seen, refused) }
        }
        return (seen, nil)
    }
}

import NIOCore
import NIOEmbedded
import NIOWebSocket
import SeededRandom
import Testing

@testable import RelayServer

/// ``RoomSocketHandler``'s frame state machine against a small model of RFC 6455, on random
/// streams of frames, valid and broken, cut into reads anywhere: the server closes with the code
/// of the stream's first fault, once, or not at all if there is none (a client's own close is
/// answered with 1000). Fragments, control frames between them, reserved bits and opcodes,
/// unmasked frames, lengths over the cap and close payloads are all drawn.
@Suite("The WebSocket frame state machine")
struct FrameStateMachineTests {
    /// The cap ``RoomSocketHandlerTests/makeHandler(limits:maxMessageBytes:pingInterval:addressBudget:busyLoop:budgetClock:logger:kernelSendQueue:)`` gives: 1,024 bytes a message.
    static let maxMessageBytes = 1_024

    /// One frame as a client could send it, broken or not.
    struct Frame: CustomStringConvertible {
        var fin = true
        var reservedBits: UInt8 = 0
        var opcode: UInt8
        var masked = true
        var payload: [UInt8]

        var bytes: [UInt8] {
            var bytes = [(self.fin ? 0x80 : 0) | self.reservedBits << 4 | self.opcode]
            let maskBit: UInt8 = self.masked ? 0x80 : 0
            switch self.payload.count {
            case ..<126: bytes.append(maskBit | UInt8(self.payload.count))
            case ..<65_536:
                bytes.append(maskBit | 126)
                bytes += [UInt8(self.payload.count >> 8), UInt8(self.payload.count & 0xFF)]
            default:
                bytes.append(maskBit | 127)
                bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: self.payload.count >> (8 * $0)) }
            }
            guard self.masked else { return bytes + self.payload }
            let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
            return bytes + key + self.payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        }

        var description: String {
            "fin \(self.fin) rsv \(self.reservedBits) op \(self.opcode) masked \(self.masked) len \(self.payload.count)"
        }
    }

    /// What the model expects the server to do at a frame, given the message in progress.
    enum Verdict: Equatable {
        case goOn
        /// The server closes with this code, and reads nothing more.
        case close(UInt16)
    }

    /// The model: RFC 6455 §5 as README states the server keeps it.
    struct Model {
        var openMessageBytes: Int?
        var openMessageFrames = 0

        mutating func verdict(for frame: Frame) -> Verdict {
            guard frame.reservedBits == 0, frame.masked else { return .close(1002) }
            switch frame.opcode {
            case 0x0:
                guard let sofar = self.openMessageBytes else { return .close(1002) }
                self.openMessageFrames += 1
                guard sofar + frame.payload.count <= FrameStateMachineTests.maxMessageBytes,
                    self.openMessageFrames <= 128
                else { return .close(1009) }
                self.openMessageBytes = frame.fin ? nil : sofar + frame.payload.count
                return .goOn
            case 0x1, 0x2:
                guard self.openMessageBytes == nil else { return .close(1002) }
                guard frame.payload.count <= FrameStateMachineTests.maxMessageBytes else { return .close(1009) }
                (self.openMessageBytes, self.openMessageFrames) = (frame.fin ? nil : frame.payload.count, 1)
                return .goOn
            case 0x8, 0x9, 0xA:
                guard frame.fin, frame.payload.count <= 125 else { return .close(1002) }
                guard frame.opcode == 0x8 else { return .goOn }
                switch frame.payload.count {
                case 0: return .close(1000)
                case 1: return .close(1002)
                default:
                    let code = UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1])
                    let valid =
                        [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].contains(code)
                        || (1012...1014).contains(code) || (3000...4999).contains(code)
                    guard valid else { return .close(1002) }
                    let reason = frame.payload.dropFirst(2)
                    return .close(String(validating: reason, as: UTF8.self) == nil ? 1007 : 1000)
                }
            default:
                return .close(1002)
            }
        }
    }

    /// A random frame, mostly valid for the message in progress, sometimes broken in one way.
    static func randomFrame(openMessage: Bool, using random: inout SplitMix64) -> Frame {
        func payload(_ range: ClosedRange<Int>) -> [UInt8] {
            (0..<Int.random(in: range, using: &random)).map { _ in UInt8.random(in: 0x20...0x7E, using: &random) }
        }
        var frame: Frame
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<25:  // a data frame: a whole message, or the start of one
            frame = Frame(fin: Bool.random(using: &random), opcode: openMessage ? 0x0 : 0x1, payload: payload(0...300))
        case 25..<40:  // a continuation, fitting or not
            frame = Frame(fin: Bool.random(using: &random), opcode: 0x0, payload: payload(0...600))
        case 40..<50: frame = Frame(opcode: UInt8.random(in: 1...2, using: &random), payload: payload(0...40))
        case 50..<62: frame = Frame(opcode: 0x9, payload: payload(0...125))
        case 62..<68: frame = Frame(opcode: 0xA, payload: payload(0...16))
        case 68..<72: frame = Frame(opcode: 0x1, payload: payload(1_000...1_100))  // around the cap
        case 72..<76: frame = Frame(fin: false, opcode: 0x9, payload: payload(0...8))
        case 76..<79: frame = Frame(opcode: 0x9, payload: payload(126...200))
        case 79..<82: frame = Frame(opcode: UInt8.random(in: 3...7, using: &random), payload: payload(0...8))
        case 82..<85: frame = Frame(opcode: UInt8.random(in: 0xB...0xF, using: &random), payload: payload(0...8))
        case 85..<88:
            frame = Frame(opcode: 0x1, payload: payload(0...8))
            frame.reservedBits = UInt8.random(in: 1...7, using: &random)
        case 88..<91:
            frame = Frame(opcode: 0x1, payload: payload(0...8))
            frame.masked = false
        default:
            let code = [1000, 1001, 1004, 1005, 1006, 1012, 1014, 1015, 999, 2999, 3000, 4000, 5000]
                .randomElement(using: &random)!
            // A reason of printable ASCII, now and then with UTF-8 that is valid (é, U+1F600) or
            // not (a lone lead byte, 0xFF, an encoded surrogate, an overlong '/').
            let reasonEnds: [[UInt8]] = [
                [], [], [], [0xC3, 0xA9], [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0xFF], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
            ]
            var closing =
                [UInt8(code >> 8), UInt8(code & 0xFF)] + payload(0...4) + reasonEnds.randomElement(using: &random)!
            if Int.random(in: 0..<6, using: &random) == 0 {
                closing = Array(closing.prefix(Int.random(in: 0...1, using: &random)))
            }
            frame = Frame(opcode: 0x8, payload: closing)
        }
        return frame
    }

    @Test("The server closes with the code of a stream's first fault, once, or not at all", arguments: 0..<8)
    func firstFaultClosesOnce(batch: UInt64) throws {
        var random = SplitMix64(seed: 0xF4A3_E000 + batch)
        for script in 0..<60 {
            // The server's writes held, as a full socket holds them: its close frame stays unwritten,
            // so it does not end its half of the connection, which an EmbeddedChannel takes for a
            // close of the whole channel (and then reads nothing more). Open, the channel is fed all
            // that comes after a fault, as a socket's reads go on until the client hangs up.
            let (channel, _, held) = try RoomSocketHandlerTests.heldConnection()
            defer { _ = try? channel.finish() }

            var model = Model()
            var frames: [Frame] = []
            var expected = Verdict.goOn
            while frames.count < 12, expected == .goOn {
                let frame = Self.randomFrame(openMessage: model.openMessageBytes != nil, using: &random)
                frames.append(frame)
                expected = model.verdict(for: frame)
            }
            let context = "batch \(batch) script \(script): \(frames)"
            // The stream, cut anywhere into reads, and a little more the server must not act on: a
            // ping cut with it, then one in a read of its own, which starts on a frame's first byte
            // (a server that parsed reads after a fault would take it for the ping it is).
            var stream = frames.flatMap(\.bytes)
            stream += Frame(opcode: 0x9, payload: Array("after".utf8)).bytes
            var start = 0
            while start < stream.count {
                let length = min(stream.count - start, Int.random(in: 1...300, using: &random))
                _ = try? channel.writeInbound(ByteBuffer(bytes: stream[start..<(start + length)]))
                start += length
            }
            _ = try? channel.writeInbound(ByteBuffer(bytes: Frame(opcode: 0x9, payload: Array("later".utf8)).bytes))
            #expect(channel.isActive, "the held close frame keeps the channel open to the last read: \(context)")

            var closes: [UInt16] = []
            var afterClose: [WebSocketOpcode] = []
            var pongs: [String] = []
            for written in held.frames {
                if written.opcode == .connectionClose {
                    var data = written.unmaskedData
                    closes.append(data.readInteger(as: UInt16.self) ?? 0)
                } else if !closes.isEmpty {
                    afterClose.append(written.opcode)
                }
                if written.opcode == .pong { pongs.append(String(buffer: written.unmaskedData)) }
            }
            switch expected {
            case .goOn:
                #expect(closes.isEmpty, "\(context)")
                #expect(Array(pongs.suffix(2)) == ["after", "later"], "the last pings are answered: \(context)")
            case .close(let code):
                #expect(closes == [code], "\(context)")
                #expect(
                    !pongs.contains("after") && !pongs.contains("later"),
                    "nothing after the fault is acted on: \(pongs) \(context)")
            }
            // A ping read before the fault is answered before the close frame (RFC 6455 §5.5.2);
            // nothing the client sends after it is, and no message is sent after a close.
            #expect(afterClose.isEmpty, "nothing follows the close: \(afterClose) \(context)")
        }
    }
}

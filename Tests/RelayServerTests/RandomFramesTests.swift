import Foundation
import Relay
import SeededRandom
import Synchronization
import Testing

@testable import RelayServer

/// Random WebSocket frames over real sockets, while a healthy room plays beside them: frames
/// the server must take (text, near-JSON, invalid UTF-8, binary, pings, pongs, fragments,
/// overlong length encodings), then one it must refuse (a reserved opcode or bit, a stray or
/// interleaved fragment, a control frame too long or fragmented, an unmasked frame, a bad close
/// code, a frame over the cap) or none, then a close. Every message taken is answered, in order,
/// with a well-formed one; the connection is closed with the documented code for what it sent;
/// the healthy room gets every update, in order; the server goes on serving.
@Suite("Relay under random frames")
struct RandomFramesTests {
    @Test(arguments: [20_261_130, 99, 31_337] as [UInt64])
    func randomFramesCloseOnlyTheirOwnConnection(seed: UInt64) async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 4 * 1024
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)

            var random = SplitMix64(seed: seed)
            let sequences = (0..<8).map { _ in RandomFrames.sequence(&random) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, sequence) in sequences.enumerated() {
                    group.addTask {
                        let context =
                            "seed \(seed), connection \(index): \(sequence.messages) messages, then \(sequence.fault ?? "no fault")"
                        try await Self.play(sequence, port: port, context: context)
                    }
                }
                // Meanwhile the healthy room plays on.
                for step in 0..<30 {
                    guest.send(["type": "player_state", "state": ["x": step]])
                    let update = try await host.expect("player_state_update")
                    #expect((update["state"] as? [String: Any])?["x"] as? Int == step)
                }
                try await group.waitForAll()
            }
            // The server still takes new connections.
            let late = TestSocket.connect(port: port)
            late.send(["type": "ping"])
            try await late.expect("pong")
        }
    }

    /// Sends the frames the server must take, then a marker, and reads one answer per message
    /// up to the marker's; then sends the rest and reads until the server hangs up.
    static func play(_ sequence: RandomFrames, port: Int, context: String) async throws {
        let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
        try client.sendRaw(sequence.accepted + StalledClient.frame(RandomFrames.marker))
        var answers = 0
        while let frame = try await client.readFrame() {
            if frame.opcode == 8 { Issue.record("\(context): closed with \(frame) before the marker") }
            guard frame.opcode == 1 else { continue }
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any], "\(context)")
            let type = try #require(object["type"] as? String, "\(context): \(object)")
            if type == "error" { #expect(object["code"] is String && object["message"] is String, "\(context)") }
            if type == "time_sync_response", object["client_time"] as? Double == RandomFrames.markerTime { break }
            if type != "player_joined" { answers += 1 }  // create_room answers twice: player_joined, room_created
        }
        #expect(answers == sequence.messages, "\(context): \(answers) answers")

        try? client.sendRaw(sequence.rest)  // the server may hang up half-way: that is its right
        var closeCode: Int?
        // The close frame, then the end of the stream: never a reset (the server reads what the
        // client sent after a fault before it hangs up).
        while let frame = try await client.readFrame() {
            if frame.opcode == 8 { closeCode = frame.closeCode }
        }
        #expect(closeCode == sequence.expectedCloseCode, "\(context)")
    }
}

/// Random client frames: `accepted`, frames the server must take, then `rest`: at most one it
/// must refuse (`fault`), and a proper close.
struct RandomFrames {
    var accepted: [UInt8] = []
    /// Answers to the text and binary messages in `accepted` (one each, but see ``AnswerModel``).
    var messages = 0
    /// Whether the connection is in a room, and has been told `not_in_room` outside one.
    var answers = AnswerModel()
    var rest: [UInt8] = []
    /// What is wrong with the refused frame, if there is one.
    var fault: String?
    /// 1002 for a broken frame, 1009 for one over the cap, else 1000, the answer to the close.
    var expectedCloseCode = 1000

    /// Sent after `accepted`: its answer comes after theirs.
    static let markerTime = 424_242.5
    static let marker = #"{"type":"time_sync","client_time":424242.5}"#

    static func sequence(_ random: inout SplitMix64) -> RandomFrames {
        var sequence = RandomFrames()
        for _ in 0..<1 + Int(random.next() % 20) {
            sequence.accepted += self.acceptable(&random, messages: &sequence.messages, model: &sequence.answers)
        }
        if random.next() % 3 != 0 {
            let (fault, code, bytes) = self.refused(&random)
            sequence.fault = fault
            sequence.expectedCloseCode = code
            sequence.rest = bytes
        }
        sequence.rest += self.encode(fin: true, opcode: 8, payload: [0x03, 0xE8], &random)
        return sequence
    }

    private static func pick<T>(_ items: [T], _ random: inout SplitMix64) -> T {
        items[Int(random.next() % UInt64(items.count))]
    }

    /// A frame the server must take without closing.
    private static func acceptable(_ random: inout SplitMix64, messages: inout Int, model: inout AnswerModel) -> [UInt8]
    {
        let chosen = self.pick(self.texts, &random)
        let text = Array(chosen.utf8)
        switch random.next() % 8 {
        case 0: return self.encode(fin: true, opcode: 9, payload: Array("hi".utf8), &random)
        case 1: return self.encode(fin: true, opcode: 10, payload: [], &random)  // unsolicited pong
        case 2:
            messages += 1
            return self.encode(fin: true, opcode: 2, payload: [1, 2, 3], &random)  // binary: an error reply
        case 3:
            messages += 1
            return self.encode(fin: true, opcode: 1, payload: [0x7B, 0xC3, 0x28, 0xFF, 0x7D], &random)  // not UTF-8
        case 4:  // in two fragments, a ping between them
            messages += model.answers(to: chosen)
            let cut = text.count / 2
            return self.encode(fin: false, opcode: 1, payload: Array(text[..<cut]), &random)
                + self.encode(fin: true, opcode: 9, payload: [], &random)
                + self.encode(fin: true, opcode: 0, payload: Array(text[cut...]), &random)
        case 5:
            messages += model.answers(to: chosen)
            // Lenient, as most servers.
            return self.encode(fin: true, opcode: 1, payload: text, longLength: true, &random)
        default:
            messages += model.answers(to: chosen)
            return self.encode(fin: true, opcode: 1, payload: text, &random)
        }
    }

    /// A frame the server must refuse by closing the connection: what is wrong, and the close code.
    private static func refused(_ random: inout SplitMix64) -> (String, Int, [UInt8]) {
        let text = Array(self.pick(self.texts, &random).utf8)
        switch random.next() % 9 {
        case 0:
            return (
                "a control frame over 125 bytes", 1002,
                self.encode(fin: true, opcode: 9, payload: Array(repeating: 7, count: 126), &random)
            )
        case 1: return ("a fragmented control frame", 1002, self.encode(fin: false, opcode: 9, payload: [], &random))
        case 2:
            let opcode = self.pick([3, 4, 5, 6, 7, 11, 12, 15] as [UInt8], &random)
            return ("reserved opcode \(opcode)", 1002, self.encode(fin: true, opcode: opcode, payload: [1], &random))
        case 3:
            let rsv = self.pick([0x40, 0x20, 0x10] as [UInt8], &random)
            return ("reserved bit \(rsv)", 1002, self.encode(fin: true, opcode: 1, payload: text, rsv: rsv, &random))
        case 4: return ("a stray continuation", 1002, self.encode(fin: true, opcode: 0, payload: text, &random))
        case 5:
            return (
                "a message inside a fragmented one", 1002,
                self.encode(fin: false, opcode: 1, payload: [0x7B], &random)
                    + self.encode(fin: true, opcode: 1, payload: text, &random)
            )
        case 6:
            return ("an unmasked frame", 1002, self.encode(fin: true, opcode: 1, payload: text, masked: false, &random))
        case 7:
            let payload = self.pick([[0x03], [0x03, 0xED], [0x00, 0x00], [0x03, 0xEE]] as [[UInt8]], &random)
            return (
                "a close with payload \(payload)", 1002, self.encode(fin: true, opcode: 8, payload: payload, &random)
            )
        default:
            return (
                "a frame over the cap", 1009,
                self.encode(fin: true, opcode: 1, payload: Array(repeating: 0x20, count: 5_000), &random)
            )
        }
    }

    /// Messages a confused or hostile client might send; each gets one answer, in a room or not
    /// (`create_room` two: `player_joined`, then `room_created`), except as ``AnswerModel`` says.
    static let texts = [
        #"{"type":"ping"}"#, #"{"type":"time_sync","client_time":1.5}"#, #"{"type":"player_state","state":"moving"}"#,
        #"{"type":"create_room","room_name":"r","player_name":"p"}"#,
        #"{"type":"join_room","room_id":"ZZZZZZ","player_name":"p"}"#,
        #"{"type":"chat","message":"hello"}"#, #"{"type":"teleport"}"#, #"{"type":"chat","message":"\ud800"}"#, "{",
        "[]", "",
        #"{"type":"player_ready","is_ready":"yes"}"#,
        #"{"type":"reconnect","room_id":"ABCDEF","player_id":"x","token":"t"}"#,
    ]

    /// One frame; masked with a random key unless `masked` is false. `longLength` encodes a short
    /// length in the 8-byte form (not minimal, which RFC 6455 forbids).
    static func encode(
        fin: Bool, opcode: UInt8, payload: [UInt8], rsv: UInt8 = 0, masked: Bool = true, longLength: Bool = false,
        _ random: inout SplitMix64
    ) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let mask: UInt8 = masked ? 0x80 : 0
        if longLength {
            frame.append(mask | 127)
            frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (8 * $0)) }
        } else if payload.count < 126 {
            frame.append(mask | UInt8(payload.count))
        } else {
            frame.append(mask | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        guard masked else { return frame + payload }
        let key = withUnsafeBytes(of: UInt32(truncatingIfNeeded: random.next())) { Array($0) }
        return frame + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }
}

/// How many answers (not counting `player_joined`) a text message gets: one, except that a
/// message needing a room, sent outside one, is answered `not_in_room` only the first time.
struct AnswerModel {
    var inRoom = false
    var toldNotInRoom = false

    /// Of ``RandomFrames/texts``, the ones refused outside a room before anything else is checked.
    static let needingARoom = [
        #"{"type":"player_state","state":"moving"}"#, #"{"type":"chat","message":"hello"}"#,
        #"{"type":"player_ready","is_ready":"yes"}"#,
    ]

    mutating func answers(to text: String) -> Int {
        if text.contains(#""type":"create_room""#) { self.inRoom = true }  // created (after leaving its room)
        if text.contains(#""type":"join_room""#) { self.inRoom = false }  // leaves its room; ZZZZZZ is none
        guard !self.inRoom, Self.needingARoom.contains(text) else { return 1 }
        defer { self.toldNotInRoom = true }
        return self.toldNotInRoom ? 0 : 1
    }
}

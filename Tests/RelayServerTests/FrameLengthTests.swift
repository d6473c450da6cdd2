import Foundation
import Relay
import Testing

/// Relayed messages around the lengths where a WebSocket frame header changes size: up to 125
/// bytes (2-byte header), up to 65,535 (4 bytes), and beyond (10 bytes, written by NIO's
/// encoder because an outbound message keeps room for 4 only).
@Suite("Frame lengths")
struct FrameLengthTests {
    @Test func messagesOfEveryHeaderSizeArriveIntact() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 256 * 1024
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            // The relayed text is {"type":"game_action","player_id":…,"action":"a","data":{"s":"…"}}.
            let overhead = #"{"type":"game_action","player_id":"\#(room.hostID)","action":"a","data":{"s":""}}"#.utf8
                .count
            for length in [124, 125, 126, 127, 65_534, 65_535, 65_536, 65_537, 100_000] {
                let text = String(repeating: "w", count: length - overhead)
                host.send(["type": "game_action", "action": "a", "data": ["s": text]])
                let relayed = try await guest.nextText()
                #expect(relayed.utf8.count == length)
                let message = try #require(try JSONSerialization.jsonObject(with: Data(relayed.utf8)) as? [String: Any])
                #expect((message["data"] as? [String: Any])?["s"] as? String == text, "\(length) bytes")
            }
        }
    }
}

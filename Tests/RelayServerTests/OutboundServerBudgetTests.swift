import Foundation
import Logging
import RecordedLogs
import Relay
import Testing

@testable import RelayServer

/// What slow clients' outbound queues hold together past each one's floor
/// (``RelayLimits/maxOutboundBytesPerServer``): a client that stops reading is disconnected once
/// the server's total is full, before its own cap; one that keeps up never is.
@Suite("Outbound bytes per server")
struct OutboundServerBudgetTests {
    @Test("A client that stops reading is disconnected once slow clients hold the server's total; its room-mate is not")
    func stalledClientIsDroppedAtTheServerTotal() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 100_000
        limits.outboundQueueBytes = 8 << 20  // far more than the test sends: only the total can drop it
        limits.maxOutboundBytesPerServer = 256 * 1024
        limits.messagesPerSecond = 1_000_000
        limits.messageBurst = 1_000_000
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await withRelayServer(limits: limits, logger: logger) { port, registry in
            let host = TestSocket.connect(port: port)
            let reader = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: reader, maxPlayers: 3)
            // Segments as over the internet: loopback's kernel would take megabytes before the queue.
            let stalled = try await StalledClient.connect(
                port: port, path: "/ws/room/\(room.code)", maxSegmentSize: 1_400)
            try stalled.send(#"{"type":"join_room","player_name":"Sleepy"}"#)
            let stalledID = try #require(try await host.expect("player_joined")["player_id"] as? String)
            try await reader.expect("player_joined")

            // 2.4 MB the stalled client never reads: past its 64 KiB and the total with what its
            // socket holds, well within its own cap. Sent in batches the reader has read before
            // the next, so that its queue stays within its 64 KiB however loaded the machine: only
            // the stalled client falls behind.
            let padding = String(repeating: "p", count: 4000)
            let (count, batch) = (600, 10)
            var (received, sawDrop) = (0, false)
            for start in stride(from: 0, to: count, by: batch) {
                for index in start..<(start + batch) {
                    host.send(["type": "player_state", "state": ["x": index, "pad": padding]])
                }
                while received < start + batch {
                    let message = try await reader.next()
                    switch message["type"] as? String {
                    case "player_state_update":
                        #expect((message["state"] as? [String: Any])?["x"] as? Int == received)
                        received += 1
                    case "player_disconnected":
                        #expect(message["player_id"] as? String == stalledID)
                        sawDrop = true
                    default: Issue.record("unexpected \(message)")
                    }
                }
            }
            if !sawDrop {
                let gone = try await reader.skip(until: "player_disconnected", timeout: .seconds(20))
                #expect(gone["player_id"] as? String == stalledID)
            }
            stalled.hangUp()
            // The dropped queue gave its bytes back; the reader's stays within its floor.
            let deadline = ContinuousClock.now + .seconds(10)
            while registry.outboundMemory.heldBytes > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(registry.outboundMemory.heldBytes == 0)
            let warnings = records.entries.filter { $0.message == "relay.outbound.server_budget_full" }
            #expect(warnings.map(\.level) == [.warning])
        }
    }
}

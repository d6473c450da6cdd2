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
        limits.outboundQueueAgeLimit = .zero  // nor the age of what waits, on a loaded machine (58 s once)
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

            // 2.4 MB the stalled client never reads: past its 128 KiB and the total with what its
            // socket holds, well within its own cap. In batches of 40 KB, so that the reader's
            // queue stays within its 128 KiB however loaded the machine.
            let sawDrop = try await RelayAbuseTests.relayInBatches(
                host: host, reader: reader, stalledID: stalledID, count: 600, batch: 10)
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

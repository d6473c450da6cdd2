import Foundation
import Logging
import RecordedLogs
import Relay
import Testing

/// A player who stops reading in a quiet room: its queue stays far within its caps in frames and
/// bytes, and only the age of what waits in it closes the player (``RelayLimits/outboundQueueAgeLimit``).
@Suite("A stalled player's queue: the age limit")
struct QueueAgeLimitTests {
    static func tooSlow(in records: RecordedLogs) -> [RecordedLogs.Entry] {
        records.entries.filter { $0.message == "relay.connection.too_slow" }
    }

    static func limits(ageLimit: Duration) -> RelayLimits {
        var limits = RelayLimits()
        limits.outboundQueueAgeLimit = ageLimit
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        return limits
    }

    /// The host sends 600 KB at once, more than the kernels and NIO take for a guest that reads
    /// nothing (a 4 KB receive buffer; at most 64 KiB unsent in the server's kernel, and 64 KiB in
    /// NIO), then a 4 KB state every 100 ms: the guest's queue holds under 1 MiB and 200 frames
    /// all along, within its caps (1 MiB, 4,096). With a 1 s limit the guest is dropped
    /// (`player_disconnected` to the host) soon; with none, not in 3 s.
    @Test(
        "A player whose oldest queued message has waited the limit is dropped; without a limit it is kept",
        arguments: [true, false])
    func aStalledPlayerIsDroppedOnceAMessageHasWaitedTheLimit(limited: Bool) async throws {
        let records = RecordedLogs()
        let limits = Self.limits(ageLimit: limited ? .seconds(1) : .zero)
        try await withRelayServer(limits: limits, logger: Logger(label: "test") { _ in records }) { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Quiet")
            let stalled = try await StalledClient.joining(port: port, code: code)
            defer { stalled.hangUp() }  // else the server's stop would wait for it
            _ = try await host.expect("player_joined")
            let padding = String(repeating: "p", count: 4_000)
            for index in 0..<150 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
            let trickle = Task {
                for index in 0..<30 {
                    host.send(["type": "player_state", "state": ["x": 150 + index, "pad": padding]])
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { trickle.cancel() }
            if limited {
                let dropped = try await host.skip(until: "player_disconnected")
                #expect(dropped["player_name"] as? String == "Guest")
                try await eventually { !Self.tooSlow(in: records).isEmpty }
                let logged = Self.tooSlow(in: records)
                #expect(logged.map { $0.metadata["reason"].map { "\($0)" } } == ["message_age"])
            } else {
                // Nothing comes to the host but a drop: the guest sends nothing.
                await #expect(throws: TestSocketError.timedOut) {
                    try await host.skip(until: "player_disconnected", timeout: .seconds(3))
                }
                #expect(Self.tooSlow(in: records).isEmpty)
            }
        }
    }

    /// The guest reads 240 KB, then stops: 40 KB more it never reads. The server's kernel takes it
    /// all (it may hold 64 KiB unsent), so nothing ever waits in the guest's queue, and only the
    /// kernel's counts (`tcp_info`: what it was handed, what the client acknowledged) show it
    /// behind; counting only what is unsent, it would never be, with more than that acknowledged
    /// before. Pings are an hour apart: they cannot drop it.
    @Test(
        "A player who stops reading in a quiet room, all it was sent in the kernel's buffers, is dropped at the limit",
        arguments: [true, false])
    func aStalledPlayerWhoseMessagesFitInTheKernelIsDropped(limited: Bool) async throws {
        let records = RecordedLogs()
        var limits = Self.limits(ageLimit: limited ? .seconds(1) : .zero)
        limits.pingInterval = .seconds(3600)
        try await withRelayServer(limits: limits, logger: Logger(label: "test") { _ in records }) { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Quieter")
            let stalled = try await StalledClient.joining(port: port, code: code)
            defer { stalled.hangUp() }
            _ = try await host.expect("player_joined")
            let padding = String(repeating: "p", count: 4_000)
            for index in 0..<60 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
            var updates = 0
            while updates < 60, let frame = try await stalled.readFrame() {
                if String(decoding: frame.payload, as: UTF8.self).contains("player_state_update") { updates += 1 }
            }
            for index in 60..<70 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
            if limited {
                _ = try await host.skip(until: "player_disconnected")
                try await eventually { !Self.tooSlow(in: records).isEmpty }
                #expect(Self.tooSlow(in: records).map { $0.metadata["reason"].map { "\($0)" } } == ["message_age"])
            } else {
                await #expect(throws: TestSocketError.timedOut) {
                    try await host.skip(until: "player_disconnected", timeout: .seconds(3))
                }
            }
        }
    }
}

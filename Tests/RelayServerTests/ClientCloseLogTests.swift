import Foundation
import Logging
import RecordedLogs
import Relay
import Testing

@testable import RelayServer

/// Closes a client can cause at will are logged at their level once an interval, the others at
/// debug (``ClientCloseLogs``); the interval is an hour here, so that a loaded run cannot pass it.
@Suite("Logs of closes a client can repeat")
struct ClientCloseLogTests {
    static func levels(of message: String, in records: RecordedLogs) -> [Logger.Level] {
        records.entries.filter { $0.message == message }.map(\.level)
    }

    @Test("Connections closed for bytes that make no request: the first at info, the next at debug")
    func undecodedBytes() async throws {
        let records = RecordedLogs()
        try await withRelayServer(
            logger: Logger(label: "test") { _ in records }, configure: { $0.repeatedCloseLogInterval = .seconds(3600) }
        ) { port, _ in
            let request = "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n"
            for _ in 0..<2 {
                let (_, error) = try await MalformedRequestTests.sendPastTheParser(port: port, request)
                #expect(error == EPIPE || error == ECONNRESET, "errno \(error): the server closed")
            }
            try await eventually { Self.levels(of: "http.undecoded_bytes.closed", in: records).count == 2 }
        }
        #expect(Self.levels(of: "http.undecoded_bytes.closed", in: records) == [.info, .debug])
    }

    /// A player who stops reading is closed with 4000 once its queue is full (16 frames here).
    @Test("Room sockets closed for falling behind: the first at notice, the next at debug")
    func slowClients() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 16
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        let records = RecordedLogs()
        try await withRelayServer(
            limits: limits, logger: Logger(label: "test") { _ in records },
            configure: { $0.repeatedCloseLogInterval = .seconds(3600) }
        ) { port, _ in
            let padding = String(repeating: "p", count: 4000)
            for room in 0..<2 {
                let host = TestSocket.connect(port: port)
                let code = try await host.createRoom(named: "Stalled \(room)")
                let stalled = try await StalledClient.joining(port: port, code: code)
                _ = try await host.expect("player_joined")
                // 1.2 MB it never reads: more than its socket holds and 16 frames.
                for index in 0..<300 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
                _ = try await host.skip(until: "player_disconnected", timeout: .seconds(120))
                stalled.hangUp()  // else the server's stop would wait for it
            }
            try await eventually { Self.levels(of: "relay.connection.too_slow", in: records).count == 2 }
        }
        #expect(Self.levels(of: "relay.connection.too_slow", in: records) == [.notice, .debug])
        #expect(Self.levels(of: "relay.outbound.server_budget_full", in: records).isEmpty)
    }

    @Test("Answers cut off, the client not taking them: the first at info, the next at debug")
    func answersCutOff() async throws {
        try await withTemporaryDirectory { images in
            _ = try SlowAnswerTests.image(2, bytes: 2_000_000, in: images)
            let records = RecordedLogs()
            try await withRelayServer(
                logger: Logger(label: "test") { _ in records },
                configure: {
                    $0.repeatedCloseLogInterval = .seconds(3600)
                    $0.bossImagesDirectory = images
                    $0.limits.idleTimeout = .seconds(1)
                    $0.limits.slowAnswerGrace = .seconds(1)
                    $0.limits.minAnswerBytesPerSecond = 0
                }
            ) { port, _ in
                // Two clients that ask for the image and never read; each stalls its answer.
                let stalled = try (0..<2).map { _ in
                    try socketWithRequest(port: port, SlowAnswerTests.request(2), receiveBuffer: 4096)
                }
                defer { for descriptor in stalled { close(descriptor) } }
                try await eventually { Self.levels(of: "http.answer.cut_off", in: records).count == 2 }
            }
            #expect(Self.levels(of: "http.answer.cut_off", in: records) == [.info, .debug])
        }
    }
}

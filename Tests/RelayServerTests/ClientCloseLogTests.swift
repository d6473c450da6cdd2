import Foundation
import Logging
import RecordedLogs
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

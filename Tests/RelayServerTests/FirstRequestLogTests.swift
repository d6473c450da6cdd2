import Foundation
import Logging
import RecordedLogs
import Testing

@testable import RelayServer

/// A connection closed before its first request came whole says why in the debug log, in words
/// (NIO's own error reads "Inappropriate operation for state" whatever the cause).
@Suite("Logs of connections without a first request")
struct FirstRequestLogTests {
    static func entries(_ message: String, in records: RecordedLogs) -> [RecordedLogs.Entry] {
        records.entries.filter { $0.message == message }
    }

    @Test("A client that sends nothing: the request timeout, then the connection, are logged")
    func timedOut() async throws {
        let records = RecordedLogs()
        try await withRelayServer(
            logger: Logger(label: "test") { _ in records }, configure: { $0.limits.idleTimeout = .seconds(1) }
        ) { port, _ in
            let (_, serverClosed, _) = try await rawExchangeUntilClosed(port: port, "")
            #expect(serverClosed)
            try await eventually { !Self.entries("relay.connection.no_first_request", in: records).isEmpty }
        }
        // The test client's own connection, idle too, may be among them.
        let timeouts = Self.entries("http.request.timed_out", in: records)
        #expect(!timeouts.isEmpty && timeouts.allSatisfy { $0.metadata == ["timeout.seconds": "1.0"] })
        let closes = Self.entries("relay.connection.no_first_request", in: records)
        #expect(!closes.isEmpty && closes.allSatisfy { $0.metadata == ["error": "closed before a whole request came"] })
    }

    @Test("A client that resets the connection partway through its head")
    func resetHalfway() async throws {
        let records = RecordedLogs()
        try await withRelayServer(logger: Logger(label: "test") { _ in records }) { port, _ in
            let descriptor = try socketWithRequest(port: port, "GET /api/rooms HTTP/1.1\r\nHost: a\r\n")
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            // Time for the server to read the part (whether it did, the error is the same).
            try await Task.sleep(for: .milliseconds(200))
            close(descriptor)
            try await eventually { !Self.entries("relay.connection.no_first_request", in: records).isEmpty }
        }
        let closes = Self.entries("relay.connection.no_first_request", in: records)
        #expect(!closes.isEmpty && closes.allSatisfy { $0.metadata == ["error": "closed before a whole request came"] })
    }
}

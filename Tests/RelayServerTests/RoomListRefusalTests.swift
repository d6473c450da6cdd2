import Testing

@testable import RelayServer

/// What a client refused a room list is told.
@Suite("Room-list refusals")
struct RoomListRefusalTests {
    /// A 429 for room lists carries the CORS and security headers every other answer has.
    @Test("A room-list 429 carries CORS and security headers")
    func refusalHasTheHeaders() async throws {
        let request =
            "GET /api/rooms HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            $0.limits.roomListsPerAddress = .roomLists(bytesPerSecond: 0.001)
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            _ = try await rawExchange(port: port, request, from: "127.0.0.2")
            let refused = try await rawExchange(port: port, request, from: "127.0.0.2").lowercased()
            #expect(refused.hasPrefix("http/1.1 429"), "\(refused)")
            #expect(refused.contains("\r\naccess-control-allow-origin: http://localhost:3000\r\n"), "\(refused)")
            #expect(refused.contains("\r\nx-content-type-options: nosniff\r\n"), "\(refused)")
        }
    }

    /// Retry-After must say when the address is out of debt: here a 2-byte list against a
    /// 1-byte burst at 0.5 bytes a second leaves one byte of debt, two seconds.
    @Test("Retry-After says how long the address's debt lasts")
    func retryAfterIsTheDebt() async throws {
        let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try await withRelayServer(configure: {
            $0.limits.roomListsPerAddress = .roomLists(bytesPerSecond: 0.5)  // a burst of one byte
            $0.clientAddresses = ClientAddressPolicy(trustedProxies: .none, countsLoopback: true)
        }) { port, _ in
            let first = try await rawExchange(port: port, request, from: "127.0.0.2")
            #expect(first.hasSuffix("\r\n\r\n[]"), "\(first)")  // 2 bytes: 1 in debt
            let refused = try await rawExchange(port: port, request, from: "127.0.0.2")
            #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused)")
            #expect(refused.lowercased().contains("\r\nretry-after: 2\r\n"), "\(refused)")
        }
    }
}

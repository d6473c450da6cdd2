import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// ``peerHasReadEverything(_:)``, which tests use to wait until the relay has read a request.
@Suite("A test's view of what its peer has read")
struct PeerHasReadTests {
    @Test("False while the listener has not read the bytes sent (or accepted), true once it has")
    func peerRead() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound)
        let client = try socketWithRequest(port: Int(UInt16(bigEndian: address.sin_port)), "hello", seconds: 1)
        defer { close(client) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!peerHasReadEverything(client), "sent, not accepted")
        let accepted = accept(listener, nil, nil)
        defer { close(accepted) }
        #expect(!peerHasReadEverything(client), "accepted, not read")
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(accepted, &buffer, buffer.count) == 5)
        #expect(peerHasReadEverything(client))
    }
}

import ChildProcess
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
        let (listener, port) = try boundLoopbackSocket(listening: 4)
        defer { close(listener) }
        let client = try socketWithRequest(port: port, "hello", seconds: 1)
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

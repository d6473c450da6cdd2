import Foundation
import Testing

@testable import RelayServer

/// What the server reads of a request it is not handling yet waits in its memory; the rest must
/// wait in TCP, on the client's side.
@Suite("Request bytes held behind an answer")
struct HeldRequestBytesTests {
    /// The server's input queue counted request parts, not bytes, and a part could hold four
    /// socket reads: 1.5 to 2.6 MiB of such a body per connection, hundreds of MiB from one
    /// address's 256 connections.
    ///
    /// Sometimes the kernel and the server's buffer take the whole image, the server goes on to
    /// the post, refuses its body (413) and closes: nothing is held then. Tried until it is held
    /// back at least once.
    @Test("A body streamed behind an answer its client does not read is held to a few hundred KiB")
    func bodyBehindAnUnreadAnswerWaitsInTCP() async throws {
        // No cut-off for the answer that stalls: the client stops reading it on purpose.
        try await SlowAnswerTests.withImage(1, bytes: 8_000_000, timeout: .seconds(60), minimumRate: 0) { port, _ in
            var heldBack: [Int] = []
            for _ in 0..<8 where heldBack.isEmpty {
                if let held = try await onOwnThread({ try Self.bytesReadBehindAStalledAnswer(port: port) }) {
                    heldBack.append(held)
                }
            }
            try #require(!heldBack.isEmpty, "the server answered every post")
            #expect(heldBack.allSatisfy { $0 < 512 * 1024 }, "bytes of the body the server read: \(heldBack)")
        }
    }

    /// Asks for the image and, pipelined behind it, posts a chunked body it streams until TCP takes
    /// no more for a second, reading nothing; returns how much of the body the server has read,
    /// or nil if the server answered the post (it resets the connection).
    private static func bytesReadBehindAStalledAnswer(port: Int) throws -> Int? {
        let descriptor = try loopbackSocket(port: port, receiveBuffer: 4096)
        defer { close(descriptor) }
        let head = Array(
            (SlowAnswerTests.request(1)
                + "POST /api/save_game HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").utf8)
        guard send(descriptor, head, head.count, Int32(MSG_NOSIGNAL)) == head.count else {
            throw StalledClientError.write
        }
        let chunk = Array("10000\r\n\(String(repeating: "x", count: 65_536))\r\n".utf8)
        var sent = 0
        var lastTaken = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now - lastTaken < .seconds(1), ContinuousClock.now < deadline {
            let count = send(descriptor, chunk, chunk.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if count > 0 {
                sent += count
                lastTaken = .now
            } else {
                if errno == ECONNRESET || errno == EPIPE { return nil }
                guard errno == EAGAIN else {
                    Issue.record("send: errno \(errno) after \(sent) bytes of the body")
                    throw StalledClientError.write
                }
                usleep(10_000)
            }
        }
        var unsent: Int32 = 0
        guard ioctl(descriptor, UInt(TIOCOUTQ), &unsent) == 0 else { throw StalledClientError.socket }
        let unread = try Self.receiveQueue(ofServerPort: port, peerPort: try Self.localPort(of: descriptor))
        return sent - Int(unsent) - unread
    }

    private static func localPort(of descriptor: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw StalledClientError.socket }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The bytes waiting unread in the server's end of the connection, from `/proc/net/tcp`
    /// (`local:port remote:port state tx_queue:rx_queue`, in hexadecimal).
    private static func receiveQueue(ofServerPort port: Int, peerPort: Int) throws -> Int {
        // Read until its end: a `/proc` table says its size is 0, and one read gives a page of it.
        let file = open("/proc/net/tcp", O_RDONLY)
        guard file >= 0 else { throw StalledClientError.socket }
        defer { close(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while case let count = read(file, &buffer, buffer.count), count > 0 { bytes += buffer[..<count] }
        let table = String(decoding: bytes, as: UTF8.self)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let local = fields[1].split(separator: ":")
            let remote = fields[2].split(separator: ":")
            guard local.count == 2, remote.count == 2, Int(local[1], radix: 16) == port,
                Int(remote[1], radix: 16) == peerPort
            else { continue }
            let queues = fields[4].split(separator: ":")
            return try #require(queues.count == 2 ? Int(queues[1], radix: 16) : nil, "\(line)")
        }
        Issue.record("no server socket for peer port \(peerPort) in /proc/net/tcp")
        throw StalledClientError.socket
    }
}

import ChildProcess
import Foundation
import Synchronization
import Testing

/// A WebSocket client on a raw socket that completes the handshake, sends hand-made frames,
/// and reads only when asked: the slow consumer of the tests, a client with any headers, and
/// one that speaks the protocol wrongly on purpose.
final class StalledClient: @unchecked Sendable {
    // Unchecked: the descriptor is written once in init and only used by the one test that owns it.
    private let descriptor: Int32

    /// Connects and completes the handshake on a thread of its own: the blocking socket
    /// calls must not occupy the cooperative pool the in-process server also needs.
    /// `early` messages, then `earlyBytes`, go out in the same write as the handshake request,
    /// before its answer. `maxSegmentSize` 1,400 keeps the server's kernel from taking megabytes
    /// at once (see ``loopbackSocket(port:receiveBuffer:maxSegmentSize:from:)``); `source` is the
    /// loopback address it connects from.
    static func connect(
        port: Int, path: String, extraHeaders: String = "", early: [String] = [], earlyBytes: [UInt8] = [],
        maxSegmentSize: Int32? = nil, from source: String? = nil
    ) async throws -> StalledClient {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try StalledClient(
                            port: port, path: path, extraHeaders: extraHeaders,
                            early: early.flatMap(Self.frame) + earlyBytes, maxSegmentSize: maxSegmentSize,
                            source: source)
                    })
            }
            thread.start()
        }
    }

    private init(
        port: Int, path: String, extraHeaders: String, early: [UInt8], maxSegmentSize: Int32?, source: String?
    ) throws {
        // A small receive buffer, so that a client that stops reading holds the server up soon.
        self.descriptor = try loopbackSocket(
            port: port, receiveBuffer: 4096, maxSegmentSize: maxSegmentSize, from: source)
        try self.write(
            Array(rawUpgradeRequest(path: path, host: "127.0.0.1:\(port)", extraHeaders: extraHeaders).utf8) + early)
        // Read the handshake answer only; frames are read when asked (`readFrame`).
        let response = try readAnswerHead(self.descriptor)
        guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            // A refusal: its body too, as long as its Content-Length says.
            let head = Refusal(text: String(decoding: response, as: UTF8.self))
            let body = try self.readExactly(head.header("Content-Length").flatMap { Int($0) } ?? 0) ?? []
            throw StalledClientError.refused(Refusal(text: head.text + String(decoding: body, as: UTF8.self)))
        }
    }

    /// The server's answer to an upgrade it refused: its status, headers and body.
    struct Refusal: Sendable {
        /// The whole answer, as sent.
        let text: String

        private var parts: (head: Substring, body: Substring) {
            guard let end = self.text.range(of: "\r\n\r\n") else { return (self.text[...], "") }
            return (self.text[..<end.lowerBound], self.text[end.upperBound...])
        }

        /// 403, 404, …
        var status: Int? { self.text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } }

        var body: String { String(self.parts.body) }

        /// A header's value (names compared without case).
        func header(_ name: String) -> String? {
            for line in self.parts.head.split(separator: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() else {
                    continue
                }
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return nil
        }
    }

    /// How the server refused an upgrade. An upgrade that succeeds, or fails some other way
    /// (connect, no answer), is an issue and nil: a refusal must be the server's answer, not any
    /// error on the way.
    static func refusal(
        port: Int, path: String, extraHeaders: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) async -> Refusal? {
        do {
            _ = try await Self.connect(port: port, path: path, extraHeaders: extraHeaders)
            Issue.record("the upgrade of \(path) was accepted", sourceLocation: sourceLocation)
        } catch StalledClientError.refused(let refusal) {
            return refusal
        } catch {
            Issue.record("the upgrade of \(path) failed before an answer: \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// A raw client that joins room `code` as "Guest" in the same write as its handshake, `earlyBytes` after.
    static func joining(port: Int, code: String, earlyBytes: [UInt8] = []) async throws -> StalledClient {
        try await Self.connect(
            port: port, path: "/ws/room/\(code)",
            early: [#"{"type":"join_room","room_id":"\#(code)","player_name":"Guest"}"#], earlyBytes: earlyBytes)
    }

    /// Sends one masked text frame (mask key zero, so the payload goes as is).
    func send(_ text: String) throws {
        try self.write(Self.frame(text))
    }

    /// Sends bytes as they are (a hand-made frame).
    func sendRaw(_ bytes: [UInt8]) throws {
        try self.write(bytes)
    }

    /// A masked frame of up to 125 bytes (mask key zero, so the payload goes as is).
    static func frame(fin: Bool, opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126, "a short frame")
        return [(fin ? 0x80 : 0) | opcode, 0x80 | UInt8(payload.count), 0, 0, 0, 0] + payload
    }

    /// A masked text frame (mask key zero, so the payload goes as is).
    static func frame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame.append(contentsOf: [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)])
        }
        frame.append(contentsOf: [0, 0, 0, 0])
        return frame + payload
    }

    /// Sends FIN, as the system of a client that was killed would: no close frame.
    func shutdownWrite() {
        shutdown(self.descriptor, Int32(SHUT_WR))
    }

    /// Ends both directions: a reader of this client's then sees the end of the stream.
    func hangUp() {
        shutdown(self.descriptor, Int32(SHUT_RDWR))
    }

    /// A frame the server sent.
    struct Frame: Equatable, Sendable {
        var fin = true
        var opcode: UInt8
        var payload: [UInt8] = []

        /// The status code of a close frame.
        var closeCode: Int? {
            self.opcode == 8 && self.payload.count >= 2 ? Int(self.payload[0]) << 8 | Int(self.payload[1]) : nil
        }
    }

    /// Reads the server's next frame, on a thread of its own; nil when the server closed the
    /// connection. Fails after `seconds` without a byte (``rawClientPatienceSeconds`` by default).
    func readFrame(seconds: Int = rawClientPatienceSeconds) async throws -> Frame? {
        try await onOwnThread { try self.readFrameNow(seconds: seconds) }
    }

    /// ``readFrame(seconds:)``, answering a ping with its pong at once on the same thread: a pong
    /// sent once the test's task had a thread of the cooperative pool back could come after the
    /// server's next ping on a loaded machine, and the server then closed the connection.
    func readFrameAnsweringPing(seconds: Int = rawClientPatienceSeconds) async throws -> Frame? {
        try await onOwnThread {
            let frame = try self.readFrameNow(seconds: seconds)
            if let frame, frame.opcode == 9 { try self.write(Self.frame(fin: true, opcode: 10, frame.payload)) }
            return frame
        }
    }

    /// Starts reading frames until the server closes the connection, pausing `pause` after each,
    /// on a thread of its own started now (not when a task of the shared pool gets to it): a
    /// client working through a backlog at its own pace. ``SlowReading/frames()`` gives what it
    /// read, in order; a reset ends the reading as an end of stream does.
    func startReadingSlowly(pausing pause: Duration) -> SlowReading {
        let (whole, attoseconds) = pause.components
        let micros = useconds_t(whole * 1_000_000 + attoseconds / 1_000_000_000_000)
        let reading = SlowReading()
        Thread {
            var frames: [Frame] = []
            while let frame = try? self.readFrameNow(seconds: rawClientPatienceSeconds) {
                frames.append(frame)
                usleep(micros)
            }
            reading.finish(frames)
        }.start()
        return reading
    }

    /// What ``startReadingSlowly(pausing:)`` read, once the connection has ended.
    final class SlowReading: Sendable {
        private let state = Mutex<(frames: [Frame]?, waiter: CheckedContinuation<[Frame], Never>?)>((nil, nil))

        fileprivate func finish(_ frames: [Frame]) {
            let waiter = self.state.withLock { state in
                state.frames = frames
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: frames)
        }

        func frames() async -> [Frame] {
            await withCheckedContinuation { continuation in
                let frames = self.state.withLock { state -> [Frame]? in
                    if state.frames == nil { state.waiter = continuation }
                    return state.frames
                }
                if let frames { continuation.resume(returning: frames) }
            }
        }
    }

    /// Reads frames on a thread of its own until the connection ends: whether the server ended
    /// it (an end of stream or a reset), rather than `seconds` passing without a byte. Timed on
    /// that thread, so a stall of the test's task between frames cannot pass for a socket left open.
    func readsToTheEnd(seconds: Int) async throws -> Bool {
        try await onOwnThread {
            do {
                while try self.readFrameNow(seconds: seconds) != nil {}
                return true
            } catch StalledClientError.timedOut {
                return false
            } catch StalledClientError.read {
                return true
            }
        }
    }

    private func readFrameNow(seconds: Int) throws -> Frame? {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let head = try self.readExactly(2) else { return nil }
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            guard let extended = try self.readExactly(2) else { return nil }
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            guard let extended = try self.readExactly(8) else { return nil }
            length = extended.reduce(0) { $0 << 8 | Int($1) }
        }
        guard let payload = try self.readExactly(length) else { return nil }
        return Frame(fin: head[0] & 0x80 != 0, opcode: head[0] & 0x0F, payload: payload)
    }

    /// `count` bytes; nil at the end of the stream.
    private func readExactly(_ count: Int) throws -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = bytes[offset...].withUnsafeMutableBytes { read(self.descriptor, $0.baseAddress, $0.count) }
            if received == 0 { return nil }
            guard received > 0 else {
                throw errno == EAGAIN || errno == EWOULDBLOCK ? StalledClientError.timedOut : StalledClientError.read
            }
            offset += received
        }
        return bytes
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { throw StalledClientError.write }
            offset += written
        }
    }

    deinit { close(self.descriptor) }
}

/// A loopback socket that has sent a score's head and one byte of its 100-byte body, once the
/// server has read them: an upload stalled mid-body, which a graceful stop waits for (up to its
/// 5 s limit). The caller closes it.
func stalledUpload(port: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int32 {
    let upload = try loopbackSocket(port: port)
    let head =
        "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
        + "Content-Length: 100\r\n\r\n{"
    _ = head.withCString { send(upload, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    do {
        try await eventually(sourceLocation: sourceLocation) { peerHasReadEverything(upload) }
    } catch {
        close(upload)
        throw error
    }
    return upload
}

/// Whether bytes wait unread in `descriptor` (they are left there).
func hasBytesWaiting(_ descriptor: Int32) -> Bool {
    var byte: UInt8 = 0
    return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
}

/// Whether the process at the other end of loopback socket `descriptor` has read everything sent to
/// it: every byte sent has been acknowledged (our side's send queue in `/proc/net/tcp` is empty, so
/// none is still on its way) and their side holds none unread (a connection not yet accepted is
/// listed too, with its bytes unread).
func peerHasReadEverything(_ descriptor: Int32) -> Bool {
    guard let (oursText, theirsText) = loopbackPorts(of: descriptor), let table = procFile("/proc/net/tcp") else {
        return false
    }
    /// The (send, receive) queues of the established side whose local port is `local`.
    func queues(local: String, remote: String) -> (sent: Int, unread: Int)? {
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // State 01: established (not an earlier connection's TIME_WAIT on the same ports).
            guard fields.count > 4, fields[1].hasSuffix(local), fields[2].hasSuffix(remote), fields[3] == "01" else {
                continue
            }
            let counts = fields[4].split(separator: ":").compactMap { Int($0, radix: 16) }
            return counts.count == 2 ? (counts[0], counts[1]) : nil
        }
        return nil
    }
    guard let our = queues(local: oursText, remote: theirsText), our.sent == 0,
        let their = queues(local: theirsText, remote: oursText)
    else { return false }
    return their.unread == 0
}

/// Whether the process at the other end of loopback socket `descriptor` still has its socket open:
/// one it has closed may still be listed, held by the kernel alone (inode 0) while it finishes
/// the TCP close, as after a half-close of its own (`FIN_WAIT2`).
func peerHoldsSocket(_ descriptor: Int32) -> Bool {
    guard let (oursText, theirsText) = loopbackPorts(of: descriptor), let table = procFile("/proc/net/tcp") else {
        return false
    }
    return table.split(separator: "\n").dropFirst().contains { line in
        let fields = line.split(separator: " ")  // "sl local rem st queues timer retransmits uid timeout inode …"
        return fields.count > 9 && fields[1].hasSuffix(theirsText) && fields[2].hasSuffix(oursText) && fields[9] != "0"
    }
}

/// The local and remote ports of an IPv4 socket as `/proc/net/tcp` writes them (`:1F40`).
private func loopbackPorts(of descriptor: Int32) -> (ours: String, theirs: String)? {
    func port(_ name: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { name(descriptor, $0, &length) }
        }
        return result == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
    guard let ours = port(getsockname), let theirs = port(getpeername) else { return nil }
    return (String(format: ":%04X", ours), String(format: ":%04X", theirs))
}

/// An answer's head, read a byte at a time from blocking `descriptor` up to its blank line, so that
/// nothing after it (the frames that follow a 101) is taken; throws ``StalledClientError/handshake``
/// if the connection ends first.
func readAnswerHead(_ descriptor: Int32) throws -> [UInt8] {
    var head: [UInt8] = []
    var byte: UInt8 = 0
    while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
        guard read(descriptor, &byte, 1) == 1 else { throw StalledClientError.handshake }
        head.append(byte)
    }
    return head
}

/// A blocking TCP socket connected to `port` on 127.0.0.1, optionally with a receive buffer size, a
/// segment size to announce (1,400 makes the server send as over the internet: with loopback's
/// 64 KB segments its kernel takes megabytes of an answer at once), and from another loopback
/// address than 127.0.0.1.
func loopbackSocket(
    port: Int, receiveBuffer: Int32? = nil, maxSegmentSize: Int32? = nil, from source: String? = nil
) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw StalledClientError.socket }
    if var size = receiveBuffer {
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    if var size = maxSegmentSize {
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_MAXSEG, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    if let source {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw StalledClientError.connect
        }
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(descriptor)
        throw StalledClientError.connect
    }
    return descriptor
}

enum StalledClientError: Error {
    case socket, connect, handshake, write, read
    /// No byte came within the patience set (`SO_RCVTIMEO`).
    case timedOut
    case refused(StalledClient.Refusal)
}

/// How long the raw clients here wait for a byte before they give up (`SO_RCVTIMEO`), in seconds:
/// a bound on a hang, not a speed check, as the whole suite starts a new task of the in-process
/// server may wait ~20 s for a thread. Where a test must tell the server's close from the client
/// giving up, it looks at `serverClosed`, and at ``closedAtOnce`` if the close must not be the
/// server's own HTTP timeout.
let rawClientPatienceSeconds = 30

/// A connection that the server closed within this long of the connect was closed at once, not
/// left to the in-process server's HTTP timeout (90 s in ``withRelayServer``), which ends whatever
/// it leaves open. Long, as a loaded run has held the server's tasks for ~20 s. What tells a close
/// from a socket left open is `serverClosed` (false: the client gave up after
/// ``rawClientPatienceSeconds`` without a byte); this bound says the close was not that timeout's.
let closedAtOnce: Duration = .seconds(2 * rawClientPatienceSeconds)

/// Runs blocking socket code on a thread of its own, off the cooperative pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A loopback socket that gives up reading after `seconds` without a byte, with `request` written to it.
func socketWithRequest(
    port: Int, _ request: String, receiveBuffer: Int32? = nil, seconds: Int = rawClientPatienceSeconds,
    from source: String? = nil
) throws -> Int32 {
    let descriptor = try loopbackSocket(port: port, receiveBuffer: receiveBuffer, from: source)
    var timeout = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    guard bytes.isEmpty || send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
        close(descriptor)
        throw StalledClientError.write
    }
    return descriptor
}

/// Reads until the peer closes (or the receive timeout passes), handing each chunk to `take`.
/// - Returns: whether the peer closed (an end of input or a reset), not the receive timeout.
@discardableResult
func readUntilClosed(_ descriptor: Int32, _ take: (ArraySlice<UInt8>) -> Void) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) }
        take(buffer[..<count])
    }
}

/// ``readUntilClosed(_:_:)`` collecting what the peer sent, as text.
func readTextUntilClosed(_ descriptor: Int32) -> (text: String, peerClosed: Bool) {
    var received: [UInt8] = []
    let peerClosed = readUntilClosed(descriptor) { received += $0 }
    return (String(decoding: received, as: UTF8.self), peerClosed)
}

/// A WebSocket upgrade request, as a client writes it (the key is RFC 6455's example).
func rawUpgradeRequest(path: String = "/ws/room/new", host: String = "127.0.0.1", extraHeaders: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extraHeaders)\r\n"
}

/// Writes `request` to a plain socket (from `source`, a loopback address, if given) and returns
/// everything the server sends until it closes (or ``rawClientPatienceSeconds`` pass without a
/// byte). With `halfClose`, the client shuts its side down after the request, as `nc -N` does.
func rawExchange(
    port: Int, _ request: String, from source: String? = nil, receiveBuffer: Int32? = nil, halfClose: Bool = false
) async throws -> String {
    try await onOwnThread {
        let descriptor = try socketWithRequest(port: port, request, receiveBuffer: receiveBuffer, from: source)
        defer { close(descriptor) }
        if halfClose { shutdown(descriptor, Int32(SHUT_WR)) }
        return readTextUntilClosed(descriptor).text
    }
}

/// ``rawExchange(port:_:from:receiveBuffer:halfClose:)``, saying also whether the server closed the
/// connection (`false`: the client gave up after ``rawClientPatienceSeconds`` without a byte) and
/// when, from before the connect.
func rawExchangeUntilClosed(
    port: Int, _ request: String, from source: String? = nil
) async throws
    -> (answer: String, serverClosed: Bool, elapsed: Duration)
{
    try await onOwnThread {
        let start = ContinuousClock.now
        let descriptor = try socketWithRequest(port: port, request, from: source)
        defer { close(descriptor) }
        let (answer, serverClosed) = readTextUntilClosed(descriptor)
        return (answer, serverClosed, ContinuousClock.now - start)
    }
}

/// What ``trickleExchange(port:whole:chunks:every:)`` saw.
struct TrickleExchange {
    enum ClosedBy { case server, client }
    /// Everything the server sent.
    let received: String
    /// Bytes of the trickled part written before the connection closed.
    let sentBytes: Int
    let closedBy: ClosedBy
    /// From the first write until the server closed, or until everything was sent and read.
    let elapsed: Duration
}

/// Writes `whole` to a plain socket at once, then `chunks` one at a time `every` apart, reading
/// whatever the server sends meanwhile; stops early if the server closes. After the last chunk
/// it reads for up to a second more (answers still on their way), then closes.
func trickleExchange(
    port: Int, whole: String, chunks: [String], every interval: Duration
) async throws -> TrickleExchange {
    try await onOwnThread {
        let start = ContinuousClock.now
        let descriptor = try socketWithRequest(port: port, whole)
        defer { close(descriptor) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        /// Reads what is there; false once the server has closed.
        func drain(waitingUpTo milliseconds: Int32) -> Bool {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            while poll(&poller, 1, milliseconds) > 0 {
                let count = read(descriptor, &buffer, buffer.count)
                guard count > 0 else { return false }
                received += buffer[..<count]
            }
            return true
        }
        func finish(_ sent: Int, _ closedBy: TrickleExchange.ClosedBy) -> TrickleExchange {
            TrickleExchange(
                received: String(decoding: received, as: UTF8.self), sentBytes: sent, closedBy: closedBy,
                elapsed: ContinuousClock.now - start)
        }
        var sent = 0
        for chunk in chunks.map({ Array($0.utf8) }) {
            guard drain(waitingUpTo: Int32(interval / .milliseconds(1))) else { return finish(sent, .server) }
            guard send(descriptor, chunk, chunk.count, Int32(MSG_NOSIGNAL)) == chunk.count else {
                return finish(sent, .server)
            }
            sent += chunk.count
        }
        return drain(waitingUpTo: 1_000) ? finish(sent, .client) : finish(sent, .server)
    }
}

/// ``trickleExchange(port:whole:chunks:every:)`` with `trickled` sent a byte at a time.
func trickleExchange(
    port: Int, whole: String, trickled: String, every interval: Duration
) async throws -> TrickleExchange {
    try await trickleExchange(port: port, whole: whole, chunks: trickled.map { String($0) }, every: interval)
}

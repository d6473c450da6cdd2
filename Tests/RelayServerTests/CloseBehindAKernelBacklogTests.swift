import ChildProcess
import Foundation
import Relay
import Synchronization
import Testing

/// A close frame of the server's own behind a backlog that the kernels hold, not NIO. The server's
/// kernel holds at most ``RoomSocketHandler/kernelUnsentBytes`` of it unsent (it took megabytes
/// before that cap), but on loopback, with its 64 KB segments, a client's own kernel may take
/// megabytes at once (a 4 MiB receive buffer here), so the close frame reaches it, and its grace
/// period starts, while the client still has seconds of updates to read. The game's client goes on sending meanwhile (60 `player_state`s a
/// second), and Linux answers bytes that reach a socket closed in full with a reset, which drops
/// what the server's kernel still held: the client sees 1006, not the close code. So the server
/// must not close the socket in full while the client still reads what comes before the close
/// frame. ``CloseBehindABacklogTests`` keeps its backlog in NIO (1,400-byte segments) and sends
/// nothing while it reads: it cannot see this.
@Suite("Close frames behind a backlog the kernel holds")
struct CloseBehindAKernelBacklogTests {
    static let updates = 120

    /// The host is replaced (4001) with ``updates`` updates of 30 KB (3.6 MB) queued, most of them
    /// in the server's kernel. It reads them no faster than one every 25 ms (three times the 1 s
    /// grace at least), and sends a `player_state` every 50 ms all along, as the game does, whether
    /// or not the sends go through. A reset before the close frame fails it, saying how far it got.
    /// With the system's receive buffer most of it waits in the server's queue; with a 4 MiB one
    /// the client's own kernel takes nearly all of it at once, and the client reads on for seconds.
    @Test(
        "A client still reading and sending when the server replaces it gets its whole backlog, then 4001",
        arguments: [nil, 4 << 20] as [Int32?])
    func replacedClientGetsItsBacklogThenTheClose(receiveBuffer: Int32?) async throws {
        try await withRelayServer(limits: CloseBehindABacklogTests.limits) { port, _ in
            let (host, created, guest) = try await Self.hostWithABacklog(port: port, receiveBuffer: receiveBuffer)
            defer { guest.close() }
            let held = host.serverSendQueue(serverPort: port)
            // Reading and sending first, on threads of their own: a test task that came late to read
            // after the close looks like a client that stopped (see CloseBehindABacklogTests).
            let reading = host.startReadingSlowly(
                pausing: .milliseconds(25), sendingEvery: .milliseconds(50), giveUpAfter: .seconds(60))
            try await CloseBehindABacklogTests.replace(created, port: port)
            var finished: GameClient.Reading?
            for await result in reading { finished = result }
            let outcome = try #require(finished)

            let heldText = held.map { "\($0) bytes" } ?? "an unknown number of bytes"
            let summary =
                "\(outcome.updates) of \(Self.updates) updates came in \(outcome.elapsed); the server's kernel held "
                + "\(heldText) before the close; \(outcome.failedSends) of \(outcome.sends) sends failed"
            switch outcome.ending {
            case .closeFrame(let code):
                let codeText = code.map { String($0) } ?? "no code"
                #expect(code == 4001, "the close frame said \(codeText), not 4001: \(summary)")
            case .failed(let error) where error == ECONNRESET:
                Issue.record("the connection was reset before the close frame: \(summary)")
            case .failed(let error):
                Issue.record("a read failed (errno \(error)) before the close frame: \(summary)")
            case .endOfStream:
                Issue.record("the connection ended without a close frame: \(summary)")
            case .timedOut:
                Issue.record("no byte came for \(rawClientPatienceSeconds) s before the close frame: \(summary)")
            case .gaveUp:
                Issue.record("no close frame within 60 s: \(summary)")
            }
            #expect(outcome.updates == Self.updates, "\(summary)")
        }
    }

    /// The other side of it: a client that takes nothing is hung up a grace period after the close
    /// frame has been written, as before, not held until the drain's limit (60 s here) while the
    /// server's kernel holds its backlog. It never reads, and sends a `player_state` every 50 ms
    /// until a send fails: the server's hang-up answers the next one with a reset.
    @Test("A client that reads none of a backlog the kernel holds is hung up, not held to the drain's limit")
    func aClientThatReadsNothingIsHungUp() async throws {
        try await withRelayServer(limits: CloseBehindABacklogTests.limits) { port, _ in
            let (host, created, guest) = try await Self.hostWithABacklog(port: port, receiveBuffer: nil)
            defer { guest.close() }
            let replaced = ContinuousClock.now
            try await CloseBehindABacklogTests.replace(created, port: port)
            let refused = try await onOwnThread {
                host.sendUntilRefused(every: .milliseconds(50), until: replaced + .seconds(30))
            }
            #expect(refused, "the server still took the client's bytes 30 s after it replaced it")
        }
    }

    /// ``CloseBehindABacklogTests/hostWithABacklog(port:)`` with the kernel's own segment size and
    /// its own receive buffer or `receiveBuffer`: the kernels take what they may of the backlog,
    /// the server's queue keeps the rest.
    static func hostWithABacklog(
        port: Int, receiveBuffer: Int32?
    ) async throws -> (host: GameClient, created: [String: Any], guest: TestSocket) {
        let host = try await onOwnThread {
            try GameClient(
                port: port, path: "/ws/room/new", receiveBuffer: receiveBuffer,
                early: #"{"type":"create_room","room_name":"Backlog","player_name":"Host"}"#)
        }
        var created: [String: Any] = [:]
        while created["type"] as? String != "room_created" {
            let frame = try await onOwnThread {
                try host.readFrame(until: ContinuousClock.now + .seconds(rawClientPatienceSeconds))
            }
            created = try #require(try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
        }
        let guest = try await CloseBehindABacklogTests.guestQueueing(Self.updates, updatesFor: created, port: port)
        return (host, created, guest)
    }

    /// A game client on a raw loopback socket with the kernel's segment size and default receive
    /// buffer (or one given): it reads the server's frames on one thread, and sends its own on another.
    final class GameClient: @unchecked Sendable {
        // Unchecked: the descriptor is written once in init; the reading and the sending threads
        // each use one direction of it, and it is closed once both have let go of the client.
        private let descriptor: Int32
        private let stopsSending = Atomic<Bool>(false)
        /// The sending thread runs.
        private let isSending = Atomic<Bool>(false)
        private let sends = Atomic<Int>(0)
        private let failedSends = Atomic<Int>(0)

        /// A `player_state` as the game sends 60 times a second (a masked frame).
        static let state = StalledClient.frame(#"{"type":"player_state","state":{"x":2}}"#)

        /// How the reading ended.
        enum Ending: Error, Equatable, Sendable {
            /// The server's close frame came, with its code (nil: none).
            case closeFrame(Int?)
            /// The stream ended without a close frame.
            case endOfStream
            /// A read failed, with its `errno` (`ECONNRESET`: a reset).
            case failed(Int32)
            /// No byte came for a read's patience.
            case timedOut
            /// The reading's own limit passed.
            case gaveUp
        }

        /// What ``startReadingSlowly(pausing:sendingEvery:giveUpAfter:)`` saw.
        struct Reading: Sendable {
            /// `player_state_update` frames read.
            var updates = 0
            var ending = Ending.gaveUp
            /// From the reading's start to its end.
            var elapsed = Duration.zero
            /// `player_state`s sent meanwhile, and those the socket refused.
            var sends = 0
            var failedSends = 0
        }

        /// Connects and completes the handshake, `early` sent in the same write. Blocking: call it
        /// on a thread of its own.
        init(port: Int, path: String, receiveBuffer: Int32? = nil, early: String) throws {
            self.descriptor = try loopbackSocket(port: port, receiveBuffer: receiveBuffer)
            // A send waits no longer than this for room in the socket: the sender cannot hang.
            var sendPatience = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(self.descriptor, SOL_SOCKET, SO_SNDTIMEO, &sendPatience, socklen_t(MemoryLayout<timeval>.size))
            self.setReadPatience(seconds: rawClientPatienceSeconds)
            let request = Array(rawUpgradeRequest(path: path, host: "127.0.0.1:\(port)").utf8)
            guard self.sendAll(request + StalledClient.frame(early)) else { throw StalledClientError.write }
            let response = try readAnswerHead(self.descriptor)
            guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
                throw StalledClientError.handshake
            }
        }

        deinit { close(self.descriptor) }

        /// Starts reading frames, pausing `pause` after each, until the close frame, the end of
        /// the connection, or `limit`; and sending ``state`` every `interval` until the reading
        /// ends, a failed send counted, not stopping either. Both run on threads of their own,
        /// started now. Once the close frame has come, the client answers it, as a browser does.
        /// The stream gives one ``Reading``, then ends.
        func startReadingSlowly(
            pausing pause: Duration, sendingEvery interval: Duration, giveUpAfter limit: Duration
        ) -> AsyncStream<Reading> {
            let (results, result) = AsyncStream.makeStream(of: Reading.self)
            let deadline = ContinuousClock.now + limit
            self.isSending.store(true, ordering: .sequentiallyConsistent)
            Thread { self.sendStates(every: interval, until: deadline) }.start()
            Thread {
                var reading = self.readSlowly(pausing: pause, until: deadline)
                // Nothing else is written once the sender has stopped: the close answer goes out whole.
                self.stopsSending.store(true, ordering: .sequentiallyConsistent)
                while self.isSending.load(ordering: .sequentiallyConsistent) { usleep(1_000) }
                reading.sends = self.sends.load(ordering: .sequentiallyConsistent)
                reading.failedSends = self.failedSends.load(ordering: .sequentiallyConsistent)
                if case .closeFrame(let code?) = reading.ending {
                    let answer = [UInt8(truncatingIfNeeded: code >> 8), UInt8(truncatingIfNeeded: code)]
                    _ = self.sendAll(StalledClient.frame(fin: true, opcode: 8, answer))
                }
                result.yield(reading)
                result.finish()
            }.start()
            return results
        }

        /// Sends ``state`` every `interval` until a send fails (true) or `deadline` passes (false).
        /// Blocking: call it on a thread of its own.
        func sendUntilRefused(every interval: Duration, until deadline: ContinuousClock.Instant) -> Bool {
            while ContinuousClock.now < deadline {
                guard self.sendAll(Self.state) else { return true }
                Thread.sleep(forTimeInterval: interval / .seconds(1))
            }
            return false
        }

        private func sendStates(every interval: Duration, until deadline: ContinuousClock.Instant) {
            defer { self.isSending.store(false, ordering: .sequentiallyConsistent) }
            while !self.stopsSending.load(ordering: .sequentiallyConsistent), ContinuousClock.now < deadline {
                _ = self.sends.wrappingAdd(1, ordering: .sequentiallyConsistent)
                // The server may have ended its half, or reset the connection: the reading goes on.
                if !self.sendAll(Self.state) { _ = self.failedSends.wrappingAdd(1, ordering: .sequentiallyConsistent) }
                Thread.sleep(forTimeInterval: interval / .seconds(1))
            }
        }

        private func readSlowly(pausing pause: Duration, until deadline: ContinuousClock.Instant) -> Reading {
            let start = ContinuousClock.now
            var reading = Reading()
            while ContinuousClock.now < deadline {
                let frame: StalledClient.Frame
                do {
                    frame = try self.readFrame(until: deadline)
                } catch {
                    reading.ending = error as? Ending ?? .gaveUp
                    break
                }
                if frame.opcode == 8 {
                    reading.ending = .closeFrame(frame.closeCode)
                    break
                }
                if frame.opcode == 1, String(decoding: frame.payload, as: UTF8.self).contains("player_state_update") {
                    reading.updates += 1
                }
                Thread.sleep(forTimeInterval: pause / .seconds(1))
            }
            reading.elapsed = ContinuousClock.now - start
            return reading
        }

        /// The server's next frame; throws an ``Ending`` if none comes, waiting no later than
        /// `deadline` (a second at least, ``rawClientPatienceSeconds`` at most).
        func readFrame(until deadline: ContinuousClock.Instant) throws -> StalledClient.Frame {
            let left = Int((deadline - ContinuousClock.now).components.seconds)
            self.setReadPatience(seconds: min(max(left, 1), rawClientPatienceSeconds))
            let head = try self.readExactly(2)
            var length = Int(head[1] & 0x7F)
            if length == 126 {
                let extended = try self.readExactly(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                length = try self.readExactly(8).reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try self.readExactly(length)
            return StalledClient.Frame(fin: head[0] & 0x80 != 0, opcode: head[0] & 0x0F, payload: payload)
        }

        /// `count` bytes, or an ``Ending``: the stream's end, a failed read (a reset), no byte in time.
        private func readExactly(_ count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            var offset = 0
            while offset < count {
                let received = bytes[offset...].withUnsafeMutableBytes {
                    read(self.descriptor, $0.baseAddress, $0.count)
                }
                if received == 0 { throw Ending.endOfStream }
                guard received > 0 else {
                    let error = errno
                    if error == EINTR { continue }
                    throw error == EAGAIN || error == EWOULDBLOCK ? Ending.timedOut : Ending.failed(error)
                }
                offset += received
            }
            return bytes
        }

        /// Writes all of `bytes`, never raising `SIGPIPE`; false once the socket refuses them (the
        /// server ended its half or reset the connection, or the send waited its patience).
        private func sendAll(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard sent > 0 else { return false }
                offset += sent
            }
            return true
        }

        private func setReadPatience(seconds: Int) {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// Bytes the server's end of this connection holds in its kernel, sent or not, that this
        /// client has not acknowledged (the tx_queue of `/proc/net/tcp`); nil if it is not listed.
        func serverSendQueue(serverPort: Int) -> Int? {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(self.descriptor, $0, &length) }
            }
            guard named == 0, let table = procFile("/proc/net/tcp") else { return nil }
            /// A port as `/proc/net/tcp` writes it (`:1F40`).
            func hex(_ port: Int) -> String {
                let digits = String(port, radix: 16, uppercase: true)
                return ":" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
            }
            let (server, client) = (hex(serverPort), hex(Int(UInt16(bigEndian: address.sin_port))))
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")  // "sl local remote state tx_queue:rx_queue …"
                // State 01: established.
                guard fields.count > 4, fields[1].hasSuffix(server), fields[2].hasSuffix(client), fields[3] == "01"
                else { continue }
                return fields[4].split(separator: ":").first.flatMap { Int($0, radix: 16) }
            }
            return nil
        }
    }
}

import ChildProcess
import Foundation
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import Persistence
@testable import RelayServer

/// Runs `relay` as a child process: durability across SIGKILL, graceful SIGTERM, start-up errors.
@Suite("The relay process", .serialized)
struct ProcessLifecycleTests {
    private func startRelay(dataDirectory: String, extraArguments: [String] = []) throws -> ChildRelay {
        try ChildRelay(
            arguments: ["--port", "0", "--data-dir", dataDirectory] + extraArguments,
            environment: ["API_KEY": testAPIKey, "BOSS_IMAGES_DIR": dataDirectory]
        )
    }

    private func storedIDs(dataDirectory: String) async throws -> Set<Int64> {
        let store = try await SQLiteGameStore.open(
            PersistenceConfiguration(databasePath: ServerConfiguration.databasePath(in: dataDirectory)),
            logger: Logger(label: "check")
        )
        defer { Task { await store.close() } }
        return Set(try await store.leaderboard(limit: Int.max, gameMode: nil).map(\.id))
    }

    @Test("Every acknowledged score survives SIGKILL right after the burst")
    func acknowledgedScoresSurviveKill() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, extraArguments: ["--batch-window-ms", "2"])
            let port = try await relay.listeningPort()

            let acknowledged = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .patient) {
                            client in
                            var ids: [Int64] = []
                            for round in 0..<16 {
                                let response = try await client.post(
                                    "/api/scores", headers: keyed,
                                    body: scoreBody(name: "w\(worker)", score: worker * 100 + round), host: "127.0.0.1")
                                #expect(response.status == .ok)
                                let row = try #require(
                                    try JSONSerialization.jsonObject(with: Data(buffer: response.body!))
                                        as? [String: Any])
                                ids.append(Int64(try #require(row["id"] as? Int)))
                            }
                            return ids
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            relay.send(SIGKILL)
            _ = try await relay.exitStatus()

            #expect(acknowledged.count == 256)
            #expect(Set(acknowledged).count == 256)
            let stored = try await self.storedIDs(dataDirectory: directory)
            #expect(Set(acknowledged).isSubset(of: stored))
        }
    }

    @Test(
        "SIGTERM or SIGINT (Ctrl-C) closes the store and exits 0; what was acknowledged stays",
        arguments: [SIGTERM, SIGINT])
    func gracefulShutdown(signal: Int32) async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let id = try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .patient) { client in
                let response = try await client.post(
                    "/api/scores", headers: keyed, body: scoreBody(), host: "127.0.0.1")
                let row = try JSONSerialization.jsonObject(with: Data(buffer: response.body!)) as? [String: Any]
                return Int64(try #require(row?["id"] as? Int))
            }
            relay.send(signal)
            #expect(try await relay.exitStatus() == 0)
            #expect(relay.printed.contains("signal=\(signal) [Handlers] relay.stop.requested"), "\(relay.printed)")
            #expect(relay.printed.contains("persistence.closed"))
            #expect(try await self.storedIDs(dataDirectory: directory).contains(id))
        }
    }

    /// The HTTP server's stop waits for the answers of writes waiting out `--batch-window-ms`:
    /// they commit at once when the stop begins, instead of a minute later.
    @Test("SIGTERM commits a score waiting for its batch window at once, and answers it")
    func stopDoesNotWaitOutTheBatchWindow() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, extraArguments: ["--batch-window-ms", "60000"])
            let port = try await relay.listeningPort()
            let client = try socketWithRequest(port: port, Self.scoreRequest(name: "waiting"), seconds: 20)
            defer { close(client) }
            // Signalled once the request is read: its write waits in its batch, or is about to.
            let (answer, _) = try await Self.signalAndRead(relay, client) { peerHasReadEverything(client) }
            // Well within the window: the stop waited it out before.
            #expect(try await relay.exitStatus(timeout: .seconds(30)) == 0, "\(relay.printed)")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            let body = try #require(answer.range(of: "\r\n\r\n").map { answer[$0.upperBound...] })
            let row = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let id = try #require(row?["id"] as? Int)
            #expect(try await self.storedIDs(dataDirectory: directory).contains(Int64(id)))
        }
    }

    /// A `POST /api/scores` of one score under `name`, on a connection closed after its answer.
    private static func scoreRequest(name: String = "Tester") -> String {
        let body = String(buffer: scoreBody(name: name))
        return "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }

    /// A browser opens connections ahead of need. Such a connection has no handler that hears of
    /// the stop until its first request, so SIGTERM waited out the request deadline (30 s); and so
    /// it did for an upload stalled mid-body, which hummingbird counts as a request under way.
    @Test("SIGTERM does not wait for a connection that has sent no request, or only part of one")
    func shutdownClosesConnectionsWithoutARequest() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let listening = relay.openSockets
            let preconnected = try loopbackSocket(port: port)
            defer { close(preconnected) }
            let partial = try loopbackSocket(port: port)
            defer { close(partial) }
            _ = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n".withCString {
                send(partial, $0, strlen($0), Int32(MSG_NOSIGNAL))
            }
            // Its head whole, its body stalled: hummingbird waits for a request under way.
            let upload = try loopbackSocket(port: port)
            defer { close(upload) }
            let head =
                "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\n"
                + "Content-Length: 100\r\n\r\n{"
            _ = head.withCString { send(upload, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            try await relay.waitForOpenSockets(listening + 3)
            // Accepted, and their bytes read: else the stop would meet connections with nothing read.
            try await eventually { peerHasReadEverything(partial) && peerHasReadEverything(upload) }
            let start = ContinuousClock.now
            relay.send(SIGTERM)
            let took = try await relay.exitTimer(from: start).duration()
            #expect(try await relay.exitStatus() == 0)
            #expect(took.map { $0 < .seconds(15) } == true, "the request deadline is 30 s: \(String(describing: took))")
        }
    }

    /// For an operator whose stop waits on something stuck: here an upload stalled mid-body, which
    /// a stop waits 5 s for.
    @Test("A second SIGTERM during the stop ends the process at once, non-zero")
    func secondSignalForcesTheExit() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let upload = try await stalledUpload(port: port)
            defer { close(upload) }
            // From the output's reader thread, timed from the first stop line: a loaded run held
            // this test's tasks past the 5 s the upload holds the stop.
            relay.send(SIGTERM, oncePrinted: "relay.stop.requested")  // at once: the same signal twice, no effect
            relay.send(SIGTERM, oncePrinted: "relay.stop.requested", after: .milliseconds(1_500))  // past 1 s
            relay.send(SIGTERM)
            // Not 0, as the stop would end once the upload's 5 s were up: the exit was forced.
            #expect(try await relay.exitStatus() == 128 + SIGTERM)
            #expect(relay.printed.contains("signal=\(SIGTERM) [Handlers] relay.stop.forced"), "\(relay.printed)")
        }
    }

    /// Another process's lock holds the start for SQLite's busy timeout (5 s), as a frozen disk
    /// would for longer: the first signal waits for the store to open, a later one does not.
    @Test("A second SIGTERM ends a start that waits on a lock")
    func secondSignalEndsAStuckStart() async throws {
        try await withTemporaryDirectory { directory in
            let path = ServerConfiguration.databasePath(in: directory)
            let holder = try ChildProcess(
                path: "/usr/bin/env",
                arguments: [
                    "python3", "-c",
                    "import sqlite3, sys, time\n"
                        + "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                        + "db.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(60)",
                    path,
                ])
            defer { holder.send(SIGKILL) }
            try await eventually { holder.printed.contains("locked") }
            let relay = try self.startRelay(dataDirectory: directory)
            // Signals are caught from before the store opens: its file open, the relay waits on the
            // lock, 5 s. On a thread of its own: a loaded run held this test's tasks for seconds.
            let sent = try await onOwnThread { () -> Bool in
                guard relay.blockUntilOpen(path) else { return false }
                relay.send(SIGTERM)
                relay.send(SIGTERM, oncePrinted: "relay.stop.requested", after: .milliseconds(1_500))  // past 1 s
                return true
            }
            try #require(sent, "the relay never opened its database: \(relay.printed)")
            // 128 + SIGTERM: the exit was forced, not the end of a start that waited out the lock.
            #expect(try await relay.exitStatus() == 128 + SIGTERM, "\(relay.printed)")
            #expect(relay.printed.contains("relay.stop.forced"))
        }
    }

    /// The signal waited for the store; the start then went on to print a key and start every
    /// plugin before the signal was acted on.
    @Test("A SIGTERM while the store opens ends the start once it has: no key printed, no plugin started, status 0")
    func signalWhileTheStoreOpens() async throws {
        try await withTemporaryDirectory { directory in
            let path = ServerConfiguration.databasePath(in: directory)
            let plugins = "\(directory)/plugins"
            try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
            let marker = "\(directory)/plugin-started"
            let plugin = "\(plugins)/marks"
            try Data(
                ("#!/bin/sh\ntouch '\(marker)'\n"
                    + #"echo '{"kind":"hello","protocol":1,"name":"marks","handles":["mark"]}'"#
                    + "\nexec cat >/dev/null\n")
                    .utf8
            ).write(to: URL(fileURLWithPath: plugin))
            chmod(plugin, 0o755)
            // Holds the lock (the relay waits up to 5 s for it) until the relay has heard the signal.
            let release = "\(directory)/release"
            let holder = try ChildProcess(
                path: "/usr/bin/env",
                arguments: [
                    "python3", "-c",
                    "import os, sqlite3, sys, time\n"
                        + "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                        + "db.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\n"
                        + "while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n"
                        + "db.execute('COMMIT')",
                    path, release,
                ])
            defer { holder.send(SIGKILL) }
            try await eventually { holder.printed.contains("locked") }
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory, "--plugins-dir", plugins],
                environment: ["API_KEY": "", "BOSS_IMAGES_DIR": directory])
            let sent = try await onOwnThread { () -> Bool in
                guard relay.blockUntilOpen(path) else { return false }
                relay.send(SIGTERM)
                let deadline = ContinuousClock.now + .seconds(60)
                while !relay.printed.contains("relay.stop.requested"), ContinuousClock.now < deadline {
                    usleep(10_000)
                }
                return FileManager.default.createFile(atPath: release, contents: nil)
            }
            try #require(sent, "the relay never opened its database: \(relay.printed)")
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
            #expect(relay.printed.contains("relay.startup.interrupted"))
            #expect(!relay.printed.contains("generated key"))
            #expect(!FileManager.default.fileExists(atPath: marker), "a plugin started")
        }
    }

    /// Runners such as npm forward a Ctrl-C to a process group that got it already.
    @Test("Two SIGTERMs within a second stop the server in order: the second is the first delivered twice")
    func aRepeatedSignalStopsInOrder() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let upload = try await stalledUpload(port: port)  // holds the stop 5 s: time for a forced exit
            defer { close(upload) }
            // Once the first is being handled (Dispatch would report two sent at once as one), and
            // from the output's reader thread: a loaded run held this task past the 1 s window.
            relay.send(SIGTERM, oncePrinted: "relay.stop.requested")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
            #expect(relay.printed.contains("relay.stop.repeated"), "\(relay.printed)")
            #expect(!relay.printed.contains("relay.stop.forced"))
        }
    }

    @Test("SIGHUP (the terminal closed) stops the server in order, as SIGTERM does")
    func hangUpStopsInOrder() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            _ = try await relay.listeningPort()
            relay.send(SIGHUP)
            #expect(try await relay.exitStatus() == 0)
            #expect(relay.printed.contains("persistence.closed"), "\(relay.printed)")
        }
    }

    /// A Dispatch source for SIGHUP would install a handler over the ignore `nohup` set.
    @Test("A relay started ignoring SIGHUP (nohup) keeps serving when it comes")
    func hangUpIgnoredUnderNohup() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory], environment: ["API_KEY": testAPIKey],
                ignoringHangUp: true)
            let port = try await relay.listeningPort()
            relay.send(SIGHUP)
            try await Task.sleep(for: .seconds(1))
            let answer = try await rawExchange(
                port: port, "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            #expect(!relay.printed.contains("relay.stop.requested"), "\(relay.printed)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// No handler after ``FirstRequestGuard`` hears of a stop before a first request: the server
    /// closes such a connection at once, not when the stop's 5 s limit for a connection runs out.
    @Test("SIGTERM closes a connection that has sent no request at once, not at the stop's limit")
    func shutdownClosesAnIdleConnectionAtOnce() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let listening = relay.openSockets
            let preconnected = try loopbackSocket(port: port)
            defer { close(preconnected) }
            var patience = timeval(tv_sec: 60, tv_usec: 0)  // a bound on a relay that never closes it
            setsockopt(preconnected, SOL_SOCKET, SO_RCVTIMEO, &patience, socklen_t(MemoryLayout<timeval>.size))
            try await relay.waitForOpenSockets(listening + 1)
            // Timed on a thread of its own: a loaded run holds this test's tasks for seconds.
            let closedAfter = try await onOwnThread { () -> Duration in
                let start = ContinuousClock.now
                relay.send(SIGTERM)
                _ = readUntilClosed(preconnected) { _ in }
                return ContinuousClock.now - start
            }
            #expect(try await relay.exitStatus() == 0)
            #expect(closedAfter < .seconds(5), "DrainBeforeClose.limitWhenStopping is 5 s")
        }
    }

    /// hummingbird closes each connection at a stop once its answer is written, not sent: a 4 MB
    /// image being downloaded was cut off where the client had got to.
    @Test("SIGTERM lets an answer being downloaded finish, and a client that stopped reading holds it 5 s at most")
    func shutdownLetsAnswersFinish() async throws {
        try await withTemporaryDirectory { directory in
            let imageBytes = 4 << 20
            try Data(count: imageBytes).write(to: URL(fileURLWithPath: "\(directory)/boss_02.png"))
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let request = "GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let reading = try loopbackSocket(port: port, receiveBuffer: 65_536)
            defer { close(reading) }
            let stalled = try loopbackSocket(port: port, receiveBuffer: 4096)
            defer { close(stalled) }
            for descriptor in [reading, stalled] {
                _ = request.withCString { send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            }
            let (received, exit) = try await onOwnThread { () -> (Int, ExitTimer?) in
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(reading, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var (buffer, total) = ([UInt8](repeating: 0, count: 65_536), 0)
                var exit: ExitTimer?
                while true {
                    let count = read(reading, &buffer, buffer.count)
                    guard count > 0 else { return (total, exit) }
                    total += count
                    if total > 256 * 1024, exit == nil {
                        let signalled = ContinuousClock.now
                        relay.send(SIGTERM)  // most of the image is still queued in the server
                        exit = relay.exitTimer(from: signalled)
                    }
                    // Read at a few MB/s: on loopback the image would otherwise be gone before
                    // the stop reaches the connection, and the test would pass without the drain.
                    if exit != nil { Thread.sleep(forTimeInterval: 0.015) }
                }
            }
            let took = try await #require(exit).duration()
            #expect(try await relay.exitStatus() == 0)
            #expect(
                took.map { $0 < .seconds(15) } == true,
                "the stalled client holds the stop at most 5 s: \(String(describing: took))")
            #expect(received > imageBytes)
            #expect(received < imageBytes + 1024, "the head is a few hundred bytes")
        }
    }

    /// A late upgrade half-closes its connection once the answers before it have left, and
    /// hummingbird counts its request as unanswered, so it does not close the connection at a
    /// stop: a client that stopped reading the image before it held the stop for the HTTP
    /// timeout (30 s), and one reading it slowly for the whole download.
    @Test("SIGTERM waits at most 5 s for the answers before a late upgrade")
    func shutdownBoundsDrainBeforeLateUpgrade() async throws {
        try await withTemporaryDirectory { directory in
            try Data(count: 4 << 20).write(to: URL(fileURLWithPath: "\(directory)/boss_02.png"))
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let stalled = try loopbackSocket(port: port, receiveBuffer: 4096)
            defer { close(stalled) }
            let requests = "GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + rawUpgradeRequest()
            _ = requests.withCString { send(stalled, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            // Both requests read (one segment), the image queued: its first bytes have come.
            try await eventually { hasBytesWaiting(stalled) }
            let start = ContinuousClock.now
            relay.send(SIGTERM)
            let took = try await relay.exitTimer(from: start).duration()
            #expect(try await relay.exitStatus() == 0)
            #expect(took.map { $0 < .seconds(15) } == true, "the HTTP timeout is 30 s: \(String(describing: took))")
        }
    }

    /// A request read whole is being answered: the stop waits for hummingbird's handler whatever
    /// happens to its connection, so closing the connection at the stop's limit only took the answer
    /// from a client whose write went on to commit (and which would send it again).
    @Test("SIGTERM lets a request being answered past the 5 s limit get its answer")
    func shutdownWaitsForAnAnswerBeingWorkedOut() async throws {
        try await withTemporaryDirectory { directory in
            // One write a batch: the write tested never shares the first one's.
            let relay = try self.startRelay(dataDirectory: directory, extraArguments: ["--batch-size", "1"])
            let port = try await relay.listeningPort()
            let first = try await Self.holdTheWriterPastTheStopLimit(port: port, directory: directory)
            defer { close(first) }
            let client = try socketWithRequest(port: port, Self.scoreRequest(), seconds: 20)
            defer { close(client) }
            // The request read (its write waits for the writer): a stop before that would close
            // the connection as one without a request.
            // On a thread of its own, so that the signal follows the read while the write waits.
            let (answer, afterSignal) = try await Self.signalAndRead(relay, client) { peerHasReadEverything(client) }
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(answer)")
            #expect(afterSignal > .seconds(5), "answered before the stop's limit: nothing tested")
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// Holds the relay's writer past the stop's 5 s, as an operator's `sqlite3` holding the write
    /// lock does: the lock is held for 9 s, and a first write (sent now) waits out the 5 s lock
    /// timeout and fails; a write sent after this returns waits behind it (in a batch of its own,
    /// with `--batch-size 1`), then for the lock (3–4 s of its 5 s), and commits once it goes, 9 s
    /// from now. The first write has a second to reach the writer (or the tested one gets a 503); the
    /// signal must follow within 3 s of that second for the answer to come past the stop's 5 s. (The
    /// batch window no longer holds a write: a stop commits what waits for it at once.) Returns the
    /// first write's socket, for the caller to close.
    private static func holdTheWriterPastTheStopLimit(port: Int, directory: String) async throws -> Int32 {
        let path = ServerConfiguration.databasePath(in: directory)
        // On a thread of its own, which holds the lock, then lets it go.
        try await withCheckedThrowingContinuation { (taken: CheckedContinuation<Void, any Error>) in
            Thread {
                do {
                    let holder = try SQLiteConnection(path: path, readOnly: false)
                    try holder.execute("BEGIN IMMEDIATE")
                    taken.resume()
                    Thread.sleep(forTimeInterval: 9)
                    try? holder.execute("ROLLBACK")
                    holder.close()
                } catch {
                    taken.resume(throwing: error)
                }
            }.start()
        }
        let first = try socketWithRequest(port: port, Self.scoreRequest(name: "first"), seconds: 20)
        let deadline = ContinuousClock.now + .seconds(30)
        while !peerHasReadEverything(first), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .seconds(1))  // into the writer, where it waits for the lock
        return first
    }

    /// On a thread of its own: waits (up to 60 s) until `ready`, sends SIGTERM, and reads
    /// `client` until the server closes it; what was read, and how long after the signal.
    private static func signalAndRead(
        _ relay: ChildRelay, _ client: Int32, once ready: @escaping @Sendable () -> Bool
    ) async throws -> (String, Duration) {
        try await onOwnThread {
            let deadline = ContinuousClock.now + .seconds(60)
            while !ready() {
                guard ContinuousClock.now < deadline else { throw StalledClientError.write }  // never sent whole
                usleep(5_000)
            }
            let signalled = ContinuousClock.now
            relay.send(SIGTERM)
            return (readTextUntilClosed(client).text, ContinuousClock.now - signalled)
        }
    }

    /// The same for a request that asked for `100 Continue`: the 100 is not the answer's start.
    @Test("SIGTERM lets a request that was sent 100 Continue get its answer past the 5 s limit")
    func shutdownWaitsForAnAnswerAfterContinue() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, extraArguments: ["--batch-size", "1"])
            let port = try await relay.listeningPort()
            let body = String(buffer: scoreBody())
            let head = ExpectContinueTests.post("/api/scores", length: body.utf8.count) + "Connection: close\r\n\r\n"
            let first = try await Self.holdTheWriterPastTheStopLimit(port: port, directory: directory)
            defer { close(first) }
            let client = try socketWithRequest(port: port, head + body, seconds: 20)
            defer { close(client) }
            // The 100 comes as the route starts reading the body: the request is being answered.
            let (exchange, afterSignal) = try await Self.signalAndRead(relay, client) { hasBytesWaiting(client) }
            #expect(exchange.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "\(exchange)")
            #expect(afterSignal > .seconds(5), "answered before the stop's limit: nothing tested")
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("SIGTERM closes room sockets with 1001 and exits 0, even when a client does not answer the close")
    func shutdownClosesRoomSockets() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let player = try await StalledClient.connect(
                port: port, path: "/ws/room/new",
                early: [#"{"type":"create_room","room_name":"Late","player_name":"Host"}"#])
            #expect(try await WebSocketProtocolTests.nextMessageType(player) == "player_joined")
            let stop = ContinuousClock.now
            relay.send(SIGTERM)
            let exit = relay.exitTimer(from: stop)
            var frame = try await player.readFrame()
            while let message = frame, message.opcode != WebSocketProtocolTests.closeOpcode {
                frame = try await player.readFrame()
            }
            #expect(frame?.closeCode == 1001)
            let took = try await exit.duration()
            #expect(try await relay.exitStatus() == 0)
            // The silent client is given the close grace (1 s from the frame's delivery), within the
            // stop's limit (5 s).
            #expect(took.map { $0 < .seconds(10) } == true, "the stop waited for the client's close")
        }
    }

    @Test("A generated API key is printed once at start, while the server runs, to a pipe too")
    func generatedKeyIsPrinted() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory], environment: ["API_KEY": ""])
            _ = try await relay.listeningPort()
            // The child's stdout is a pipe, which a `print` alone leaves in its buffer until exit.
            #expect(relay.printed.contains("generated key is: "), "the key is readable while the server runs")
            relay.send(SIGTERM)
            _ = try await relay.exitStatus()
            let lines = relay.printed.split(separator: "\n").filter { $0.contains("generated key") }
            #expect(lines.count == 1)
            #expect(lines.first?.wholeMatch(of: /.*generated key is: [0-9a-f]{64}/) != nil)
        }
    }

    @Test("--count-loopback with loopback still a trusted proxy starts with a warning saying how to count it")
    func countLoopbackWarning() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, extraArguments: ["--count-loopback"])
            _ = try await relay.listeningPort()
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            #expect(relay.printed.contains("relay.count_loopback.loopback_is_a_trusted_proxy"), "\(relay.printed)")
            #expect(relay.printed.contains("--forwarded-allow-ips ''"))
            #expect(relay.printed.contains("a client on 127.0.0.1 or ::1 without X-Forwarded-For is not counted"))
        }
    }

    /// README, "What the log says": one line per event. A folder with a line break in its name
    /// (Linux allows it) split `relay.starting`'s and `persistence.opened`'s lines in two.
    @Test("A line break in a logged value is escaped: every line of the log is one event's")
    func oneLinePerEvent() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory + "/two\nlines")
            _ = try await relay.listeningPort()
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            #expect(relay.printed.contains("/two\\u{a}lines/game.db"), "\(relay.printed)")
            let lines = relay.printed.split(separator: "\n")
            // Each opens with its time (`2026-12-07T09:30:00+0000 info relay: …`).
            let stray = lines.filter {
                $0.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} [a-z]+ relay: .*/) == nil
            }
            #expect(stray.isEmpty, "\(relay.printed)")
        }
    }

    @Test("A corrupt database file stops start-up with a clear message and exit status 2")
    func corruptDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            try garbage.write(to: URL(fileURLWithPath: ServerConfiguration.databasePath(in: directory)))
            let relay = try self.startRelay(dataDirectory: directory)
            #expect(try await relay.exitStatus() == 2)  // the data directory's database (README)
            #expect(relay.printed.contains("not a valid SQLite database"))
        }
    }

    /// Without `API_KEY` the second prints no key of its own: one a script or a newcomer took
    /// from it would work nowhere (the running relay has its own).
    @Test("A second relay on the same data directory exits 2, saying another relay uses it, and prints no API key")
    func sameDataDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let running = try self.startRelay(dataDirectory: directory)
            _ = try await running.listeningPort()
            let second = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory], environment: ["API_KEY": ""])
            #expect(try await second.exitStatus() == 2)
            #expect(second.printed.contains("another relay is using it"), "\(second.printed)")
            #expect(!second.printed.contains("generated key"), "\(second.printed)")
            running.send(SIGTERM)
            #expect(try await running.exitStatus() == 0)
        }
    }

    /// `game.db.lock` is found by the database's path; the database file is locked too.
    @Test("A second relay exits 2 after the lock file was deleted, and on a hard link to the database elsewhere")
    func lockFileBypassed() async throws {
        try await withTemporaryDirectory { directory in
            try await withTemporaryDirectory { elsewhere in
                let running = try self.startRelay(dataDirectory: directory)
                _ = try await running.listeningPort()
                let database = ServerConfiguration.databasePath(in: directory)
                #expect(unlink(database + ".lock") == 0)
                #expect(link(database, ServerConfiguration.databasePath(in: elsewhere)) == 0)
                for dataDirectory in [directory, elsewhere] {
                    let second = try self.startRelay(dataDirectory: dataDirectory)
                    #expect(try await second.exitStatus() == 2)
                    #expect(
                        second.printed.contains("another relay is using it (the file is locked"), "\(second.printed)")
                }
                running.send(SIGTERM)
                #expect(try await running.exitStatus() == 0)
            }
        }
    }

    /// Found before anything starts: the store, a generated key (that would work nowhere), plugins.
    @Test(
        "A port in use stops start-up with a clear message and exit status 1, before the store opens or a key is printed"
    )
    func portInUse() async throws {
        try await withTemporaryDirectory { first in
            try await withTemporaryDirectory { second in
                let running = try self.startRelay(dataDirectory: first)
                let port = try await running.listeningPort()
                let relay = try ChildRelay(
                    arguments: ["--port", "\(port)", "--data-dir", second], environment: ["API_KEY": ""])
                let status = try await relay.exitStatus()
                running.send(SIGTERM)
                #expect(try await running.exitStatus() == 0)
                #expect(status == 1)  // any other failure (README)
                #expect(
                    relay.printed.contains(
                        "error=cannot listen on 127.0.0.1:\(port): Address already in use (bind, errno \(EADDRINUSE))"),
                    "\(relay.printed)")
                #expect(relay.printed.contains("relay.failed"), "\(relay.printed)")
                #expect(!relay.printed.contains("generated key"), "\(relay.printed)")
                #expect(!relay.printed.contains("persistence."), "\(relay.printed)")
                #expect(!FileManager.default.fileExists(atPath: ServerConfiguration.databasePath(in: second)))
            }
        }
    }

    @Test("An unusable data directory stops start-up with a clear message and exit status 2")
    func unusableDataDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let file = "\(directory)/not-a-directory"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            let relay = try self.startRelay(dataDirectory: "\(file)/data")
            #expect(try await relay.exitStatus() == 2)
            #expect(relay.printed.contains("cannot use database"))
            #expect(relay.printed.contains("cannot create directory \(file)/data: Not a directory"), "\(relay.printed)")
        }
    }

    /// `FileHandle.write(_:)` trapped on the error; on a closed pipe SIGPIPE ended the process
    /// silently. Either way the store had opened.
    @Test("A generated API key that cannot be printed (stdout full) stops the start with a message, status 1")
    func unprintableKey() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildProcess(
                path: "/bin/sh",
                arguments: [
                    "-c", #"exec "$@" >/dev/full"#, "sh", ChildRelay.executablePath(), "--data-dir", directory,
                    "--port", "0",
                ],
                environment: ["API_KEY": ""])
            guard try await relay.exited(within: .seconds(60)) else {
                relay.send(SIGKILL)
                Issue.record("relay did not exit in time; output:\n\(relay.printed)")
                return
            }
            relay.waitUntilExit()  // and its output's end
            #expect(relay.terminationStatus == 1)
            #expect(relay.printed.contains("the generated API key cannot be printed"), "\(relay.printed)")
            #expect(!relay.printed.contains("listening on"))
        }
    }

    /// `relay 2>&1 | tee log`, the tee ended: SIGPIPE's default action ended the relay at its
    /// first line, silently (NIO ignores it only once it opens a socket, after the start has
    /// logged). With `API_KEY` set and no plugins nothing else ignored it.
    @Test("A relay whose log's reader has gone before it starts serves, and stops in order")
    func logOnAPipeWithoutReader() async throws {
        // The port is picked by binding and closing a socket; another test's relay may take it in
        // between, and this relay then exits with status 1. Only that is tried again, while
        // something else answers on the port: SIGPIPE's death is status 13.
        for attempt in 1...3 {
            let portWasTaken = try await withTemporaryDirectory { directory in
                try await Self.serveWithLogOnAPipeWithoutReader(dataDirectory: directory)
            }
            guard portWasTaken else { return }
            if attempt == 3 { Issue.record("the port picked was taken three times") }
        }
    }

    /// Starts a relay whose output's reader has gone on an unused port. Returns true if it exited
    /// with status 1 while something else answers on the port (it was taken), else checks it
    /// served and stopped.
    private static func serveWithLogOnAPipeWithoutReader(dataDirectory directory: String) async throws -> Bool {
        let port = try unusedLoopbackPort()
        // bash gives the relay the write end of a pipe whose only reader (`true`) has exited.
        let relay = try ChildProcess(
            path: "/bin/bash",
            arguments: [
                "-c", #"exec 3> >(exec true); wait $!; exec "$@" >&3 2>&3 3>&-"#, "bash",
                ChildRelay.executablePath(), "--data-dir", directory, "--port", "\(port)",
            ],
            environment: ["API_KEY": testAPIKey, "LOG_LEVEL": "debug"])
        defer { relay.send(SIGKILL) }
        let request = "GET /api/rooms HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let deadline = ContinuousClock.now + .seconds(60)
        var answer = ""
        while relay.isRunning, ContinuousClock.now < deadline, !answer.hasPrefix("HTTP/1.1 200") {
            answer = (try? await rawExchange(port: port, request)) ?? ""
            if !answer.hasPrefix("HTTP/1.1 200") { try await Task.sleep(for: .milliseconds(50)) }
        }
        // A 200 may be another relay's, on the port taken: this one then exits with status 1.
        if relay.isRunning { relay.send(SIGTERM) }
        #expect(try await relay.exited(within: .seconds(30)))
        if relay.terminationStatus == 1, (try? await rawExchange(port: port, request)) != nil { return true }
        #expect(answer.hasPrefix("HTTP/1.1 200"), "status \(String(describing: relay.terminationStatus))")
        #expect(relay.terminationStatus == 0)
        return false
    }

    @Test("An environment value that cannot be read stops start-up with a message naming it (README, Configuration)")
    func unreadableEnvironment() async throws {
        let unreadable = [
            ("PORT", "abc"), ("LOG_LEVEL", "loud"), ("ALLOW_ALL_ORIGINS", "yes"),
            ("NIO_SINGLETON_GROUP_LOOP_COUNT", "two"),
        ]
        for (name, value) in unreadable {
            try await withTemporaryDirectory { directory in
                let relay = try ChildRelay(
                    arguments: ["--data-dir", directory],
                    environment: ["API_KEY": testAPIKey, "PORT": "0"].merging([name: value]) { $1 })
                #expect(try await relay.exitStatus() == 64, "\(name)=\(value)")  // a value refused (README)
                #expect(relay.printed.contains("\(name) must be"), "\(name)=\(value): \(relay.printed)")
                #expect(!relay.printed.contains("listening on"))
            }
        }
    }

    @Test("A number outside its option's range stops start-up with a message naming the range")
    func numberOutOfRange() async throws {
        // A negative body size started the server, and its first request with a body crashed it.
        // One too large for its burst's arithmetic crashed it at start.
        let cases = [
            ("--max-body-bytes=-1", "--max-body-bytes must be 1024…1073741824, not -1"),
            ("--messages-per-second=9223372036854775807", "--messages-per-second must be 1…10000000, not"),
        ]
        for (argument, message) in cases {
            try await withTemporaryDirectory { directory in
                let relay = try self.startRelay(dataDirectory: directory, extraArguments: [argument])
                #expect(try await relay.exitStatus() == 64, "\(argument)")
                #expect(relay.printed.contains(message), "\(argument): \(relay.printed)")
                #expect(!relay.printed.contains("listening on"), "\(argument)")
            }
        }
    }
}

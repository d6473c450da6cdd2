import Foundation
import HummingbirdTesting
import Synchronization
import Testing

@testable import RelayServer

/// The open-file limit and the connection cap, on the `relay` executable run under `prlimit`.
@Suite("Connection and open-file limits", .serialized)
struct ConnectionLimitTests {
    @Test("The relay raises its soft open-file limit to the hard one and caps connections 128 below it, 5 a loop")
    func softLimitRaised() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory],
                environment: ["API_KEY": testAPIKey, "NIO_SINGLETON_GROUP_LOOP_COUNT": "4"],
                openFileLimit: (soft: 256, hard: 1024))
            _ = try await relay.listeningPort()
            let limits = try String(contentsOfFile: "/proc/\(relay.process.pid)/limits", encoding: .utf8)
            let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
            #expect(
                openFiles.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == [
                    "1024", "1024",
                ])
            #expect(relay.printed.contains("connections.max=876 files.limit=1024"), "\(relay.printed)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("The default cap keeps a reserve below the open-file limit, at least a quarter of it for connections")
    func defaultCap() throws {
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 1024, eventLoops: 0) == 896)
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 20_000, eventLoops: 0) == 19_872)
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 64, eventLoops: 0) == 16)
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 1024, plugins: 3, eventLoops: 0) == 872, "8 a plugin")
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 1024, eventLoops: 2) == 886, "5 an event loop")
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 1024, plugins: 3, eventLoops: 64) == 552)
        #expect(ConnectionCap.defaultMaximum(openFileLimit: 256, plugins: 100, eventLoops: 0) == 64)
        // Until `run` knows the plugins and the loops: one loop.
        #expect(try RelayCommand.parse([]).configuration(environment: [:], openFileLimit: 1024).maxConnections == 891)
        #expect(
            try RelayCommand.parse(["--max-connections", "50"]).configuration(environment: [:], openFileLimit: 1024)
                .maxConnections == 50)
        #expect(try RelayCommand.parse([]).configuration(environment: [:]).maxConnections == nil)
    }

    @Test("The default cap keeps 8 descriptors more for each plugin")
    func defaultCapWithPlugins() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try ChildRelay(
                // A generous start-up timeout: at the suite's start a Python plugin took over 5 s.
                arguments: [
                    "--port", "0", "--data-dir", directory, "--plugins-dir", PluginServerTests.examplesDirectory,
                    "--plugin-startup-timeout-seconds", "60",
                ],
                environment: ["API_KEY": testAPIKey, "NIO_SINGLETON_GROUP_LOOP_COUNT": "1"],
                openFileLimit: (soft: 1024, hard: 1024))
            _ = try await relay.listeningPort()
            #expect(relay.printed.contains("connections.max=867 files.limit=1024"), "\(relay.printed)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// 64 descriptors, so the cap is 16 connections; the flood is far more than both.
    static let tinyLimit = (soft: 64, hard: 64)
    static let floodSize = 80

    @Test("Flooded with connections, the relay keeps its rooms and files working, then serves the waiting ones")
    func floodAtTheCap() async throws {
        try await withTemporaryDirectory { directory in
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 1, count: 100))
            try png.write(to: URL(fileURLWithPath: "\(directory)/boss_01.png"))
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory, "--boss-images-dir", directory],
                environment: ["API_KEY": testAPIKey], openFileLimit: Self.tinyLimit)
            let port = try await relay.listeningPort()
            #expect(relay.printed.contains("connections.max=16 files.limit=64"), "\(relay.printed)")

            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .patient) { keptAlive in
                #expect(try await keptAlive.get("/api/bosses/images/1", host: "127.0.0.1").status == .ok)

                // Connected by the kernel (the backlog), accepted by the relay only up to its cap.
                var flood: [Int32] = []
                defer { for socket in flood { close(socket) } }
                for _ in 0..<Self.floodSize { flood.append(try loopbackSocket(port: port)) }
                try await Self.waitFor("connections.limit_reached", in: relay)
                let waiting = try WaitingRequest(port: port)

                // Without the cap the flood took every descriptor: a boss image got 503.
                host.send(["type": "player_state", "state": ["x": 1.5]])
                let update = try await guest.expect("player_state_update")
                #expect((update["state"] as? [String: Any])?["x"] as? Double == 1.5)
                let image = try await keptAlive.get("/api/bosses/images/1", host: "127.0.0.1")
                #expect(image.status == .ok)
                #expect(image.body.map { Data(buffer: $0) } == png)
                try await Task.sleep(for: .milliseconds(500))  // the point: not answered while at the cap
                #expect(!waiting.isAnswered)

                for socket in flood { close(socket) }
                flood = []
                let answer = try await waiting.task.value
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
                try await Self.waitFor("connections.below_limit", in: relay)
            }
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// Waits (bounded) until the relay has logged `text`: a bound on a hang, left as soon as it has.
    private static func waitFor(_ text: String, in relay: ChildRelay) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !relay.printed.contains(text), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(relay.printed.contains(text), "\(relay.printed)")
    }
}

/// A plain `GET /api/rooms` written on a new connection, whose answer can be checked for without waiting.
private struct WaitingRequest {
    private final class Flag: Sendable {
        let raised = Mutex(false)
    }

    private let answered = Flag()
    let task: Task<String, any Error>

    /// Connects and writes the request before returning (the kernel's backlog takes the connection
    /// while the relay is at its cap), so that "not answered yet" means the relay holds it unread.
    init(port: Int) throws {
        let request = "GET /api/rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let descriptor = try socketWithRequest(port: port, request)
        let answered = self.answered
        self.task = Task {
            try await onOwnThread {
                defer { close(descriptor) }
                let answer = readTextUntilClosed(descriptor).text
                answered.raised.withLock { $0 = true }
                return answer
            }
        }
    }

    var isAnswered: Bool { self.answered.raised.withLock { $0 } }
}

import Foundation
import HummingbirdTesting
import Logging
import NIOCore
import Persistence
import Testing

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
                        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                            var ids: [Int64] = []
                            for round in 0..<16 {
                                let response = try await client.post(
                                    "/api/scores", headers: keyed,
                                    body: scoreBody(name: "w\(worker)", score: worker * 100 + round))
                                #expect(response.status == .ok)
                                let row = try #require(
                                    try JSONSerialization.jsonObject(with: Data(buffer: response.body!)) as? [String: Any])
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

    @Test("SIGTERM commits, closes and exits 0")
    func gracefulShutdown() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let id = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let response = try await client.post("/api/scores", headers: keyed, body: scoreBody())
                let row = try JSONSerialization.jsonObject(with: Data(buffer: response.body!)) as? [String: Any]
                return Int64(try #require(row?["id"] as? Int))
            }
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            #expect(relay.printed.contains("persistence.closed"))
            #expect(try await self.storedIDs(dataDirectory: directory).contains(id))
        }
    }

    /// A browser opens connections ahead of need. Such a connection has no handler that hears of
    /// the stop until its first request, so SIGTERM waited out the request deadline (30 s).
    @Test("SIGTERM does not wait for a connection that has sent no request")
    func shutdownClosesConnectionsWithoutARequest() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory)
            let port = try await relay.listeningPort()
            let preconnected = try loopbackSocket(port: port)
            defer { close(preconnected) }
            let partial = try loopbackSocket(port: port)
            defer { close(partial) }
            _ = "GET /api/rooms HTTP/1.1\r\nHost: x\r\n".withCString { send(partial, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            try await Task.sleep(for: .milliseconds(300))  // both accepted
            let start = ContinuousClock.now
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            #expect(ContinuousClock.now - start < .seconds(15), "the request deadline is 30 s")
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
            relay.send(SIGTERM)
            var frame = try await player.readFrame()
            while let message = frame, message.opcode != WebSocketProtocolTests.closeOpcode {
                frame = try await player.readFrame()
            }
            #expect(frame?.closeCode == 1001)
            #expect(try await relay.exitStatus() == 0)
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

    @Test("A corrupt database file stops start-up with a clear message and a non-zero exit")
    func corruptDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            try garbage.write(to: URL(fileURLWithPath: ServerConfiguration.databasePath(in: directory)))
            let relay = try self.startRelay(dataDirectory: directory)
            #expect(try await relay.exitStatus() != 0)
            #expect(relay.printed.contains("not a valid SQLite database"))
        }
    }

    @Test("An unusable data directory stops start-up with a clear message and a non-zero exit")
    func unusableDataDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let file = "\(directory)/not-a-directory"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            let relay = try self.startRelay(dataDirectory: "\(file)/data")
            #expect(try await relay.exitStatus() != 0)
            #expect(relay.printed.contains("cannot use database"))
        }
    }
}

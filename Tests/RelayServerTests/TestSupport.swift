import Foundation
import HTTPTypes
import Handlers
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Persistence
import Relay
import Testing

@testable import RelayServer

let testAPIKey = "test-key"

/// A fresh temporary directory, removed when the test finishes.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Writes a boss image last modified an hour ago, long enough to be served with the year-long
/// immutable cache (``BossImages/settlingSeconds``).
func writeSettledImage(_ data: Data, to path: String) throws {
    try data.write(to: URL(fileURLWithPath: path))
    let hourAgo = timespec(tv_sec: time(nil) - 3_600, tv_nsec: 0)
    guard utimensat(AT_FDCWD, path, [hourAgo, hourAgo], 0) == 0 else { throw POSIXError(.EIO) }
}

/// Runs `body` against the real application on a loopback port, over a new SQLite file.
func withLiveApp(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        var configuration = ServerConfiguration(apiKey: testAPIKey, dataDirectory: directory)
        configuration.port = 0
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
        let app = buildApplication(
            configuration: configuration, scores: store, savedGames: store, bosses: store,
            rooms: RoomRegistry(
                limits: configuration.relay, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger),
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all),
            services: [store], logger: logger
        )
        try await app.test(.live, body)
    }
}

/// Runs `body` against the application over the given store doubles.
func withLiveApp(
    scores: any ScoreStore, savedGames: any SavedGameStore, bosses: any BossCatalog,
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    var configuration = ServerConfiguration(apiKey: testAPIKey, dataDirectory: "/nonexistent")
    configuration.port = 0
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    let app = buildApplication(
        configuration: configuration, scores: scores, savedGames: savedGames, bosses: bosses,
        rooms: RoomRegistry(
            limits: configuration.relay, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger),
        dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all),
        services: [], logger: logger
    )
    try await app.test(.live, body)
}

/// Headers carrying the API key (and JSON content type).
let keyed: HTTPFields = [.init("X-API-Key")!: testAPIKey, .contentType: "application/json"]

extension ByteBuffer {
    /// The buffer parsed as JSON (arrays, dictionaries, numbers, strings, NSNull).
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(buffer: self), options: [.fragmentsAllowed])
    }
}

extension TestResponse {
    /// The body as a JSON object.
    func object() throws -> [String: Any] {
        try #require(try self.body.json() as? [String: Any], "body: \(String(buffer: self.body))")
    }

    /// The body as a JSON array of objects.
    func objects() throws -> [[String: Any]] {
        try #require(try self.body.json() as? [[String: Any]], "body: \(String(buffer: self.body))")
    }

    /// `detail` of an error body when it is a message.
    func detailMessage() throws -> String? {
        try self.object()["detail"] as? String
    }

    /// (loc joined with ".", type) of each 422 issue.
    func issues() throws -> [(loc: String, type: String)] {
        let detail = try #require(try self.object()["detail"] as? [[String: Any]])
        return detail.map { issue in
            let loc = (issue["loc"] as? [Any] ?? []).map { "\($0)" }.joined(separator: ".")
            return (loc, issue["type"] as? String ?? "")
        }
    }
}

/// A valid score body, with overrides.
func scoreBody(
    name: String = "alice", score: Int = 100, mode: String = "endless", extra: [String: Any] = [:]
) -> ByteBuffer {
    var fields: [String: Any] = [
        "player_name": name, "score": score, "coins": 5, "enemies_defeated": 3, "distance": 1200, "level": 2,
        "game_mode": mode,
    ]
    fields.merge(extra) { $1 }
    return jsonBody(fields)
}

/// A valid saved-game body, with overrides.
func saveBody(name: String = "alice", level: Int = 3, weapon: String = "laser") -> ByteBuffer {
    jsonBody([
        "player_name": name, "level": level, "score": 1500, "lives": 2, "health": 80, "coins": 42,
        "weapon": weapon,
    ])
}

func jsonBody(_ object: Any) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
}

/// Percent-encodes a path segment, `/` included.
func pathSegment(_ text: String) -> String {
    var allowed = CharacterSet.urlPathAllowed
    allowed.remove("/")
    return text.addingPercentEncoding(withAllowedCharacters: allowed)!
}

/// Runs `body` with a live server (port and room registry) whose relay has `limits`.
///
/// Room sockets are not capped for a busy loop unless `capBusyLoops`
/// (``RelayLimits/busyLoopInboundBytesPerSecond``): the suite's servers all share two loops, which
/// the other tests keep busy, and a test that sends much would then be slowed by them.
/// `logger` (by default one that logs warnings) is the server's, `eventLoopGroup` its loops',
/// `busyLoops` what measures them (by default made from `limits`).
func withRelayServer(
    limits: RelayLimits = RelayLimits(),
    capBusyLoops: Bool = false,
    logger: Logger? = nil,
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    busyLoops: BusyLoops? = nil,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
    _ body: @escaping @Sendable (_ port: Int, _ registry: RoomRegistry) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        var configuration = ServerConfiguration(apiKey: testAPIKey, dataDirectory: directory)
        configuration.port = 0
        configuration.relay = limits
        if !capBusyLoops { configuration.relay.busyLoopInboundBytesPerSecond = 0 }
        // Test clients answer pings from the shared task pool, which a loaded run has held for
        // longer than the default 30 s: tests of pings set their own interval.
        if limits.pingInterval == RelayLimits().pingInterval { configuration.relay.pingInterval = .seconds(600) }
        // Far past a raw client's patience: a close within it is the server's doing, however long
        // a loaded run held the server's tasks (tests of the timeout set their own).
        configuration.limits.idleTimeout = .seconds(3 * rawClientPatienceSeconds)
        configure(&configuration)
        let logger =
            logger
            ?? {
                var logger = Logger(label: "test")
                logger.logLevel = .warning
                return logger
            }()
        let store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
        let registry = RoomRegistry(
            limits: configuration.relay, eventLoopGroup: eventLoopGroup, logger: logger)
        let app = buildApplication(
            configuration: configuration, scores: store, savedGames: store, bosses: store, rooms: registry,
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), services: [store], logger: logger,
            busyLoops: busyLoops, onServerRunning: onServerRunning
        )
        try await app.test(.live) { client in
            try await body(try #require(client.port), registry)
        }
    }
}

/// Waits (bounded) until `condition` holds, polling. The bound is on a hang, not a speed check:
/// as the whole suite starts, a new task may wait ~20 s for a thread.
func eventually(
    timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    // Checked after every wait, the last one too: a loaded run may hold this task past the deadline.
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { break }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
}

extension TestClient.Configuration {
    /// hummingbird's test client gives up on an answer after 15 s by default; for these tests that
    /// only bounds a hang (as the whole suite starts, a new task may wait ~20 s for a thread), so
    /// they give it 30 s. An answer is returned as soon as it has come.
    static var patient: Self { Self(timeout: .seconds(30)) }
}

extension TestClient {
    /// hummingbird's test client sends no `Host` unless told, which every HTTP/1.1 client must and
    /// the server requires (``RequestHeadRules``).
    func get(_ uri: String, headers: HTTPFields = [:], host: String) async throws -> TestClient.Response {
        try await self.execute(.init(uri, method: .get, authority: host, headers: headers))
    }

    func post(
        _ uri: String, headers: HTTPFields = [:], body: ByteBuffer, host: String
    ) async throws -> TestClient.Response {
        try await self.execute(.init(uri, method: .post, authority: host, headers: headers, body: body))
    }
}

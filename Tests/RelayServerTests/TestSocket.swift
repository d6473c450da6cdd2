import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import Synchronization
import Testing
import WSClient

/// The test clients' own threads. A real client does not run on the server's event loops; sharing
/// them would let a client's traffic delay the server's writers (and the other way round).
let testClientEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)

/// A real WebSocket client for tests: send JSON, await the next message with a timeout.
final class TestSocket: Sendable {
    private enum Outgoing: Sendable {
        case text(String)
        case binary(ByteBuffer)
        case close
    }

    private let inbox = Inbox()
    private let outgoing: AsyncStream<Outgoing>.Continuation
    /// Ends with the server's close frame (or an error) when the connection closes.
    let closed: Task<WebSocketCloseFrame?, any Error>

    private init(outgoing: AsyncStream<Outgoing>.Continuation, closed: Task<WebSocketCloseFrame?, any Error>) {
        self.outgoing = outgoing
        self.closed = closed
    }

    /// Connects to `path` on the loopback server at `port`.
    static func connect(port: Int, path: String = "/ws/room/new", headers: HTTPFields = [:]) -> TestSocket {
        let inbox = Inbox()
        let (outgoing, outgoingContinuation) = AsyncStream<Outgoing>.makeStream()
        var logger = Logger(label: "test-socket")
        logger.logLevel = .warning
        // A test-only bridge: the client API is callback-shaped, the tests are sequential.
        let closed = Task {
            defer { inbox.finish() }
            // Tried again on NIO's 10 s connect timeout, which a loopback connect has met while
            // the whole suite loaded the machine (the handler has not run then: nothing is lost).
            var attempts = 1
            while true {
                do {
                    return try await Self.connect(
                        port: port, path: path, headers: headers, inbox: inbox, outgoing: outgoing, logger: logger)
                } catch ChannelError.connectTimeout where attempts < 3 {
                    attempts += 1
                }
            }
        }
        let socket = TestSocket(outgoing: outgoingContinuation, closed: closed)
        socket.inbox.forward(to: inbox)
        return socket
    }

    private static func connect(
        port: Int, path: String, headers: HTTPFields, inbox: Inbox, outgoing: AsyncStream<Outgoing>, logger: Logger
    ) async throws -> WebSocketCloseFrame? {
        try await WebSocketClient.connect(
            url: "ws://localhost:\(port)\(path)",
            configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers),
            eventLoopGroup: testClientEventLoopGroup,
            logger: logger
        ) { inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        if case .text(let text) = message { inbox.append(text) }
                    }
                }
                group.addTask {
                    for await frame in outgoing {
                        switch frame {
                        case .text(let text): try await outbound.write(.text(text))
                        case .binary(let bytes): try await outbound.write(.binary(bytes))
                        case .close: return
                        }
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }

    func send(_ object: [String: Any]) {
        self.send(raw: String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func send(raw text: String) { self.outgoing.yield(.text(text)) }

    func sendBinary(_ bytes: [UInt8]) { self.outgoing.yield(.binary(ByteBuffer(bytes: bytes))) }

    /// Closes from the client side.
    func close() { self.outgoing.yield(.close) }

    /// How long a test waits for a message it expects, or for the server's close: a bound on a
    /// hang, not a speed check, so it is generous (the whole suite shares two cores with
    /// relay-bench scenarios and child processes, and as it starts a new task may wait ~20 s for
    /// a thread). Each wait returns as soon as what it waits for has come.
    static let patience: Duration = .seconds(30)

    /// The next message as a JSON object, failing after `timeout`.
    func next(timeout: Duration = TestSocket.patience) async throws -> [String: Any] {
        let text = try await self.nextText(timeout: timeout)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// The next raw text message, failing after `timeout` or when the connection ends.
    func nextText(timeout: Duration = TestSocket.patience) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            switch self.inbox.take() {
            case .message(let text): return text
            case .finished:
                if case .failure(let error) = await self.closed.result { Issue.record("socket failed: \(error)") }
                throw TestSocketError.closed
            case .empty:
                guard ContinuousClock.now < deadline else { throw TestSocketError.timedOut }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// The next message, which must have `type`.
    @discardableResult
    func expect(
        _ type: String, timeout: Duration = TestSocket.patience, sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws -> [String: Any]
    {
        let message = try await self.next(timeout: timeout)
        #expect(message["type"] as? String == type, "got \(message)", sourceLocation: sourceLocation)
        return message
    }

    /// Skips messages until one of `type` arrives.
    @discardableResult
    func skip(until type: String, timeout: Duration = TestSocket.patience) async throws -> [String: Any] {
        while true {
            let message = try await self.next(timeout: timeout)
            if message["type"] as? String == type { return message }
        }
    }

    /// Waits for the server to close the connection and returns its close code.
    func closeCode(timeout: Duration = TestSocket.patience) async throws -> Int? {
        let closed = self.closed
        return try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                let frame = try? await closed.value
                return frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } ?? -1
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestSocketError.timedOut
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

enum TestSocketError: Error { case timedOut, closed }

/// Messages received and not yet read; polled by `nextText`.
private final class Inbox: Sendable {
    enum Taken {
        case message(String)
        case empty, finished
    }

    private struct State {
        var messages: [String] = []
        var head = 0
        var isFinished = false
        var target: Inbox?
    }

    private let state = Mutex(State())

    /// Makes this inbox read from `other` (the one the connection task fills).
    func forward(to other: Inbox) { self.state.withLock { $0.target = other } }

    func append(_ text: String) { self.state.withLock { $0.messages.append(text) } }

    func finish() { self.state.withLock { $0.isFinished = true } }

    func take() -> Taken {
        if let target = self.state.withLock({ $0.target }) { return target.take() }
        return self.state.withLock { state in
            if state.head < state.messages.count {
                defer { state.head += 1 }
                return .message(state.messages[state.head])
            }
            return state.isFinished ? .finished : .empty
        }
    }
}

extension TestSocket {
    /// Creates a room as its host ("Host") and returns the room's code.
    func createRoom(named name: String) async throws -> String {
        self.send(["type": "create_room", "room_name": name, "player_name": "Host"])
        _ = try await self.expect("player_joined")
        return try #require(try await self.expect("room_created")["room_id"] as? String)
    }
}

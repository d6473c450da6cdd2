import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop for every room of these tests (never shut down: it lives as long as the process).
let testEventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// A logger that drops everything.
let quietLogger = Logger(label: "handlers-tests", factory: { _ in SwiftLogNoOpLogHandler() })

extension JSONValue {
    /// `value[key]` for an object value.
    subscript(key: String) -> JSONValue? { self.objectValue?[key] }

    /// The `type` of a server message.
    var type: String? { self["type"]?.stringValue }
}

/// A registry, the built-in dispatcher, and simulated clients.
struct Harness {
    let registry: RoomRegistry
    let dispatcher: MessageDispatcher

    /// - Parameter rooms: the loops rooms are created on.
    init(limits: RelayLimits = RelayLimits(), rooms: any EventLoopGroup = testEventLoopGroup) throws {
        try self.init(limits: limits, dispatcher: MessageDispatcher(handlers: BuiltInHandlers.all), rooms: rooms)
    }

    init(
        limits: RelayLimits = RelayLimits(), dispatcher: MessageDispatcher,
        rooms: any EventLoopGroup = testEventLoopGroup, observers: [any RoomObserver] = []
    ) {
        self.registry = RoomRegistry(limits: limits, eventLoopGroup: rooms, logger: quietLogger, observers: observers)
        self.dispatcher = dispatcher
    }

    /// A new client connected to `/ws/room/{url}`; a room it creates lives on `eventLoop`, if given,
    /// and counts against `roomCreator`'s limit (``RelayLimits/maxRoomsPerAddress``), if given.
    func client(
        url: String = "new", queueCapacity: Int = 256, eventLoop: (any EventLoop)? = nil,
        roomCreator: RoomCreator? = nil
    ) -> TestClient {
        TestClient(
            registry: self.registry, dispatcher: self.dispatcher, url: url, queueCapacity: queueCapacity,
            eventLoop: eventLoop, roomCreator: roomCreator)
    }

    /// A host in a fresh room and a guest who joined it; their welcome messages are consumed.
    func roomWithTwoPlayers(maxPlayers: Int? = nil) async throws -> (host: TestClient, guest: TestClient, code: String)
    {
        let host = self.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty", maxPlayers: maxPlayers)
        let guest = self.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty","player_id":"guest"}"#)
        let guestMessages = await guest.received()
        try #require(guestMessages.map(\.type) == ["player_joined", "room_joined"], "\(guestMessages)")
        let hostMessages = await host.received()
        try #require(hostMessages.map(\.type) == ["player_joined"], "\(hostMessages)")
        return (host, guest, code)
    }

    /// A host and a guest (`guestID`) in a fresh two-player room, with the guest's reconnect token;
    /// the game started if `started` (what they were sent is consumed).
    func roomWithGuestToken(
        guestID: String = "guest", started: Bool = false
    ) async throws -> (host: TestClient, guest: TestClient, code: String, token: String) {
        let host = self.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let guest = self.client(url: code)
        await guest.send(["type": "join_room", "player_name": "Guesty", "player_id": .string(guestID)])
        let token = try #require(await guest.received().last?["reconnect_token"]?.stringValue)
        _ = await host.received()
        if started {
            await host.send(#"{"type":"player_ready","is_ready":true}"#)
            await guest.send(#"{"type":"player_ready","is_ready":true}"#)
            await host.send(#"{"type":"start_game"}"#)
            try #require(await host.received().last?.type == "game_starting")
            try #require(await guest.received().last?.type == "game_starting")
        }
        return (host, guest, code, token)
    }

    /// `roomWithTwoPlayers` with the game started (welcome and start messages consumed).
    func startedRoom() async throws -> (host: TestClient, guest: TestClient, code: String) {
        let (host, guest, code) = try await self.roomWithTwoPlayers()
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        await host.send(#"{"type":"start_game"}"#)
        try #require(
            await host.received().map(\.type) == ["player_ready_changed", "player_ready_changed", "game_starting"])
        try #require(
            await guest.received().map(\.type) == ["player_ready_changed", "player_ready_changed", "game_starting"])
        return (host, guest, code)
    }

    /// Waits (bounded) until `condition` holds, polling. The bound is on a hang, not a speed check:
    /// as the whole suite starts, a new task may wait ~20 s for a thread.
    func eventually(
        timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(await condition()) {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// One simulated WebSocket client: a connection, its session, and what it received.
///
/// Each client is driven by one task at a time (the session is not thread-safe), so it can
/// be handed to a concurrent child task.
final class TestClient: @unchecked Sendable {
    let connection: PlayerConnection
    let session: ConnectionSession
    let dispatcher: MessageDispatcher
    private let recorder: CloseCodes

    init(
        registry: RoomRegistry, dispatcher: MessageDispatcher, url: String, queueCapacity: Int,
        eventLoop: (any EventLoop)? = nil, roomCreator: RoomCreator? = nil
    ) {
        let recorder = CloseCodes()
        self.connection = PlayerConnection(queueCapacity: queueCapacity) { code in recorder.record(code) }
        self.recorder = recorder
        self.session = ConnectionSession(
            connection: self.connection, urlRoomID: url, registry: registry, logger: quietLogger, eventLoop: eventLoop,
            roomCreator: roomCreator)
        self.dispatcher = dispatcher
    }

    /// Close codes the server asked this connection's socket to close with.
    var closedWith: [UInt16] { self.recorder.codes.withLock { $0 } }

    /// Sends one text frame through the dispatcher.
    func send(_ text: String) async {
        await self.dispatcher.dispatch(text, session: self.session)
    }

    /// Sends one text frame as the server's socket handler reads it: on the connection's event
    /// loop, a member's message its raw handler takes is handled there if the room lives on that
    /// loop, else handed to the room's loop without waiting; any other goes through the
    /// dispatcher after those, by a reader that prefers the connection's loop
    /// (``MessageDispatcher/dispatchInPlace(_:session:)``, `RoomSocket`). Returns once the message
    /// has been handled, wherever.
    func sendAsTheSocketReads(_ text: String) async throws {
        try await self.sendAsTheSocketReads([text])
    }

    /// Sends text frames back to back as the server's socket handler reads them (as the one-frame
    /// form does), as if they came in one read: on the connection's loop, in one turn, the raw
    /// handlers take them one after another (handing some to the room's loop without waiting)
    /// until one is for the dispatcher; that one is handled after those handed on, then the rest
    /// are read the same way. Returns, once all have been handled, the most that were on their
    /// way to the room's loop at once.
    @discardableResult
    func sendAsTheSocketReads(_ texts: [String]) async throws -> Int {
        guard let eventLoop = self.session.eventLoop else {
            for text in texts { await self.send(text) }
            return 0
        }
        var next = 0
        var mostOnTheirWay = 0
        while next < texts.count {
            let first = next
            let (taken, most) = try await eventLoop.submit { () -> (Int, Int) in
                var (taken, most) = (0, 0)
                while self.session.membership != nil, first + taken < texts.count,
                    self.dispatcher.dispatchInPlace(texts[first + taken], session: self.session)
                {
                    taken += 1
                    most = max(most, self.session.forwarded.inFlight)
                }
                return (taken, most)
            }
            .get()
            (next, mostOnTheirWay) = (next + taken, max(mostOnTheirWay, most))
            guard next < texts.count else { break }
            await self.session.settleForwarded()
            await withTaskExecutorPreference(self.session.registry.taskExecutor(for: eventLoop)) {
                await self.send(texts[next])
            }
            next += 1
        }
        await self.session.settleForwarded()
        return mostOnTheirWay
    }

    /// The client's socket closes, and the server's socket handler reports it as it does: the
    /// connection can take no seat any more, its waits on plugins end, what it forwarded to its
    /// room is handled there, then the room (if any) is told of the drop, from a task that prefers
    /// the connection's loop (`RoomSocketHandler.stop()`, then `RoomSocket.serve()`).
    func socketCloses() async {
        self.connection.socketHasClosed()
        self.session.closing.close()
        await self.session.settleForwarded()
        guard let membership = self.session.membership else { return }
        let executor = self.session.eventLoop.map { self.session.registry.taskExecutor(for: $0) }
        await withTaskExecutorPreference(executor) {
            await membership.room.drop(playerID: membership.playerID, connection: self.connection)
        }
    }

    /// Sends `value` encoded as JSON.
    func send(_ value: JSONValue) async {
        var writer = JSONWriter()
        writer.write(value)
        await self.send(String(buffer: writer.buffer))
    }

    /// Everything queued for this client so far (does not wait for more).
    func received() async -> [JSONValue] {
        var messages: [JSONValue] = []
        while self.connection.outbound.count > 0, let frame = await self.connection.outbound.next() {
            messages.append(
                (try? JSONParser.parse(Array(frame.readableBytesView)))
                    ?? .string("<invalid JSON: \(String(buffer: frame))>"))
        }
        return messages
    }

    /// Waits (bounded) for the queue to hold a frame, then returns everything queued: nothing if the
    /// time runs out, which callers' checks of what came then report (one test polls with it). The
    /// bound is on a hang, not a speed check (see ``Harness/eventually(timeout:sourceLocation:_:)``).
    func receive(timeout: Duration = .seconds(30)) async throws -> [JSONValue] {
        let deadline = ContinuousClock.now + timeout
        while self.connection.outbound.count == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        return await self.received()
    }

    /// The single message received, which must be an `error` with `code`.
    func expectError(
        _ code: String, after text: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        await self.send(text)
        let messages = await self.received()
        #expect(messages.count == 1, "\(text) → \(messages)", sourceLocation: sourceLocation)
        #expect(messages.first?.type == "error", "\(text) → \(messages)", sourceLocation: sourceLocation)
        #expect(messages.first?["code"]?.stringValue == code, "\(text) → \(messages)", sourceLocation: sourceLocation)
        #expect(messages.first?["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        if let legacy = Self.legacyErrorMessages[code] {
            #expect(messages.first?["message"]?.stringValue == legacy, sourceLocation: sourceLocation)
        }
    }

    /// The old backend's error texts, which the game client shows as they are (PROTOCOL.md §2),
    /// copied here from the protocol rather than from the server's code.
    static let legacyErrorMessages = [
        "join_failed": "Failed to join room. Room may be full or game already started.",
        "start_failed": "Cannot start game. All players must be ready and at least 2 players needed.",
        "reconnect_failed": "Reconnection failed. Token invalid or session expired.",
    ]

    /// Creates a room as `playerID` and returns its code (consumes the two welcome messages).
    func createRoom(playerID: String, name: String, maxPlayers: Int? = nil) async throws -> String {
        var message: JSONValue = [
            "type": "create_room", "room_name": "Test room", "player_name": .string(name),
            "player_id": .string(playerID),
        ]
        if let maxPlayers, case .object(var fields) = message {
            fields["max_players"] = .integer(Int64(maxPlayers))
            message = .object(fields)
        }
        await self.send(message)
        let messages = await self.received()
        try #require(messages.map(\.type) == ["player_joined", "room_created"], "\(messages)")
        return try #require(messages[1]["room_id"]?.stringValue)
    }
}

/// Records close codes from a connection's close closure.
final class CloseCodes: Sendable {
    let codes = Mutex<[UInt16]>([])
    func record(_ code: UInt16) { self.codes.withLock { $0.append(code) } }
}

/// A built-in raw handler that counts the messages its raw path takes (relays, or refuses with an
/// error), so that a test comparing it with the general path knows it ran: the dispatcher may
/// route a message elsewhere, and a relay may decline after reading it.
struct RawPathCounter: RawRoomMessageHandler {
    private final class Count: Sendable {
        let value = Mutex(0)
    }
    private let count = Count()
    let handler: any RawRoomMessageHandler
    var messageType: String { self.handler.messageType }
    var taken: Int { self.count.value.withLock { $0 } }

    /// The built-in handler for `messageType`, which must have a raw path.
    init(messageType: String) throws {
        let builtIn = BuiltInHandlers.all.first { $0.messageType == messageType }
        self.handler = try #require(builtIn as? any RawRoomMessageHandler)
    }

    /// The built-in handlers, with this one in its type's place.
    var withTheBuiltIns: [any MessageHandler] {
        BuiltInHandlers.all.map { $0.messageType == self.messageType ? self : $0 }
    }

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        try self.handler.handle(message, from: playerID, in: room)
    }

    func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool
    {
        do {
            let took = try self.handler.handleRaw(bytes, from: playerID, in: room)
            if took { self.count.value.withLock { $0 += 1 } }
            return took
        } catch {
            self.count.value.withLock { $0 += 1 }
            throw error
        }
    }

    func prepareForwarding(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) -> ForwardedRoomMessage? {
        guard let forwarded = self.handler.prepareForwarding(bytes, from: playerID) else { return nil }
        let count = self.count
        return { room throws(RelayError) in
            count.value.withLock { $0 += 1 }
            try forwarded(room)
        }
    }
}

/// A filter that passes every message of its type: its presence keeps a type with a fast path
/// (`player_state`, `enemy_state`) on the general one. Each instance counts the messages it saw
/// (tests run in parallel; a shared count proves nothing).
struct PassingFilter: MessageFilter {
    private final class Count: Sendable {
        let value = Mutex(0)
    }
    private let count = Count()
    let messageType: String
    var seen: Int { self.count.value.withLock { $0 } }

    init(messageType: String) {
        self.messageType = messageType
    }

    func filter(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) -> InboundMessage? {
        self.count.value.withLock { $0 += 1 }
        return message
    }
}

/// The CPU time this thread has used: for timing a synchronous path so that a loaded machine
/// (other tests, other processes) delays it without adding to what is measured.
func threadCPUTime() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

import Foundation
import NIOCore
import NIOPosix
import Relay
import Synchronization
import Testing

@testable import Handlers
@testable import RelayServer

/// `player_state` relayed in place by the connection's frame handler (`RoomSocketHandler`), beside
/// the messages the reader handles: order, rate limit and errors as if one path handled all.
@Suite("player_state relayed in place")
struct InPlaceRelayTests {
    @Test("Interleaved chat and player_state arrive in the order sent")
    func orderIsKept() async throws {
        var limits = RelayLimits()
        limits.messagesPerSecond = 1_000_000  // every message counts here, none may be limited away
        limits.messageBurst = 1_000_000
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            // Chats go through the reader task; a player_state sent right behind one must not
            // overtake it.
            let rounds = 150
            for index in 0..<rounds {
                host.send(["type": "chat", "message": "c\(index)"])
                host.send(["type": "player_state", "state": ["x": index]])
                host.send(["type": "player_state", "state": ["x": index, "y": 1]])
            }
            var received: [String] = []
            while received.count < rounds * 3 {
                let message = try await guest.next()
                switch message["type"] as? String {
                case "chat": received.append(message["message"] as? String ?? "?")
                case "player_state_update":
                    let state = message["state"] as? [String: Any]
                    received.append("x\(state?["x"] as? Int ?? -1)" + (state?["y"] == nil ? "" : "y"))
                default: Issue.record("unexpected \(message)")
                }
            }
            let expected = (0..<rounds).flatMap { ["c\($0)", "x\($0)", "x\($0)y"] }
            #expect(received == expected)
        }
    }

    @Test("A player_state flood is shed without errors (its own budget), then closed with 1008")
    func floodOfPlayerStates() async throws {
        var limits = RelayLimits()
        limits.stateMessagesPerSecond = 5
        limits.stateMessageBurst = 5
        limits.stateFloodCloseThreshold = 40
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            try await Task.sleep(for: .seconds(1.2))  // the room set-up used up the burst: refill it
            let flooding = ContinuousClock.now
            for index in 0..<100 { host.send(["type": "player_state", "state": ["x": index]]) }
            var limited = 0
            while let message = try? await host.next() {  // until the 1008 close ends the stream
                if message["type"] as? String == "error" {
                    #expect(message["code"] as? String == "rate_limited")
                    limited += 1
                }
            }
            #expect(limited == 0)  // the game shows every error as a popup; a shed position needs none
            #expect(try await host.closeCode() == 1008)
            // The burst, and what 5 a second refilled while the flood lasted (a loaded machine may
            // take seconds to read it).
            let relayable = 5 + 5 * Double((ContinuousClock.now - flooding) / .seconds(1))
            // Everything relayed before the host was dropped reaches the guest before the news of the drop
            // (a quiet spell would not do: on a busy machine the guest's reads can pause for seconds).
            var updates = 0
            while true {
                let message = try await guest.next()
                if message["type"] as? String == "player_disconnected" { break }
                if message["type"] as? String == "player_state_update" { updates += 1 }
            }
            #expect(updates >= 5 && Double(updates) <= relayable.rounded(.up), "\(updates) updates relayed")
        }
    }

    @Test("A refused player_state gets its error, and the sender's next one is relayed")
    func errorsAnswerInPlace() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            host.send(["type": "player_state", "state": ["x": "left"]])
            let error = try await host.expect("error")
            #expect(error["code"] as? String == "invalid_field")
            host.send(["type": "player_state", "state": ["x": 2.346]])
            let update = try await guest.expect("player_state_update")
            #expect((update["state"] as? [String: Any])?["x"] as? Double == 2.35)
        }
    }

    @Test("Every guest's player_state takes a fast path: in place, or forwarded to the room's loop")
    func guestsOnEitherLoop() async throws {
        let accepted = AcceptedConnections()
        try await withRelayServer(onServerRunning: { await accepted.install(on: $0) }) { port, registry in
            // Connections are spread over the server's loops in turn, so with two or more loops
            // guests usually land on another loop than their room's, and are forwarded; on one
            // loop they are relayed in place. (`ForwardingTests` covers forwarding for certain.)
            var rooms: [(host: TestSocket, guest: TestSocket, room: GameRoom, socket: RoomSocketProbe)] = []
            for _ in 0..<6 {
                let host = TestSocket.connect(port: port)
                let guest = TestSocket.connect(port: port)
                let opened = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
                let room = try #require(registry.room(code: opened.code))
                rooms.append((host, guest, room, try await accepted.socket(ofPlayer: opened.guestID)))
            }
            for (host, guest, _, socket) in rooms {
                for x in 1...10 {
                    // A reader with a message gets the next one too, to keep their order; it finishes
                    // the join in a `defer` on a loop the suite shares, which may run well after its
                    // answers went out. So each is sent once the reader has none (not after a pause).
                    // Raw text: the fast paths take only messages that start with their type.
                    try await socket.waitUntilReaderIsIdle()
                    guest.send(raw: #"{"type":"player_state","state":{"x":\#(x)}}"#)
                    let update = try await host.expect("player_state_update")
                    #expect((update["state"] as? [String: Any])?["x"] as? Int == x)
                }
            }
            for (_, _, room, socket) in rooms {
                // All ten by the path of the guest's loop; none by the reader.
                let expected = try await socket.sharesLoop(with: room) ? [10, 0] : [0, 10]
                #expect(
                    await [room.messagesHandledInPlace, room.messagesForwarded] == expected,
                    "player_state handled in place, forwarded")
            }
        }
    }

    @Test("A refused player_state's error comes before the answer to the message sent after it")
    func errorsKeepTheirOrderOnEitherLoop() async throws {
        var limits = RelayLimits()
        limits.messagesPerSecond = 1_000_000
        limits.messageBurst = 1_000_000
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        // Loops of its own: connections take them in turn, so some guest is on another loop than
        // its room (the shared loops' turns move with the suite's other tests), and holding a
        // room's loop holds up no other test.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { group.shutdownGracefully { _ in } }
        let accepted = AcceptedConnections()
        try await withRelayServer(
            limits: limits, eventLoopGroup: group, onServerRunning: { await accepted.install(on: $0) }
        ) { port, registry in
            var guestsOnAnotherLoop = 0
            for _ in 0..<4 {
                let host = TestSocket.connect(port: port)
                let guest = TestSocket.connect(port: port)
                let opened = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
                let room = try #require(registry.room(code: opened.code))
                let socket = try await accepted.socket(ofPlayer: opened.guestID)
                let onAnotherLoop = try await !socket.sharesLoop(with: room)
                try await socket.waitUntilReaderIsIdle()  // so that the first state takes a fast path
                // A guest on another loop: the room's loop is held while its messages arrive, so its
                // first state, forwarded there, waits; only the reader's waiting for it
                // (`settleForwarded`) keeps the reader's own answers behind the state's error. (On
                // the room's loop, the state is refused in place as it arrives: holding the loop
                // would only hold the guest's reads with it.)
                let hold = try await onAnotherLoop ? RoomLoopHold.hold(room) : nil
                for _ in 0..<25 {
                    // The first is refused by the room, on its loop; the second by the reader.
                    guest.send(raw: #"{"type":"player_state","state":{"x":"left"}}"#)
                    guest.send(raw: #"{"type":"no_such_type"}"#)
                }
                if let hold {
                    // Released only once all 50 have arrived: the first state on its way to the held
                    // loop, the 49 behind it with the reader, which waits for that state. (After a
                    // pause instead, a loaded run could read them after the release, nothing held.)
                    try await eventually {
                        try await socket.read { handler in
                            let forwarded = handler.session.forwarded
                            return handler.messagesWithReader == 49 && forwarded.inFlight == 1 && forwarded.hasWaiter
                        }
                    }
                    await hold.release()
                    guestsOnAnotherLoop += 1
                }
                var codes: [String] = []
                for _ in 0..<50 { codes.append(try await guest.expect("error")["code"] as? String ?? "?") }
                #expect(codes == Array(repeating: ["invalid_field", "unknown_type"], count: 25).flatMap { $0 })
                // A valid state, with the reader done: relayed in place on the room's loop, forwarded
                // from another (the refused ones count for neither).
                try await socket.waitUntilReaderIsIdle()
                guest.send(raw: #"{"type":"player_state","state":{"x":1}}"#)
                _ = try await host.expect("player_state_update")
                #expect(
                    await [room.messagesHandledInPlace, room.messagesForwarded] == (onAnotherLoop ? [0, 1] : [1, 0]),
                    "player_state handled in place, forwarded")
            }
            #expect(guestsOnAnotherLoop > 0, "some guest was on another loop than its room")
        }
    }

    @Test("Messages sent right behind the upgrade request keep their order")
    func messagesBeforeTheHandlerExists() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            host.send(["type": "create_room", "room_name": "Early", "player_name": "Host"])
            _ = try await host.expect("player_joined")
            let created = try await host.expect("room_created")
            let code = try #require(created["room_id"] as? String)
            // These reach the server in the same read as the upgrade request: they wait in NIO's
            // upgrade handler until the connection's handlers exist, and nothing may overtake them.
            let guest = try await StalledClient.connect(
                port: port, path: "/ws/room/\(code)",
                early: [
                    #"{"type":"join_room","room_id":"\#(code)","player_name":"Guest"}"#,
                    #"{"type":"chat","message":"early"}"#,
                    #"{"type":"player_state","state":{"x":0}}"#,
                ])
            _ = try await host.expect("player_joined")
            let chat = try await host.expect("chat")
            #expect(chat["message"] as? String == "early")
            let first = try await host.expect("player_state_update")
            #expect((first["state"] as? [String: Any])?["x"] as? Int == 0)
            try await Self.sendStatesInTurn(from: guest, to: host)
        }
    }

    @Test("A client whose first message came with the upgrade request is relayed in place afterwards")
    func inPlaceAfterAnEarlyGreeting() async throws {
        try await withRelayServer { port, registry in
            // The host's connection is on its room's event loop (rooms live on their creator's loop),
            // so its player_state can always be relayed in place; its create_room arrives with the
            // upgrade request.
            let host = try await StalledClient.connect(
                port: port, path: "/ws/room/new",
                early: [#"{"type":"create_room","room_name":"Early","player_name":"Host"}"#])
            try await eventually { registry.roomInfos(joinableOnly: false).count == 1 }  // listed once the host is in
            let code = try #require(registry.roomInfos(joinableOnly: false).first?.objectValue?["room_id"]?.stringValue)
            let guest = TestSocket.connect(port: port)
            guest.send(["type": "join_room", "room_id": code, "player_name": "Guest"])
            _ = try await guest.expect("player_joined")
            _ = try await guest.expect("room_joined")
            try await Self.sendStatesInTurn(from: host, to: guest)
            let room = try #require(registry.room(code: code))
            #expect(await room.messagesHandledInPlace == 30)
        }
    }

    @Test("A message split in fragments across the upgrade arrives whole")
    func fragmentAcrossInstallation() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Split")
            let chat = Array(#"{"type":"chat","message":"split"}"#.utf8)
            // The first fragment comes with the handshake; the rest after.
            let guest = try await StalledClient.joining(
                port: port, code: code, earlyBytes: StalledClient.frame(fin: false, opcode: 1, Array(chat[..<10])))
            _ = try await host.expect("player_joined")
            try guest.sendRaw(StalledClient.frame(fin: true, opcode: 0, Array(chat[10...])))
            #expect(try await host.expect("chat")["message"] as? String == "split")
            try guest.send(#"{"type":"chat","message":"after"}"#)
            #expect(try await host.expect("chat")["message"] as? String == "after")
        }
    }

    /// Sends `player_state` with x = 1…30 from `sender`, each once the last one's update has
    /// reached `receiver` (so nothing of the sender's waits for the reader), and checks each.
    static func sendStatesInTurn(
        from sender: StalledClient, to receiver: TestSocket, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for x in 1...30 {
            try sender.send(#"{"type":"player_state","state":{"x":\#(x)}}"#)
            let update = try await receiver.expect("player_state_update")
            #expect((update["state"] as? [String: Any])?["x"] as? Int == x, sourceLocation: sourceLocation)
        }
    }
}

/// The server's connections, as its channel accepts them: installed first in the server
/// channel's pipeline (as `PerAddressAcceptFilter` is), it passes each one on. For tests that
/// wait on what a room socket has done, read from its handler, rather than on time.
final class AcceptedConnections: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let channels = Mutex<[any Channel]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = Self.unwrapInboundIn(data)
        self.channels.withLock { $0.append(channel) }
        context.fireChannelRead(data)
    }

    /// For ``withRelayServer``'s `onServerRunning`, which runs before the test connects.
    func install(on serverChannel: any Channel) async {
        do {
            try await serverChannel.pipeline.addHandler(self, position: .first).get()
        } catch {
            Issue.record("accepted connections not watched: \(error)")
        }
    }

    /// The room socket of the player `playerID`, once it is theirs (a join sets it after its
    /// answers have gone out).
    func socket(
        ofPlayer playerID: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RoomSocketProbe {
        var found: RoomSocketProbe?
        try await eventually(sourceLocation: sourceLocation) {
            found = await self.find(playerID)
            return found != nil
        }
        return try #require(found, "no room socket of \(playerID)", sourceLocation: sourceLocation)
    }

    private func find(_ playerID: String) async -> RoomSocketProbe? {
        for channel in self.channels.withLock({ $0 }) {
            let handler = try? await channel.eventLoop.submit { () -> NIOLoopBound<RoomSocketHandler>? in
                guard let handler = try? channel.pipeline.syncOperations.handler(type: RoomSocketHandler.self),
                    handler.session.membership?.playerID == playerID
                else { return nil }
                return NIOLoopBound(handler, eventLoop: channel.eventLoop)
            }.get()
            if let handler { return RoomSocketProbe(handler: handler, eventLoop: channel.eventLoop) }
        }
        return nil
    }
}

/// A room socket's frame handler on the server, read on its event loop.
struct RoomSocketProbe: Sendable {
    let handler: NIOLoopBound<RoomSocketHandler>
    let eventLoop: any EventLoop

    /// What `body` reads of the handler, on its loop.
    func read<Value: Sendable>(_ body: @escaping @Sendable (RoomSocketHandler) throws -> Value) async throws -> Value {
        let handler = self.handler
        return try await self.eventLoop.submit { try body(handler.value) }.get()
    }

    /// Waits until the reader has no message: the connection's next `player_state` then takes a
    /// fast path (while the reader has messages, the handler hands it on too, to keep their order).
    func waitUntilReaderIsIdle(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually(sourceLocation: sourceLocation) { try await self.read { $0.messagesWithReader == 0 } }
    }

    /// Whether `room` lives on this socket's loop: its states are relayed in place there, else
    /// forwarded to the room's loop.
    func sharesLoop(with room: GameRoom) async throws -> Bool {
        try await self.eventLoop.submit { room.isOnCurrentLoop }.get()
    }
}

/// A room's event loop held by a job of the room that blocks it until ``release()``: what is
/// handed to the room from another loop waits meanwhile.
final class RoomLoopHold: Sendable {
    private let isHeld = Mutex(false)
    private let gate = DispatchSemaphore(value: 0)
    private let holder = Mutex<Task<Void, Never>?>(nil)

    private init() {}

    /// Holds `room`'s loop; returns once it is held.
    static func hold(_ room: GameRoom, sourceLocation: SourceLocation = #_sourceLocation) async throws -> RoomLoopHold {
        let hold = RoomLoopHold()
        let holder = Task {
            await room.enter { _ in
                hold.isHeld.withLock { $0 = true }
                hold.gate.wait()
            }
        }
        hold.holder.withLock { $0 = holder }
        try await eventually(sourceLocation: sourceLocation) { hold.isHeld.withLock { $0 } }
        return hold
    }

    /// Lets the loop go, and waits until the holding job has ended.
    func release() async {
        self.gate.signal()
        await self.holder.withLock { $0 }?.value
    }
}

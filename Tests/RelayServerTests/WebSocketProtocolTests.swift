import Foundation
import Handlers
import Logging
import NIOPosix
import Persistence
import RecordedLogs
import Relay
import Synchronization
import Testing

@testable import RelayServer

/// The WebSocket protocol as the relay's own handler (`RoomSocketHandler`) speaks it, over a raw
/// socket: control frames, fragmented messages, the close handshake, keep-alive pings, and
/// protocol errors, which close that connection and nothing else.
@Suite("WebSocket protocol")
struct WebSocketProtocolTests {
    typealias Frame = StalledClient.Frame

    static let textOpcode: UInt8 = 1
    static let continuationOpcode: UInt8 = 0
    static let closeOpcode: UInt8 = 8
    static let pingOpcode: UInt8 = 9
    static let pongOpcode: UInt8 = 10

    /// Reads frames until a text frame and returns its `type`, answering nothing.
    static func nextMessageType(
        _ client: StalledClient, answeringPings: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws
        -> String?
    {
        while let frame = try await answeringPings ? client.readFrameAnsweringPing() : client.readFrame() {
            guard frame.opcode == Self.textOpcode else { continue }
            let object = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any]
            return object?["type"] as? String
        }
        Issue.record("the connection closed", sourceLocation: sourceLocation)
        return nil
    }

    /// A room with a host on a WebSocket client and a guest on a raw socket, who has joined.
    static func roomWithRawGuest(port: Int) async throws -> (host: TestSocket, guest: StalledClient) {
        let host = TestSocket.connect(port: port)
        let code = try await host.createRoom(named: "Raw guest")
        let guest = try await StalledClient.joining(port: port, code: code)
        _ = try await host.expect("player_joined")
        return (host, guest)
    }

    @Test("A ping is answered with a pong carrying its payload")
    func pingPong() async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.pingOpcode, Array("hello".utf8)))
            #expect(try await client.readFrame() == Frame(opcode: Self.pongOpcode, payload: Array("hello".utf8)))
            try client.send(#"{"type":"ping"}"#)
            #expect(try await Self.nextMessageType(client) == "pong")
        }
    }

    @Test("Pings sent together get one pong, for the last; pings past the message budget get none")
    func pingsAreBatchedAndBudgeted() async throws {
        var limits = RelayLimits()
        limits.messagesPerSecond = 0.001  // no refill while a slow machine runs the test: the burst is what there is
        limits.messageBurst = 10
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let pings = (0..<5).flatMap { StalledClient.frame(fin: true, opcode: Self.pingOpcode, [UInt8($0)]) }
            try client.sendRaw(pings)
            #expect(try await client.readFrame() == Frame(opcode: Self.pongOpcode, payload: [4]))
            // 5 of the 10 messages are spent: 5 more pings, one by one, then none is answered.
            for index in 5..<11 {
                try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.pingOpcode, [UInt8(index)]))
            }
            try client.send(#"{"type":"ping"}"#)  // past the budget too: rate_limited
            var pongs: [[UInt8]] = []
            while let frame = try await client.readFrame(), frame.opcode != Self.textOpcode {
                if frame.opcode == Self.pongOpcode { pongs.append(frame.payload) }
            }
            #expect(pongs.count <= 5 && pongs.last == [9], "\(pongs)")
        }
    }

    @Test("A message in fragments, with a ping between them, arrives whole")
    func fragmentedMessage() async throws {
        try await withRelayServer { port, registry in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let message = Array(#"{"type":"create_room","room_name":"Pieces","player_name":"Host"}"#.utf8)
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, Array(message[..<20])))
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.pingOpcode, [7]))
            try client.sendRaw(
                StalledClient.frame(fin: false, opcode: Self.continuationOpcode, Array(message[20..<40])))
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.continuationOpcode, Array(message[40...])))
            #expect(try await client.readFrame() == Frame(opcode: Self.pongOpcode, payload: [7]))
            #expect(try await Self.nextMessageType(client) == "player_joined")
            #expect(try await Self.nextMessageType(client) == "room_created")
            #expect(registry.count == 1)
        }
    }

    @Test("A client's close is answered with 1000, the connection ends, and its room-mate hears of it")
    func clientCloses() async throws {
        try await withRelayServer { port, _ in
            let (host, guest) = try await Self.roomWithRawGuest(port: port)
            try guest.sendRaw(StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8]))  // 1000
            var frame = try await guest.readFrame()
            while let text = frame, text.opcode == Self.textOpcode { frame = try await guest.readFrame() }
            #expect(frame?.closeCode == 1000)
            #expect(try await guest.readFrame() == nil, "the server hangs up after the handshake")
            _ = try await host.expect("player_disconnected")
        }
    }

    /// The game's `leaveRoom()` sends `leave_room` and closes at once: both may come in one read.
    @Test("A leave_room with a close frame behind it in the same read: the room-mate hears player_left, not a drop")
    func leaveAndCloseInOneRead() async throws {
        try await withRelayServer { port, _ in
            let (host, guest) = try await Self.roomWithRawGuest(port: port)
            try guest.sendRaw(
                StalledClient.frame(#"{"type":"leave_room"}"#)
                    + StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8]))
            // Its close is answered (the answers it closed on may go unsent: it reads no more).
            var frame = try await guest.readFrame()
            while let text = frame, text.opcode == Self.textOpcode { frame = try await guest.readFrame() }
            #expect(frame?.closeCode == 1000)
            let left = try await host.expect("player_left")
            #expect(left["player_id"] as? String != nil)
            #expect((left["room_info"] as? [String: Any])?["player_count"] as? Int == 1)
        }
    }

    @Test("A character split between fragments is read whole; a sequence broken across them is refused as UTF-8")
    func utf8AcrossFragments() async throws {
        try await withRelayServer { port, registry in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let message = Array(#"{"type":"create_room","room_name":"Pi\#u{E8}ces","player_name":"Host"}"#.utf8)
            let split = try #require(message.firstIndex(of: 0xC3)) + 1  // between the two bytes of "è"
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, Array(message[..<split])))
            try client.sendRaw(
                StalledClient.frame(fin: true, opcode: Self.continuationOpcode, Array(message[split...])))
            #expect(try await Self.nextMessageType(client) == "player_joined")
            #expect(try await Self.nextMessageType(client) == "room_created")
            let names = registry.roomInfos(joinableOnly: false).map { $0.objectValue?["room_name"]?.stringValue }
            #expect(names == ["Pi\u{E8}ces"])
            // "€" begins (0xE2) and the next fragment does not go on with it.
            let start = Array(#"{"type":"chat","message":""#.utf8) + [0xE2]
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, start))
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.continuationOpcode, Array(#"("}"#.utf8)))
            let frame = try #require(try await client.readFrame())
            let error = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any]
            #expect(error?["message"] as? String == "Text frames must be valid UTF-8")
        }
    }

    @Test("A text frame that is not valid UTF-8 gets an error and reaches nobody; the connection goes on")
    func invalidUTF8() async throws {
        try await withRelayServer { port, _ in
            let (host, guest) = try await Self.roomWithRawGuest(port: port)
            let bad = Array(#"{"type":"chat","message":"bad "#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
            try guest.sendRaw(StalledClient.frame(fin: true, opcode: Self.textOpcode, bad))
            try guest.send(#"{"type":"chat","message":"good"}"#)
            var error: [String: Any]?
            while let frame = try await guest.readFrame(), frame.opcode == Self.textOpcode {
                let message = try #require(
                    try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
                if message["type"] as? String == "error" { error = message }
                if message["type"] as? String == "chat" { break }
            }
            #expect(error?["code"] as? String == "invalid_message")
            #expect(error?["message"] as? String == "Text frames must be valid UTF-8")
            #expect(try await host.expect("chat")["message"] as? String == "good")  // and not a repaired "bad ��"
        }
    }

    @Test("Messages sent just before a close, in the same write, still reach the room")
    func messagesBeforeTheClose() async throws {
        try await withRelayServer { port, _ in
            let (host, guest) = try await Self.roomWithRawGuest(port: port)
            let lastWords = (0..<5).flatMap { StalledClient.frame(#"{"type":"chat","message":"bye \#($0)"}"#) }
            try guest.sendRaw(lastWords + StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8]))
            for index in 0..<5 {
                #expect(try await host.expect("chat")["message"] as? String == "bye \(index)")
            }
            _ = try await host.expect("player_disconnected")
        }
    }

    @Test(
        "Protocol errors close that connection with 1002; the server goes on",
        arguments: [
            ("a continuation with nothing to continue", StalledClient.frame(fin: true, opcode: 0, Array("x".utf8))),
            ("a reserved bit", [0xC1, 0x81, 0, 0, 0, 0, UInt8(ascii: "x")]),
            ("a reserved opcode", StalledClient.frame(fin: true, opcode: 3, [])),
            ("a reserved bit on a control frame", [0xC9, 0x80, 0, 0, 0, 0]),
            ("an unmasked frame", [0x81, 0x02] + Array("{}".utf8)),
            ("an unmasked ping", [0x89, 0x00]),
            (
                "a 64-bit length with its top bit set",
                [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0] + Array("{}".utf8)
            ),
            (
                "a new message inside a fragmented one",
                StalledClient.frame(fin: false, opcode: 1, Array("{".utf8))
                    + StalledClient.frame(fin: true, opcode: 1, Array("{}".utf8))
            ),
        ])
    func protocolErrors(_ name: String, bytes: [UInt8]) async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(bytes)
            #expect(try await client.readFrame()?.closeCode == 1002, "\(name)")
            #expect(try await client.readFrame() == nil, "\(name)")
            let other = TestSocket.connect(port: port)
            other.send(["type": "ping"])
            try await other.expect("pong")
        }
    }

    /// The header of a masked frame announcing `length` payload bytes (none of them sent).
    static func header(firstByte: UInt8, length: UInt64, masked: Bool = true) -> [UInt8] {
        [firstByte, (masked ? 0x80 : 0) | 127] + withUnsafeBytes(of: length.bigEndian) { Array($0) }
            + (masked ? [1, 2, 3, 4] : [])
    }

    @Test(
        "A broken frame over the size cap closes with 1002 for the break, not 1009",
        arguments: [
            ("a continuation with nothing to continue", Self.header(firstByte: 0x80, length: 100_000)),
            ("a reserved bit", Self.header(firstByte: 0xC1, length: 100_000)),
            ("a reserved opcode", Self.header(firstByte: 0x83, length: 100_000)),
            ("an unmasked frame", Self.header(firstByte: 0x81, length: 100_000, masked: false)),
            (
                "a new message inside a fragmented one",
                StalledClient.frame(fin: false, opcode: 1, Array("{".utf8))
                    + Self.header(firstByte: 0x81, length: 100_000)
            ),
        ])
    func brokenFramesOverTheCap(_ name: String, bytes: [UInt8]) async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(bytes)
            #expect(try await client.readFrame()?.closeCode == 1002, "\(name)")
            #expect(try await client.readFrame() == nil, "\(name)")
            // The same header, whole and within the cap, is the control: a frame over it is 1009.
            let overTheCap = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try overTheCap.sendRaw(Self.header(firstByte: 0x81, length: 100_000))
            #expect(try await overTheCap.readFrame()?.closeCode == 1009)
        }
    }

    @Test("A message whose fragments outgrow the size cap closes with 1009")
    func fragmentsOverTheCap() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 200
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let piece = [UInt8](repeating: UInt8(ascii: " "), count: 100)
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, Array("{".utf8) + piece))
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.continuationOpcode, piece))
            #expect(try await client.readFrame()?.closeCode == 1009)
        }
    }

    @Test(
        "A connection failed with the client's bytes still coming ends cleanly: the close frame, then the end of the stream, no reset",
        arguments: [1009, 1002])
    func failedWithBytesInFlight(expectedCode: Int) async throws {
        // 1009: a frame over the cap, 8,000 bytes of it coming; 1002: an unmasked frame, 1,000 more after it.
        let bytes: [UInt8] =
            expectedCode == 1009
            ? [0x81, 0x80 | 126, 0x1F, 0x40, 0, 0, 0, 0] + [UInt8](repeating: 0x20, count: 8_000)
            : [0x81, 0x02] + Array("{}".utf8) + Array(repeating: StalledClient.frame("{}"), count: 1_000).joined()
        var limits = RelayLimits()
        limits.maxFrameBytes = 1024
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(bytes)
            #expect(try await client.readFrame()?.closeCode == expectedCode)
            #expect(try await client.readFrame() == nil)  // a reset throws
        }
    }

    @Test("A failed connection's player is dropped at once, not when the client hangs up or the grace ends")
    func failedPlayerDroppedAtOnce() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 1024
        limits.closeGracePeriod = .seconds(60)  // longer than the host waits
        try await withRelayServer(limits: limits) { port, _ in
            let (host, guest) = try await Self.roomWithRawGuest(port: port)
            try guest.sendRaw([0x81, 0x80 | 126, 0x1F, 0x40, 0, 0, 0, 0])  // over the cap; the client stays
            _ = try await host.expect("player_disconnected")
            var closeCode: Int?
            while closeCode == nil, let frame = try await guest.readFrame() {
                if frame.opcode == Self.closeOpcode { closeCode = frame.closeCode }
            }
            #expect(closeCode == 1009)
        }
    }

    @Test("A message in fragments exactly as large as the size cap arrives whole")
    func fragmentsAtTheCap() async throws {
        var limits = RelayLimits()
        limits.maxFrameBytes = 200
        try await withRelayServer(limits: limits) { port, registry in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let members = Array(#""type":"create_room","player_name":"Host"}"#.utf8)
            let message = Array("{".utf8) + [UInt8](repeating: UInt8(ascii: " "), count: 199 - members.count) + members
            #expect(message.count == 200)
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, Array(message[..<100])))
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.continuationOpcode, Array(message[100...])))
            #expect(try await Self.nextMessageType(client) == "player_joined")
            #expect(try await Self.nextMessageType(client) == "room_created")
            #expect(registry.count == 1)
        }
    }

    @Test("A message may come in up to 128 frames, empty ones too; one more frame closes with 1009")
    func framesPerMessage() async throws {
        let most = RoomSocketHandler.maxFramesPerMessage
        #expect(most == 128)
        let message = Array(#"{"type":"create_room","room_name":"Pieces","player_name":"Host"}"#.utf8)
        /// `message` in `frames` frames: its first half, empty continuations, then the rest.
        @Sendable func send(in frames: Int, to client: StalledClient) throws {
            var bytes = StalledClient.frame(fin: false, opcode: Self.textOpcode, Array(message[..<20]))
            for _ in 0..<(frames - 2) { bytes += StalledClient.frame(fin: false, opcode: Self.continuationOpcode, []) }
            bytes += StalledClient.frame(fin: true, opcode: Self.continuationOpcode, Array(message[20...]))
            try client.sendRaw(bytes)
        }
        try await withRelayServer { port, registry in
            let whole = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try send(in: most, to: whole)
            #expect(try await Self.nextMessageType(whole) == "player_joined")
            #expect(try await Self.nextMessageType(whole) == "room_created")

            let tooMany = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try send(in: most + 1, to: tooMany)
            #expect(try await tooMany.readFrame()?.closeCode == 1009)
            #expect(registry.count == 1)
        }
    }

    @Test("A client that answers no ping is closed with 1001, the first such close logged at notice")
    func unansweredPings() async throws {
        var limits = RelayLimits()
        limits.pingInterval = .milliseconds(100)
        let records = RecordedLogs()
        try await withRelayServer(
            limits: limits, logger: Logger(label: "test") { _ in records },
            configure: { $0.repeatedCloseLogInterval = .seconds(3600) }
        ) { port, _ in
            for _ in 0..<2 {
                let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
                #expect(try await client.readFrame()?.opcode == Self.pingOpcode)
                #expect(try await client.readFrame()?.closeCode == 1001)
                #expect(try await client.readFrame() == nil)
            }
        }
        #expect(ClientCloseLogTests.levels(of: "relay.connection.ping_unanswered", in: records) == [.notice, .debug])
    }

    @Test("A client failed while its socket is full is hung up on, though the close frame cannot get out")
    func failedWithAFullSocket() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 100_000  // so that its queue does not drop it first
        limits.outboundQueueBytes = .max
        limits.inboundByteBurst = 16 << 20  // the host's 7.5 MB below at once
        try await withRelayServer(limits: limits) { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Full")
            let guest = try await StalledClient.joining(port: port, code: code)
            let guestID = try #require(try await host.expect("player_joined")["player_id"] as? String)
            // 7.5 MB the guest never reads (game_action goes to the others only) fill its socket;
            // the host's chat coming back says the server has handled them all.
            let padding = String(repeating: "x", count: 50_000)
            for _ in 0..<150 { host.send(["type": "game_action", "action": "pad", "data": ["padding": padding]]) }
            host.send(["type": "chat", "message": "done"])
            _ = try await host.expect("chat", timeout: .seconds(30))
            // A protocol error: the server sends 1002, which waits behind the data, and hangs up.
            try guest.sendRaw(StalledClient.frame(fin: true, opcode: 3, []))
            let gone = try await host.expect("player_disconnected")
            #expect(gone["player_id"] as? String == guestID)
            // And its socket ends (an end of stream or a reset), rather than the read giving up
            // after 30 s without a byte (the server pings every 600 s here).
            #expect(try await guest.readsToTheEnd(seconds: 30), "the guest's socket was left open")
        }
    }

    @Test("Pongs that do not answer the server's ping do not keep a client connected")
    func wrongPongs() async throws {
        var limits = RelayLimits()
        limits.pingInterval = .milliseconds(200)
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let ping = try #require(try await client.readFrame())
            #expect(ping.opcode == Self.pingOpcode)
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.pongOpcode, Array("unsolicited".utf8)))
            #expect(try await client.readFrame()?.closeCode == 1001)
        }
    }

    @Test("A client whose TCP connection ends without a close frame is dropped at once")
    func connectionEndsWithoutClose() async throws {
        try await withRelayServer { port, _ in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Gone")
            let guest = try await StalledClient.joining(port: port, code: code)
            _ = try await host.expect("player_joined")
            guest.shutdownWrite()  // (pings come every 30 s here: only the end of input can tell)
            _ = try await host.expect("player_disconnected")
        }
    }

    @Test("After a flood close the client's answer to the close frame is read, and the connection ends cleanly")
    func floodCloseHandshake() async throws {
        var limits = RelayLimits()
        limits.messagesPerSecond = 5
        limits.messageBurst = 5
        limits.floodCloseThreshold = 40
        // This client does answer, however long a loaded test machine keeps it from reading.
        limits.closeGracePeriod = .seconds(60)
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            // Far more than the reader may have waiting: reading from the socket is paused when it closes.
            try client.sendRaw(Array(repeating: StalledClient.frame(#"{"type":"ping"}"#), count: 3000).flatMap { $0 })
            var frame = try await client.readFrame()
            while let message = frame, message.opcode != Self.closeOpcode { frame = try await client.readFrame() }
            #expect(frame?.closeCode == 1008)
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xF0]))
            // A clean end of stream; a reset (unread input at close) would throw here.
            #expect(try await client.readFrame() == nil)
        }
    }

    @Test("A client that answers pings stays connected")
    func answeredPings() async throws {
        var limits = RelayLimits()
        // Generous, so that a busy test machine cannot make the answer late (2 s was, beside CPU hogs;
        // this test's task must come back between two pings, which a loaded run held it 4 s past).
        limits.pingInterval = .seconds(10)
        try await withRelayServer(limits: limits) { port, _ in
            // Frames are read, and pings answered, on threads of their own, not the shared test
            // pool: a pong sent once this task had a thread back came late on a loaded machine.
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            for _ in 0..<2 {
                let ping = try #require(try await client.readFrameAnsweringPing())
                #expect(ping.opcode == Self.pingOpcode)
            }
            try client.send(#"{"type":"ping"}"#)
            #expect(try await Self.nextMessageType(client, answeringPings: true) == "pong")
        }
    }

    @Test("Upgrades on other paths are answered as the plain requests they also are")
    func otherPaths() async throws {
        try await withRelayServer { port, _ in
            let answers: [(String, Int, String)] = [
                ("/ws/room/", 404, #"{"detail":"Not Found"}"#), ("/ws/room/a/b", 404, #"{"detail":"Not Found"}"#),
                ("/ws/rooms/new", 404, #"{"detail":"Not Found"}"#),
                ("/api/scores", 405, #"{"detail":"Method Not Allowed"}"#),
                ("/api/rooms", 200, "[]"),
            ]
            for (path, status, body) in answers {
                let refusal = await StalledClient.refusal(port: port, path: path)
                #expect(refusal?.status == status, "\(path)")
                #expect(refusal?.body == body, "\(path)")
                #expect(refusal?.header("Content-Type") == "application/json", "\(path)")
                #expect(refusal?.header("X-Content-Type-Options") == "nosniff", "\(path)")
            }
            _ = try await StalledClient.connect(port: port, path: "/ws/room/new?client=game")
        }
    }

    @Test(
        "A request asking for an upgrade the server cannot make is answered as a plain request, then the connection closes",
        arguments: [
            // curl --http2 on http://
            (
                "/api/rooms",
                "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n",
                "200 OK", nil
            ),
            // another WebSocket version: 426 says which one this server speaks
            (
                "/ws/room/new",
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n",
                "426 Upgrade Required", "Sec-WebSocket-Version: 13"
            ),
            (
                "/ws/room/new", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",  // no key
                "426 Upgrade Required", "Sec-WebSocket-Version: 13"
            ),
        ] as [(String, String, String, String?)])
    func upgradesNotMade(path: String, headers: String, status: String, header: String?) async throws {
        try await withRelayServer { port, _ in
            let exchange = try await rawExchangeUntilClosed(
                port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)\r\n")
            // Closed by the server at once, not left to the client's 30 s without a byte, nor to the
            // server's own HTTP timeout.
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "\(exchange)")
            let answer = exchange.answer
            #expect(answer.hasPrefix("HTTP/1.1 \(status)\r\n"), "\(answer)")
            #expect(answer.contains("X-Content-Type-Options: nosniff"), "\(answer)")
            if let header { #expect(answer.contains(header + "\r\n"), "\(answer)") }
            #expect(answer.lowercased().contains("connection: close\r\n"), "it says the connection ends: \(answer)")
            #expect(
                answer.hasSuffix(
                    path == "/api/rooms" ? "[]" : #"{"detail":"This path takes WebSocket connections only"}"#),
                "\(answer)")
        }
    }

    /// What RFC 6455 §4.2.1 asks of an opening handshake besides the version and a key; NIO's
    /// upgrader checked none of it.
    @Test(
        "A handshake RFC 6455 does not allow is answered as the plain request it also is, not switched",
        arguments: [
            ("POST", "HTTP/1.1", "Connection: Upgrade\r\n\(keyHeader)", "", "405 Method Not Allowed"),
            ("HEAD", "HTTP/1.1", "Connection: Upgrade\r\n\(keyHeader)", "", nil),
            ("GET", "HTTP/1.0", "Connection: Upgrade\r\n\(keyHeader)", "", "426 Upgrade Required"),
            ("GET", "HTTP/1.1", keyHeader, "", "426 Upgrade Required"),  // no Connection: Upgrade
            ("GET", "HTTP/1.1", "Connection: keep-alive\r\n\(keyHeader)", "", "426 Upgrade Required"),
            ("GET", "HTTP/1.1", "Connection: Upgrade\r\nSec-WebSocket-Key: \r\n", "", "426 Upgrade Required"),
            ("GET", "HTTP/1.1", "Connection: Upgrade\r\nSec-WebSocket-Key: x\r\n", "", "426 Upgrade Required"),
            (
                "GET", "HTTP/1.1", "Connection: Upgrade\r\nSec-WebSocket-Key: MTIzNDU2Nzg=\r\n", "",
                "426 Upgrade Required"
            ),
            (
                "GET", "HTTP/1.1", "Connection: Upgrade\r\n\(keyHeader)Content-Length: 5\r\n", "hello",
                "426 Upgrade Required"
            ),
            (
                "GET", "HTTP/1.1", "Connection: Upgrade\r\n\(keyHeader)Transfer-Encoding: chunked\r\n",
                "5\r\nhello\r\n0\r\n\r\n", "426 Upgrade Required"
            ),
        ] as [(String, String, String, String, String?)])
    func handshakesNotSwitched(
        method: String, version: String, headers: String, body: String, status: String?
    )
        async throws
    {
        try await withRelayServer { port, _ in
            let request =
                "\(method) /ws/room/new \(version)\r\nHost: 127.0.0.1\r\n"
                + "\(upgradeHeaders)\(headers)\r\n\(body)"
            let answer = try await rawExchange(port: port, request)
            #expect(!answer.contains(" 101 "), "\(answer)")
            #expect(answer.contains("X-Content-Type-Options: nosniff"), "\(answer)")
            if let status { #expect(answer.hasPrefix("HTTP/1.1 \(status)\r\n"), "\(answer)") }
        }
    }

    @Test(
        "Browsers' handshakes switch, Firefox's Connection: keep-alive, Upgrade too",
        arguments: ["Upgrade", "keep-alive, Upgrade", "upgrade", "keep-alive,Upgrade"])
    func browserHandshakes(connection: String) async throws {
        try await withRelayServer { port, _ in
            let request =
                "GET /ws/room/new HTTP/1.1\r\nHost: 127.0.0.1\r\n\(upgradeHeaders)"
                + "Connection: \(connection)\r\n\(keyHeader)\r\n"
            let head = try await onOwnThread { () throws -> String in
                let client = try loopbackSocket(port: port)
                defer { close(client) }
                var timeout = timeval(tv_sec: rawClientPatienceSeconds, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let bytes = Array(request.utf8)
                guard send(client, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return "" }
                var head = [UInt8](repeating: 0, count: 12)
                return recv(client, &head, 12, Int32(MSG_WAITALL)) == 12 ? String(decoding: head, as: UTF8.self) : ""
            }
            #expect(head == "HTTP/1.1 101", "\(connection)")
        }
    }

    @Test("A target in absolute form (RFC 9112 §3.2.2), as the HTTP routes take it, opens a room socket")
    func absoluteFormTarget() async throws {
        try await withRelayServer { port, _ in
            // It was answered 426, as a plain GET.
            let client = try await StalledClient.connect(port: port, path: "http://127.0.0.1:\(port)/ws/room/new")
            try client.send(#"{"type":"create_room","player_name":"Ann"}"#)
            var texts: [String] = []
            for _ in 0..<2 {
                let frame = try #require(try await client.readFrame())
                texts.append(String(decoding: frame.payload, as: UTF8.self))
            }
            #expect(texts.count == 2 && texts[1].contains(#""type":"room_created""#), "\(texts)")
        }
    }

    /// RFC 6455 §7.4: a code that is reserved, never sent on the wire (1005, 1006, 1015), or past
    /// 4999 is a protocol error; registered and application codes are a goodbye.
    @Test(
        "A client's close code is answered with 1000, or 1002 when no endpoint may send it",
        arguments: [("no code", [], 1000), ("one byte", [0x03], 1002)]
            + [
                (999, 1002), (1000, 1000), (1001, 1000), (1004, 1002), (1005, 1002), (1006, 1002), (1011, 1000),
                (1012, 1000), (1014, 1000), (1015, 1002), (2999, 1002), (3000, 1000), (4999, 1000), (5000, 1002),
            ].map { (code: UInt16, answer: Int) in ("\(code)", [UInt8(code >> 8), UInt8(code & 0xFF)], answer) }
            as [(String, [UInt8], Int)])
    func clientCloseCodes(_ name: String, payload: [UInt8], answer: Int) async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.closeOpcode, payload))
            #expect(try await client.readFrame()?.closeCode == answer, "\(name)")
            #expect(try await client.readFrame() == nil, "\(name)")
        }
    }

    @Test("A close whose reason is not UTF-8 is answered with 1007")
    func closeReasonNotUTF8() async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8, 0xFF, 0xFE]))
            #expect(try await client.readFrame()?.closeCode == 1007)
            #expect(try await client.readFrame() == nil)
        }
    }

    @Test("A ping sent just before a close, in the same write, is answered before the close")
    func pingBeforeTheClose() async throws {
        try await withRelayServer { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            try client.sendRaw(
                StalledClient.frame(fin: true, opcode: Self.pingOpcode, Array("last".utf8))
                    + StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8]))
            #expect(try await client.readFrame() == Frame(opcode: Self.pongOpcode, payload: Array("last".utf8)))
            #expect(try await client.readFrame()?.closeCode == 1000)
            #expect(try await client.readFrame() == nil)
        }
    }

    /// A proxy with a pool of kept-alive connections to the server sends a browser's upgrade on
    /// one of them; a failure before any answer is what makes it retry on a fresh connection.
    @Test("An upgrade asked for on a kept-alive HTTP connection closes it unanswered, for the client to retry")
    func upgradeAfterARequest() async throws {
        try await withRelayServer { port, _ in
            let upgrade = rawUpgradeRequest(path: "/ws/room/new?x=1")
            let exchange = try await rawExchangeUntilClosed(
                port: port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + upgrade)
            #expect(exchange.answer.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "\(exchange)")
            #expect(exchange.answer.hasPrefix("HTTP/1.1 200"), "\(exchange)")
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "left open: \(exchange)")
            // The retry, on a connection of its own, is upgraded.
            _ = try await StalledClient.connect(port: port, path: "/ws/room/new?x=1")
        }
    }

    /// NIO's parser reads nothing after a request that asks to upgrade: before, the third request
    /// here waited for the request timeout (30 s), and so did every request after it.
    @Test("A later request asking for another protocol is answered, then its connection closed")
    func otherUpgradeAfterARequest() async throws {
        try await withRelayServer { port, _ in
            let plain = "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let h2c =
                "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            let exchange = try await rawExchangeUntilClosed(port: port, plain + h2c + plain)
            let answers = exchange.answer.components(separatedBy: "HTTP/1.1 200 OK").dropFirst()
            #expect(answers.count == 2, "\(exchange)")
            #expect(answers.last?.lowercased().contains("connection: close\r\n") == true, "\(exchange)")
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "left open: \(exchange)")
        }
    }

    /// NIO's parser reads nothing after a request that asks to upgrade: kept alive, a first request
    /// asking for h2c (`curl --http2`) left its connection waiting for the request timeout.
    @Test("A first request asking for another protocol is answered, then its connection closed")
    func otherUpgradeFirst() async throws {
        try await withRelayServer { port, _ in
            let h2c =
                "GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            let exchange = try await rawExchangeUntilClosed(port: port, h2c)
            #expect(exchange.answer.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(exchange)")
            #expect(exchange.answer.hasSuffix("\r\n\r\n[]"), "\(exchange)")
            #expect(exchange.answer.lowercased().contains("connection: close\r\n"), "\(exchange)")
            #expect(exchange.serverClosed && exchange.elapsed < closedAtOnce, "left open: \(exchange)")
        }
    }
    /// Two ways an answer was cut short: hummingbird closes a connection at once when a request's
    /// handler throws, as the close of a late upgrade does; and NIO makes the half-close that ends
    /// an answer a full close once the client has half-closed. An 8 MB image still queued for the
    /// socket arrived as ~270 KB.
    @Test(
        "An answer arrives whole before its connection closes: after a late upgrade, or a client's half-close",
        arguments: [
            ("GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + rawUpgradeRequest(), false, 1),
            (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    + "GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\n"
                    + "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", false,
                2
            ),
            ("GET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", true, 1),
            (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/bosses/images/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    + rawUpgradeRequest(), true, 2
            ),
        ] as [(String, Bool, Int)])
    func answersArriveWhole(requests: String, halfClose: Bool, answers: Int) async throws {
        try await withTemporaryDirectory { images in
            let imageBytes = 4 << 20
            try Data(count: imageBytes).write(to: URL(fileURLWithPath: "\(images)/boss_02.png"))
            try await withRelayServer(configure: { $0.bossImagesDirectory = images }) { port, _ in
                // A small receive buffer keeps most of the image queued in the server when it closes.
                let exchange = try await rawExchange(port: port, requests, receiveBuffer: 65_536, halfClose: halfClose)
                #expect(exchange.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == answers)
                let image = try #require(exchange.range(of: "Content-Type: image/png", options: .backwards))
                let body = try #require(exchange.range(of: "\r\n\r\n", range: image.upperBound..<exchange.endIndex))
                #expect(exchange.utf8[body.upperBound...].count == imageBytes)
            }
        }
    }

    @Test("Cancelling the server's task ends it, room sockets open or not")
    func cancelledServerEnds() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = ServerConfiguration(apiKey: testAPIKey, dataDirectory: directory)
            configuration.port = 0
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            let store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
            let registry = RoomRegistry(
                limits: configuration.relay, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
            let (ports, portContinuation) = AsyncStream<Int>.makeStream()
            let app = buildApplication(
                configuration: configuration, scores: store, savedGames: store, bosses: store, rooms: registry,
                dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), services: [store], logger: logger
            ) { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
            }
            let ended = Mutex(false)
            // A test-only bridge: the server runs beside the test, which cancels it.
            let server = Task {
                try? await app.run()
                ended.withLock { $0 = true }
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let socket = TestSocket.connect(port: port)
            socket.send(["type": "ping"])
            try await socket.expect("pong")
            server.cancel()
            try await eventually { ended.withLock { $0 } }
            socket.close()
        }
    }
}

/// Headers of an opening handshake besides `Connection` and the key (RFC 6455 §4.1).
private let upgradeHeaders = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
/// RFC 6455's example key, a base64 16-byte nonce.
private let keyHeader = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

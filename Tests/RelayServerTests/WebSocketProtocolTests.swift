import Foundation
import Relay
import Testing

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
    static func nextMessageType(_ client: StalledClient, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> String?
    {
        while let frame = try await client.readFrame() {
            guard frame.opcode == Self.textOpcode else { continue }
            let object = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any]
            return object?["type"] as? String
        }
        Issue.record("the connection closed", sourceLocation: sourceLocation)
        return nil
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

    @Test("A message in fragments, with a ping between them, arrives whole")
    func fragmentedMessage() async throws {
        try await withRelayServer { port, registry in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            let message = Array(#"{"type":"create_room","room_name":"Pieces","player_name":"Host"}"#.utf8)
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.textOpcode, Array(message[..<20])))
            try client.sendRaw(StalledClient.frame(fin: true, opcode: Self.pingOpcode, [7]))
            try client.sendRaw(StalledClient.frame(fin: false, opcode: Self.continuationOpcode, Array(message[20..<40])))
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
            let host = TestSocket.connect(port: port)
            host.send(["type": "create_room", "room_name": "Bye", "player_name": "Host"])
            _ = try await host.expect("player_joined")
            let code = try #require(try await host.expect("room_created")["room_id"] as? String)
            let guest = try await StalledClient.connect(port: port, path: "/ws/room/\(code)")
            try guest.send(#"{"type":"join_room","room_id":"\#(code)","player_name":"Guest"}"#)
            _ = try await host.expect("player_joined")
            try guest.sendRaw(StalledClient.frame(fin: true, opcode: Self.closeOpcode, [0x03, 0xE8]))  // 1000
            var frame = try await guest.readFrame()
            while let text = frame, text.opcode == Self.textOpcode { frame = try await guest.readFrame() }
            #expect(frame?.closeCode == 1000)
            #expect(try await guest.readFrame() == nil, "the server hangs up after the handshake")
            _ = try await host.expect("player_disconnected")
        }
    }

    @Test(
        "Protocol errors close that connection with 1002; the server goes on",
        arguments: [
            ("a continuation with nothing to continue", StalledClient.frame(fin: true, opcode: 0, Array("x".utf8))),
            ("a reserved bit", [0xC1, 0x81, 0, 0, 0, 0, UInt8(ascii: "x")]),
            ("a reserved opcode", StalledClient.frame(fin: true, opcode: 3, [])),
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

    @Test("A client that answers no ping is closed with 1001")
    func unansweredPings() async throws {
        var limits = RelayLimits()
        limits.pingInterval = .milliseconds(100)
        try await withRelayServer(limits: limits) { port, _ in
            let client = try await StalledClient.connect(port: port, path: "/ws/room/new")
            #expect(try await client.readFrame()?.opcode == Self.pingOpcode)
            #expect(try await client.readFrame()?.closeCode == 1001)
            #expect(try await client.readFrame() == nil)
        }
    }

    @Test("A client that answers pings stays connected")
    func answeredPings() async throws {
        var limits = RelayLimits()
        limits.pingInterval = .milliseconds(200)
        try await withRelayServer(limits: limits) { port, _ in
            // The WebSocket client library answers each ping as it arrives, on its event loop.
            let client = TestSocket.connect(port: port)
            client.send(["type": "ping"])
            try await client.expect("pong")
            try await Task.sleep(for: .seconds(1.2))  // six pings
            client.send(["type": "ping"])
            try await client.expect("pong")
        }
    }

    @Test("Upgrades on other paths are refused")
    func otherPaths() async throws {
        try await withRelayServer { port, _ in
            for path in ["/ws/room/", "/ws/room/a/b", "/ws/rooms/new", "/api/scores"] {
                await #expect(throws: StalledClientError.self, "\(path)") {
                    try await StalledClient.connect(port: port, path: path)
                }
            }
            _ = try await StalledClient.connect(port: port, path: "/ws/room/new?client=game")
        }
    }
}

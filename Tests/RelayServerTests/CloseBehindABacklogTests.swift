import Foundation
import Relay
import Testing

@testable import RelayServer

/// A close frame that waits behind a backlog the client is still reading: whoever asked for the
/// close (the server, or the client itself), the client reads the backlog, then the close frame,
/// even when it has ended its half of the TCP connection meanwhile.
@Suite("Close frames behind a backlog")
struct CloseBehindABacklogTests {
    static let updates = 120

    /// Limits that let a host's backlog grow to ``updates`` large updates, and let it read that
    /// backlog as slowly as a loaded machine makes it.
    static var limits: RelayLimits {
        var limits = RelayLimits()
        limits.closeGracePeriod = .seconds(1)
        limits.closeDrainLimit = .seconds(60)
        limits.outboundQueueBytes = 8 << 20
        limits.outboundQueueAgeLimit = .zero  // a backlog left unread for as long as a loaded machine takes
        limits.stateMessagesPerSecond = 100_000
        limits.stateMessageBurst = 100_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        return limits
    }

    /// A room whose host, on a raw socket, has ``updates`` `player_state_update`s of 30 KB queued
    /// (3.6 MB) and has read none of them: its small segments, as over the internet, keep the
    /// server's kernel from taking much of it, so most waits in the server.
    static func hostWithABacklog(
        port: Int
    ) async throws -> (host: StalledClient, created: [String: Any], guest: TestSocket) {
        let host = try await StalledClient.connect(
            port: port, path: "/ws/room/new",
            early: [#"{"type":"create_room","room_name":"Backlog","player_name":"Host"}"#], maxSegmentSize: 1400)
        var created: [String: Any] = [:]
        while created["type"] as? String != "room_created" {
            let frame = try #require(try await host.readFrame())
            created = try #require(try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
        }
        return (host, created, try await Self.guestQueueing(Self.updates, updatesFor: created, port: port))
    }

    /// A guest that joins the room `created` names and sends `count` `player_state`s of 30 KB, each
    /// relayed to the host: all queued for it once this returns.
    static func guestQueueing(
        _ count: Int, updatesFor created: [String: Any], port: Int
    ) async throws -> TestSocket {
        let code = try #require(created["room_id"] as? String)
        let guest = TestSocket.connect(port: port, path: "/ws/room/\(code)")
        guest.send(["type": "join_room", "player_name": "Guest"])
        try await guest.skip(until: "room_joined")
        // Encoded once: the suite shares the CPU.
        let update = #"{"type":"player_state","state":{"x":1,"pad":"\#(String(repeating: "p", count: 30_000))"}}"#
        for _ in 0..<count { guest.send(raw: update) }
        guest.send(["type": "ping"])
        try await guest.skip(until: "pong")  // every update is queued for the host by now
        return guest
    }

    /// Replaces the host of `created` with a reconnect on a new socket: the server closes the old
    /// one with 4001, behind its backlog.
    static func replace(_ created: [String: Any], port: Int) async throws {
        let code = try #require(created["room_id"] as? String)
        let replacement = TestSocket.connect(port: port, path: "/ws/room/\(code)")
        replacement.send([
            "type": "reconnect", "room_id": code, "player_id": created["player_id"] ?? "",
            "token": created["reconnect_token"] ?? "",
        ])
        try await replacement.expect("reconnected")
    }

    static func updatesRead(in frames: [StalledClient.Frame]) -> Int {
        frames.filter { $0.opcode == 1 && String(decoding: $0.payload, as: UTF8.self).contains("player_state_update") }
            .count
    }

    /// The old connection is closed (4001) behind its backlog, which it reads for three times the
    /// grace period at least (120 × 25 ms), but steadily: it is not hung up mid-way. It starts
    /// reading first, so that a late test task cannot look like a client that stopped. With
    /// `halfCloses`, it then ends its TCP output, sending nothing more, and reads on.
    @Test(
        "A client the server closes while it reads a backlog gets all of it, then the close frame, half-closed or not",
        arguments: [false, true])
    func serverCloseWaitsForTheBacklog(halfCloses: Bool) async throws {
        try await withRelayServer(limits: Self.limits) { port, _ in
            let (host, created, _) = try await Self.hostWithABacklog(port: port)
            let reading = host.startReadingSlowly(pausing: .milliseconds(25))
            try await Self.replace(created, port: port)
            if halfCloses { host.shutdownWrite() }
            let frames = await reading.frames()
            #expect(Self.updatesRead(in: frames) == Self.updates)
            #expect(frames.last?.closeCode == 4001, "the connection ended without its close frame")
        }
    }

    /// A frame the server refuses (1002 for a reserved bit or a stray continuation, 1009 for its
    /// length or a message's 129th frame) sent while the server's 4001 waits behind the backlog: it
    /// ends the reading, not the backlog or the 4001.
    @Test(
        "A client that sends a refused frame while the server's close waits still gets its backlog, then that close",
        arguments: [
            [0xC1, 0x80, 0, 0, 0, 0],  // a reserved bit
            [0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0],  // 1 MiB, past the frame cap
            [0x00, 0x80, 0, 0, 0, 0],  // a continuation of nothing
            StalledClient.frame(fin: false, opcode: 1, Array("{".utf8))
                + Array(repeating: StalledClient.frame(fin: false, opcode: 0, []), count: 128).joined(),
        ] as [[UInt8]])
    func aRefusedFrameLeavesTheServersCloseAsItWas(_ refused: [UInt8]) async throws {
        try await withRelayServer(limits: Self.limits) { port, _ in
            let (host, created, _) = try await Self.hostWithABacklog(port: port)
            let reading = host.startReadingSlowly(pausing: .milliseconds(25))
            try await Self.replace(created, port: port)
            try host.sendRaw(refused)
            let frames = await reading.frames()
            #expect(Self.updatesRead(in: frames) == Self.updates)
            #expect(frames.last?.closeCode == 4001)
        }
    }

    @Test("A client that closes, then ends its TCP output, gets the answer to its close behind its backlog")
    func answerWaitsForAHalfClosedClient() async throws {
        try await withRelayServer(limits: Self.limits) { port, _ in
            let (host, _, guest) = try await Self.hostWithABacklog(port: port)
            // Reading first, on a thread of its own: a test task that came late to read after the
            // close (one did, under a loaded suite) looks like a client that stopped, hung up at 1 s.
            let reading = host.startReadingSlowly(pausing: .milliseconds(25))
            // As `nc -N` or a script's `shutdown(SHUT_WR)` after its close frame would.
            try host.sendRaw(StalledClient.frame(fin: true, opcode: 8, [0x03, 0xE8]))  // 1000
            host.shutdownWrite()
            _ = try await guest.expect("player_disconnected")  // the player leaves at once
            let frames = await reading.frames()
            // What had left the queue for the socket comes first (the rest is dropped: no data
            // frame follows a close frame), and the answer last.
            #expect(Self.updatesRead(in: frames) > 0)
            #expect(frames.last?.closeCode == 1000, "the connection ended without the answer to its close")
        }
    }
}

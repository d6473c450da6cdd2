import ArgumentParser
import Foundation
import Handlers
import Logging
import Persistence
import Relay
import Testing

@testable import RelayServer

/// `examples/custom-relay`: a server built with `RelayServerBuilder` and handlers of its own,
/// run as a real process and played over real WebSockets.
@Suite("A custom relay built with RelayServerBuilder", .serialized)
struct CustomRelayTests {
    /// The example relay on a free port, its data in `directory`, without plugins.
    private static func startExample(in directory: String) throws -> ChildRelay {
        try ChildRelay(
            executable: "custom-relay-example",
            arguments: ["--port", "0", "--data-dir", directory, "--plugins-dir", "\(directory)/none"],
            environment: ["API_KEY": testAPIKey])
    }

    /// Runs `body` against the example relay's port, then stops the relay, which must exit 0.
    private static func withExample(_ body: (Int) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let relay = try Self.startExample(in: directory)
            try await body(try await relay.listeningPort())
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// `socket` joins room `code` as `playerID`: it and the `members` already there get
    /// `player_joined`, then it gets `room_joined`, which this returns.
    @discardableResult
    private static func join(
        _ socket: TestSocket, room code: String, as playerID: String, seenBy members: [TestSocket]
    ) async throws -> [String: Any] {
        socket.send(["type": "join_room", "room_id": code, "player_name": playerID, "player_id": playerID])
        for member in members + [socket] { try await member.expect("player_joined") }
        return try await socket.expect("room_joined")
    }

    @Test("Its whisper handler and blank-chat filter work beside the built-in types")
    func whisperAndFilter() async throws {
        try await Self.withExample { port in
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)

            host.send(["type": "whisper", "to": room.guestID, "message": "psst"])
            let whisper = try await guest.expect("whisper")
            #expect(whisper["from"] as? String == room.hostID)
            #expect(whisper["message"] as? String == "psst")

            host.send(["type": "whisper", "to": "nobody", "message": "psst"])
            #expect(try await host.expect("error")["code"] as? String == "invalid_field")

            guest.send(["type": "chat", "message": "   "])  // dropped by the filter
            guest.send(["type": "chat", "message": "hello"])
            #expect(try await host.expect("chat")["message"] as? String == "hello")

            host.send(["type": "ping", "timestamp": 1])
            try await host.expect("pong")

            // Dropped, the guest keeps a seat but hears nothing: the whisper is refused, not lost.
            guest.close()
            try await host.expect("player_disconnected")
            host.send(["type": "whisper", "to": room.guestID, "message": "still there?"])
            #expect(try await host.expect("error")["code"] as? String == "invalid_field")
        }
    }

    @Test("Its vote_kick handler removes a member once a majority voted, with votes kept per member")
    func voteKick() async throws {
        try await Self.withExample { port in
            let (host, guest, third) = (
                TestSocket.connect(port: port), TestSocket.connect(port: port), TestSocket.connect(port: port)
            )
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest, maxPlayers: 3)
            try await Self.join(third, room: room.code, as: "third", seenBy: [host, guest])

            guest.send(["type": "vote_kick", "target": "third"])
            for socket in [host, guest, third] {
                let vote = try await socket.expect("kick_vote")
                #expect((vote["votes"] as? Int, vote["needed"] as? Int) == (1, 2))
            }
            host.send(["type": "vote_kick", "target": "third"])
            for socket in [host, guest, third] { try await socket.expect("kick_vote") }
            #expect(try await third.expect("room_left")["reason"] as? String == "voted out")
            for socket in [host, guest] {
                let left = try await socket.expect("player_left")
                #expect(left["player_id"] as? String == "third")
            }
            // Out of the room, its socket open: its messages are refused, once, whichever way
            // they take in the server.
            for x in 0..<20 { third.send(["type": "player_state", "state": ["x": x]]) }
            third.send(["type": "chat", "message": "hey"])
            third.send(["type": "ping"])
            #expect(try await third.expect("error")["code"] as? String == "not_in_room")
            try await third.expect("pong")

            host.send(["type": "vote_kick", "target": "third"])
            #expect(try await host.expect("error")["code"] as? String == "invalid_field")

            // Back under the same id: the votes against whoever had it went with them.
            try await Self.join(third, room: room.code, as: "third", seenBy: [host, guest])
            guest.send(["type": "vote_kick", "target": "third"])
            for socket in [host, guest, third] {
                let vote = try await socket.expect("kick_vote")
                #expect((vote["votes"] as? Int, vote["needed"] as? Int) == (1, 2))
            }

        }
    }

    @Test("Its round_start handler's timer ends the round unasked, and its observer tells a joiner the time left")
    func roundTimerAndObserver() async throws {
        try await Self.withExample { port in
            let (host, guest, third) = (
                TestSocket.connect(port: port), TestSocket.connect(port: port), TestSocket.connect(port: port)
            )
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest, maxPlayers: 3)
            guest.send(["type": "round_start", "seconds": 30])
            #expect(try await guest.expect("error")["code"] as? String == "not_host")
            host.send(["type": "round_start", "seconds": 2.5])
            #expect(try await host.expect("error")["code"] as? String == "invalid_field")

            // A joiner during a long round is told the time left.
            host.send(["type": "round_start", "seconds": 600])
            for socket in [host, guest] { #expect(try await socket.expect("round_started")["seconds"] as? Int == 600) }
            try await Self.join(third, room: room.code, as: "third", seenBy: [host, guest])
            let left = try #require(try await third.expect("round_state")["seconds_left"] as? Int)
            #expect((500...600).contains(left))

            // Each round replaces the one before: the first to end is the last started.
            host.send(["type": "round_start", "seconds": 1])
            host.send(["type": "round_start", "seconds": 3])
            for socket in [host, guest, third] {
                #expect(try await socket.expect("round_started")["seconds"] as? Int == 1)
                #expect(try await socket.expect("round_started")["seconds"] as? Int == 3)
                #expect(try await socket.expect("round_over")["seconds"] as? Int == 3)
            }
        }
    }

    @Test("Its vote_kick counts again as a member leaves: fewer present need fewer votes")
    func voteKickCountsAgain() async throws {
        try await Self.withExample { port in
            let sockets = (0..<5).map { _ in TestSocket.connect(port: port) }
            let room = try await RelayFlowTests.openRoom(port, host: sockets[0], guest: sockets[1], maxPlayers: 5)
            for (index, socket) in sockets.enumerated().dropFirst(2) {
                try await Self.join(socket, room: room.code, as: "p\(index)", seenBy: Array(sockets[..<index]))
            }
            // Against p4, with four others present: three votes needed.
            for voter in [sockets[0], sockets[1]] {
                voter.send(["type": "vote_kick", "target": "p4"])
                for socket in sockets { try await socket.expect("kick_vote") }
            }
            // p3, who did not vote, leaves: three present, two votes are enough.
            sockets[3].send(["type": "leave_room"])
            try await sockets[3].expect("room_left")
            for socket in [sockets[0], sockets[1], sockets[4]] {
                #expect(try await socket.expect("player_left")["player_id"] as? String == "p3")
            }
            #expect(try await sockets[4].expect("room_left")["reason"] as? String == "voted out")
            for socket in [sockets[0], sockets[1]] {
                #expect(try await socket.expect("player_left")["player_id"] as? String == "p4")
            }
        }
    }

    @Test("Its observers hear drops and reconnects: a drop lowers the votes needed, and one back is told the time left")
    func dropsAndReconnects() async throws {
        try await Self.withExample { port in
            let sockets = (0..<5).map { _ in TestSocket.connect(port: port) }
            let room = try await RelayFlowTests.openRoom(port, host: sockets[0], guest: sockets[1], maxPlayers: 5)
            var p3Token = ""
            for (index, socket) in sockets.enumerated().dropFirst(2) {
                let welcome = try await Self.join(
                    socket, room: room.code, as: "p\(index)", seenBy: Array(sockets[..<index]))
                if index == 3 { p3Token = try #require(welcome["reconnect_token"] as? String) }
            }
            sockets[0].send(["type": "round_start", "seconds": 600])
            for socket in sockets { try await socket.expect("round_started") }
            // Against p4, with four others present: three votes needed, two cast.
            for voter in [sockets[0], sockets[1]] {
                voter.send(["type": "vote_kick", "target": "p4"])
                for socket in sockets { try await socket.expect("kick_vote") }
            }
            // p3, who did not vote, drops: three present, two votes are enough.
            sockets[3].close()
            for socket in [sockets[0], sockets[1], sockets[2], sockets[4]] {
                #expect(try await socket.expect("player_disconnected")["player_id"] as? String == "p3")
            }
            #expect(try await sockets[4].expect("room_left")["reason"] as? String == "voted out")
            for socket in [sockets[0], sockets[1], sockets[2]] {
                #expect(try await socket.expect("player_left")["player_id"] as? String == "p4")
            }
            // p3 comes back while the round runs, and is told the time left after its welcome.
            let back = TestSocket.connect(port: port)
            back.send(["type": "reconnect", "room_id": room.code, "player_id": "p3", "token": p3Token])
            try await back.expect("reconnected")
            try await back.expect("player_reconnected")
            let left = try #require(try await back.expect("round_state")["seconds_left"] as? Int)
            #expect((500...600).contains(left))
            for socket in [sockets[0], sockets[1], sockets[2]] { try await socket.expect("player_reconnected") }
        }
    }

    /// An `emote` of a game's own, in place of the built-in one.
    struct OwnEmote: MessageHandler {
        let messageType = "emote"
        func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {}
    }

    @Test("A built-in type's handler can be taken away, and the type registered anew")
    func replacingABuiltIn() throws {
        var server = RelayServerBuilder()
        server.register(OwnEmote())
        #expect(throws: MessageDispatcher.RegistrationError.duplicateType("emote")) {
            try MessageDispatcher(handlers: server.handlers)
        }
        server = RelayServerBuilder()
        let removed = server.removeHandler(for: "emote")
        let removedAgain = server.removeHandler(for: "emote")
        #expect(removed && !removedAgain)
        server.register(OwnEmote())
        _ = try MessageDispatcher(handlers: server.handlers)
        #expect(server.handlers.filter { $0.messageType == "emote" }.map { $0 is OwnEmote } == [true])
        #expect(server.handlers.count == BuiltInHandlers.all.count)
    }

    /// Another spelling of a type, though canonically equal ("\u{212A}ick", with a Kelvin sign,
    /// == "Kick" to Swift), is another type, as dispatch reads types: it takes nothing away.
    @Test func removingAnotherSpellingOfATypeRemovesNothing() {
        struct Kick: MessageHandler {
            let messageType = "Kick"
            func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {}
        }
        var server = RelayServerBuilder()
        server.register(Kick())
        let removedOtherSpelling = server.removeHandler(for: "\u{212A}ick")
        let removed = server.removeHandler(for: "Kick")
        #expect(!removedOtherSpelling && removed)
    }

    @Test("A bad flag exits non-zero with a message, like relay")
    func badFlag() async throws {
        let relay = try ChildRelay(
            executable: "custom-relay-example", arguments: ["--port", "seventy"], environment: [:])
        #expect(try await relay.exitStatus() != 0)
        #expect(relay.printed.contains("--port"))
    }

    @Test("Two in-process handlers of one type stop the start before the store opens, with status 3")
    func duplicateHandler() async throws {
        try await withTemporaryDirectory { directory in
            let command = try RelayCommand.parse(["--port", "0", "--data-dir", directory])
            let twice = try #require(BuiltInHandlers.all.first)
            await #expect(throws: ExitCode(3)) {
                try await command.run(handlers: BuiltInHandlers.all + [twice], filters: [])
            }
            #expect(!FileManager.default.fileExists(atPath: ServerConfiguration.databasePath(in: directory)))
        }
    }

    @Test("An in-process filter for a type nothing answers stops the start with status 3, the store closed")
    func filterForNoHandler() async throws {
        struct Orphan: MessageFilter {
            let messageType = "no_such_type"
            func filter(
                _ message: InboundMessage, session: ConnectionSession
            ) async throws(RelayError)
                -> InboundMessage?
            { message }
        }
        try await withTemporaryDirectory { directory in
            let command = try RelayCommand.parse(["--port", "0", "--data-dir", directory])
            await #expect(throws: ExitCode(3)) {
                try await command.run(handlers: BuiltInHandlers.all, filters: [Orphan()])
            }
            // Closed, so its lock is free: another store opens the folder's database.
            let store = try await SQLiteGameStore.open(
                PersistenceConfiguration(databasePath: ServerConfiguration.databasePath(in: directory)),
                logger: Logger(label: "check"))
            await store.close()
        }
    }
}

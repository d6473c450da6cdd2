import ArgumentParser
import ChildProcess
import Testing

@testable import RelayBenchKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bench against servers that get the protocol wrong on purpose (``ScriptedRelay``): what
/// they do wrong must show in its figures, never pass as a success.
@Suite("The bench against a misbehaving server")
struct MisbehavingServerTests {
    /// A server that confirms every create with room AAAAAA and every join with `joinedRoom`.
    static func confirming(joinsInto joinedRoom: String) -> @Sendable (String) -> [String] {
        { text in
            if text.contains(#""create_room""#) {
                return [#"{"type":"room_created","room_id":"AAAAAA","player_id":"p1"}"#]
            }
            if text.contains(#""join_room""#) {
                return [#"{"type":"room_joined","room_id":"\#(joinedRoom)","player_id":"p2"}"#]
            }
            return []
        }
    }

    static func context(port: Int, joinTimeoutSeconds: Int64 = 30) throws -> BenchContext {
        BenchContext(
            target: try BenchTarget(url: "ws://127.0.0.1:\(port)"), threads: 1, serverPID: nil,
            joinTimeoutSeconds: joinTimeoutSeconds)
    }

    /// A script reading the exit status must not take a table of zeros for a result.
    @Test(
        "Every scenario whose rooms the server all refuses exits non-zero",
        arguments: [
            ["relay", "--rooms", "1", "--duration", "1s"], ["fanout", "--rooms", "1", "--duration", "1s"],
            ["step", "--start-rooms", "1", "--max-rooms", "1", "--step-duration", "1s"],
            ["slow-consumer", "--rooms", "1", "--duration", "1s"], ["join-storm", "--rate", "5", "--duration", "1s"],
            ["idle", "--connections", "2", "--hold", "0.1s"],
        ])
    func refusedEverywhereFails(_ arguments: [String]) async throws {
        let refusal = #"{"type":"error","code":"server_full","message":"The server is full"}"#
        try await ScriptedRelay.with(answer: { _ in [refusal] }) { server in
            let command = try RelayBenchCommand.parseAsRoot(
                [arguments[0], "ws://127.0.0.1:\(server.port)", "--quiet"] + arguments.dropFirst())
            await #expect(throws: ExitCode.failure, "\(arguments[0])") {
                var command = try #require(command as? any AsyncParsableCommand)
                try await command.run()
            }
        }
    }

    /// Nor a person: the table's zeros (`lost 0 (0.000%)`, `p99 0.00`) looked like a clean run.
    @Test("A table of a run that measured nothing ends by saying so, and why; its JSON does not")
    func nothingMeasuredIsSaid() async throws {
        let refusal = #"{"type":"error","code":"server_full","message":"The server is full"}"#
        try await ScriptedRelay.with(answer: { _ in [refusal] }) { server in
            let context = try Self.context(port: server.port)
            var slow = SlowConsumerScenario(rooms: 1, players: 2, slowPercent: 50, hertz: 10, seconds: 0.2)
            (slow.drainSeconds, slow.dropWaitSeconds, slow.collectSeconds) = (0.1, 0.1, 0.1)
            let reports: [(any ScenarioReport, String)] = [
                (try await slow.run(in: context), "no room was set up"),
                (
                    try await JoinStormScenario(rate: 5, seconds: 0.4, players: 2, holdSeconds: 0.1).run(in: context),
                    "no arrival created or joined a room"
                ),
                (
                    try await RelayScenario(name: "relay", rooms: 1, players: 2, hertz: 10, seconds: 0.2)
                        .run(in: context), "no room was set up"
                ),
            ]
            for (report, why) in reports {
                #expect(report.measuredNothing)
                let table = report.output(json: false)
                #expect(table.hasSuffix("\nnothing measured: \(why) (exit status 1)"), "\(table)")
                #expect(!report.output(json: true).contains("nothing measured"))
            }
        }
    }

    /// NIO's own text for it read `connection reset (error set): Connection refused) (errno: 111)`.
    @Test("A refused connection is reported as refused, in plain words")
    func refusedConnection() async throws {
        // Bound but not listening: a connect to it is refused, and the port stays this test's.
        let (descriptor, port) = try boundLoopbackSocket()
        defer { close(descriptor) }
        let report = try await RelayScenario(name: "relay", rooms: 1, players: 2, hertz: 10, seconds: 0.2)
            .run(in: try Self.context(port: port))
        #expect(Array(report.setup.failures.keys) == ["connection failed: Connection refused (errno \(ECONNREFUSED))"])
    }

    @Test("A join the server confirms into another room than the code asked for fails the room's set-up")
    func joinIntoAnotherRoom() async throws {
        for (joinedRoom, fails) in [("AAAAAA", false), ("BBBBBB", true)] {
            try await ScriptedRelay.with(answer: Self.confirming(joinsInto: joinedRoom)) { server in
                let connector = try Self.context(port: server.port).makeConnector()
                let fleet = RoomFleet(connector: connector)
                let setup = await fleet.addRooms(1, players: 2, concurrency: 1)
                await fleet.closeAll()
                await connector.shutdown()
                #expect(setup.roomsFailed == (fails ? 1 : 0), "\(joinedRoom): \(setup.failures)")
                #expect(
                    setup.failures == (fails ? ["joined another room than the code asked for": 1] : [:]),
                    "\(joinedRoom)")
            }
        }
    }

    @Test("join-storm counts a join confirmed into another room as a failure, not a join")
    func joinStormIntoAnotherRoom() async throws {
        for (joinedRoom, fails) in [("AAAAAA", false), ("BBBBBB", true)] {
            try await ScriptedRelay.with(answer: Self.confirming(joinsInto: joinedRoom)) { server in
                let report = try await JoinStormScenario(rate: 30, seconds: 1, players: 3, holdSeconds: 0.1)
                    .run(in: try Self.context(port: server.port))
                #expect(report.arrivals == 30)
                #expect(report.roomsCreated >= 10, "\(joinedRoom)")
                #expect(report.joined == (fails ? 0 : 30 - report.roomsCreated), "\(joinedRoom): \(report.failures)")
                #expect(report.failed == (fails ? 30 - report.roomsCreated : 0), "\(joinedRoom): \(report.failures)")
            }
        }
    }

    static let created = #"{"type":"room_created","room_id":"AAAAAA","player_id":"p1"}"#
    static let joined = #"{"type":"room_joined","room_id":"AAAAAA","player_id":"p2"}"#
    static let oops = #"{"type":"error","code":"oops","message":"Oops"}"#

    @Test("join-storm ranks a refused arrival past every join, and warns of errors sent after joining")
    func joinStormRefusalsAndErrors() async throws {
        // The first create is confirmed (then told of an error); every other arrival is refused,
        // create or join, so that the counts do not depend on how a loaded run mixes them.
        let confirmedOne = Locked(false)
        try await ScriptedRelay.with(answer: { text in
            guard text.contains(#""create_room""#) || text.contains(#""join_room""#) else { return [] }
            let isFirst =
                text.contains(#""create_room""#)
                && confirmedOne.withLock { confirmed in
                    defer { confirmed = true }
                    return !confirmed
                }
            return isFirst ? [Self.created, Self.oops] : [#"{"type":"error","code":"server_full","message":"Full"}"#]
        }) { server in
            let report = try await JoinStormScenario(rate: 20, seconds: 1, players: 2, holdSeconds: 0.3)
                .run(in: try Self.context(port: server.port))
            #expect(report.roomsCreated == 1 && report.failed == report.arrivals - 1, "\(report.failures)")
            // Counted as later than every join: the percentiles among them read `lost`.
            #expect(report.latency.lost == report.failed && report.latency.max == LatencySnapshot.pastTheDrain)
            #expect(report.afterJoining.errors == report.roomsCreated)
            #expect(report.table().contains("WARNING     the server sent \(report.roomsCreated) error messages"))
        }
    }

    static let full = #"{"type":"error","code":"server_full","message":"Full"}"#
    static let notInRoom = #"{"type":"error","code":"not_in_room","message":"Not in a room"}"#

    /// The relay answers a `leave_room` from a connection in no room with `not_in_room`: a refused
    /// arrival, left at the end, must neither ask nor count that answer as an error after joining.
    @Test("join-storm neither sends leave_room from refused arrivals nor counts an error to one as after joining")
    func joinStormRefusedArrivalsLeave() async throws {
        let leaveRooms = Locked(0)
        try await ScriptedRelay.with(answer: { text in
            guard text.contains("leave_room") else { return [Self.full] }
            leaveRooms.withLock { $0 += 1 }
            return [Self.notInRoom]
        }) { server in
            let report = try await JoinStormScenario(rate: 10, seconds: 1, players: 2, holdSeconds: 0.1)
                .run(in: try Self.context(port: server.port))
            #expect(report.arrivals == 10 && report.failed == report.arrivals, "\(report.failures)")
            #expect(report.afterJoining.errors == 0, "\(report.afterJoining)")
            #expect(!report.table().contains("error messages"), "\(report.table())")
            #expect(leaveRooms.value == 0)
        }
    }

    @Test("An error the server sends after refusing the join is not counted as one to a joined connection")
    func errorAfterRefusal() async throws {
        try await ScriptedRelay.with(answer: { _ in [Self.full, Self.notInRoom] }) { server in
            let connector = try Self.context(port: server.port).makeConnector()
            let socket = try await connector.connect(.create(playerName: "refused", maxPlayers: 2))
            await #expect(throws: ServerRefusal.self) { try await socket.confirmation() }
            // The server closes when it reads the close frame, after both errors were written.
            socket.leave()
            _ = try await socket.closed.get()
            #expect(connector.events.serverErrors == 0, "\(connector.events.firstServerError ?? "")")
            await connector.shutdown()
        }
    }

    /// A silent server keeps every attempt waiting up to the join timeout: that wait is no part of
    /// how long the bench took to send the arrivals.
    @Test("join-storm times the sending of the arrivals, not the wait for their answers")
    func joinStormSecondsAgainstASilentServer() async throws {
        try await ScriptedRelay.with(answer: { _ in [] }) { server in
            let started = ContinuousClock.now
            let report = try await JoinStormScenario(rate: 10, seconds: 0.5, players: 2, holdSeconds: 0)
                .run(in: try Self.context(port: server.port, joinTimeoutSeconds: 2))
            let runSeconds = (ContinuousClock.now - started).seconds
            #expect(report.arrivals == 5 && report.failed == report.arrivals, "\(report.failures)")
            // The last arrival, sent as the sending ends, waits out its 2 s after: not a bound on the
            // sending's own time, which a busy machine (the whole suite) stretches to seconds.
            #expect(runSeconds - report.stormSeconds >= 1.5, "sent over \(report.stormSeconds) s of \(runSeconds) s")
        }
    }

    @Test("join-storm warns of joined connections the server closed before the bench left")
    func joinStormServerCloses() async throws {
        try await ScriptedRelay.with(answer: { text in
            if text.contains(#""create_room""#) { return [Self.created, "close:4001"] }
            if text.contains(#""join_room""#) { return [Self.joined, "close:4001"] }
            return []
        }) { server in
            let report = try await JoinStormScenario(rate: 20, seconds: 1, players: 2, holdSeconds: 0.3)
                .run(in: try Self.context(port: server.port))
            // Every arrival joined, then was closed, however a loaded run mixed creates and joins.
            #expect(report.failed == 0, "\(report.failures)")
            #expect(report.afterJoining.closes == 20 && report.afterJoining.firstCloseCode == 4001)
            #expect(report.table().contains("WARNING     the server closed 20 joined connections"))
        }
    }

    @Test("relay warns of connections the server closed outside the window's sends")
    func relayServerClosesOutsideTheWindow() async throws {
        try await ScriptedRelay.with(answer: { text in
            if text.contains(#""create_room""#) { return [Self.created] }
            if text.contains(#""join_room""#) { return [Self.joined, "close:4001"] }
            return []
        }) { server in
            let report = try await RelayScenario(rooms: 2, players: 2, hertz: 10, seconds: 0.3, drainSeconds: 0.1)
                .run(in: try Self.context(port: server.port))
            #expect(report.serverCloses == 2 && report.firstServerCloseCode == 4001)
            #expect(report.table().contains("closed by the server 2"), "\(report.table())")
            // Closed as they joined, before the window: no close while sending warned of them.
            #expect(report.window?.latency.closedWhileSending == 0)
            #expect(report.table().contains("WARNING     the server closed 2 joined connections (first: code 4001)"))
        }
    }

    /// A confirmation whose `room_info` shows 3 players in a room of at most 2.
    static let overCapacity = #""room_info":{"room_id":"AAAAAA","player_count":3,"max_players":2}"#

    /// Against the real relay the count of rooms over capacity is only ever 0: a server that lets a
    /// room grow past its `max_players` must show in both reports, not pass unnoticed.
    @Test("A room the server announces over its max_players is counted by join-storm and warned of by relay")
    func roomOverMaxPlayers() async throws {
        // Creates and joins alike: the counts do not depend on how a loaded run mixes them.
        try await ScriptedRelay.with(answer: { text in
            if text.contains(#""create_room""#) {
                return [#"{"type":"room_created","room_id":"AAAAAA","player_id":"p1",\#(Self.overCapacity)}"#]
            }
            if text.contains(#""join_room""#) {
                return [#"{"type":"room_joined","room_id":"AAAAAA","player_id":"p2",\#(Self.overCapacity)}"#]
            }
            return []
        }) { server in
            let storm = try await JoinStormScenario(rate: 20, seconds: 1, players: 2, holdSeconds: 0.1)
                .run(in: try Self.context(port: server.port))
            #expect(storm.failed == 0, "\(storm.failures)")
            #expect(storm.roomsOverCapacity == 1)
            #expect(storm.table().contains("rooms the server reported over capacity: 1"), "\(storm.table())")
            let relay = try await RelayScenario(rooms: 1, players: 2, hertz: 10, seconds: 0.2, drainSeconds: 0.1)
                .run(in: try Self.context(port: server.port))
            #expect(relay.setup.roomsReady == 1, "\(relay.setup.failures)")
            #expect(relay.roomsOverCapacity == 1)
            #expect(relay.table().contains("WARNING     1 rooms reported more players than their max_players"))
        }
    }

    /// Each sender's own message back, as a room-mate's (another stream of its room) stamped
    /// `ahead` µs later, labelled with `playerID`; without its sequence and stream if `stripped`.
    /// `relayedStream` names the stream it is relayed as, from the sender's own.
    static func relayingStamps(
        ahead: Int64, stripped: Bool = false, labelledAs playerID: String = "mate",
        asStream relayedStream: @escaping @Sendable (Int64) -> Int64 = { $0 ^ 1 }
    ) -> @Sendable (String) -> [String] {
        { text in
            if text.contains(#""create_room""#) { return [Self.created] }
            if text.contains(#""join_room""#) { return [Self.joined] }
            guard let match = text.firstMatch(of: /"t":(\d+),"s":(\d+),"k":(\d+)/),
                let (due, sequence, stream) = Int64(match.1).flatMap({ due in
                    Int64(match.2).flatMap { sequence in Int64(match.3).map { (due, sequence, $0) } }
                })
            else { return [] }
            let stamp = stripped ? "\(due + ahead)" : "\(due + ahead),\"s\":\(sequence),\"k\":\(relayedStream(stream))"
            return [
                #"{"type":"player_state_update","room_info":{"players":[{"player_id":"p1"}]},"player_id":"\#(playerID)","state":{"t":\#(stamp)}}"#
            ]
        }
    }

    /// What one short room (2 players, 20 Hz, 0.5 s) measures against a relay answering with `answer`.
    static func latency(against answer: @escaping @Sendable (String) -> [String]) async throws -> LatencySnapshot {
        try await ScriptedRelay.with(answer: answer) { server in
            let report = try await RelayScenario(rooms: 1, players: 2, hertz: 20, seconds: 0.5, drainSeconds: 0.1)
                .run(in: try Self.context(port: server.port))
            return try #require(report.window?.latency)
        }
    }

    @Test("A relay without the sequence and stream the bench stamped is unreadable, not a delivery")
    func relayWithoutSequenceAndStream() async throws {
        let latency = try await Self.latency(against: Self.relayingStamps(ahead: 0, stripped: true))
        #expect(latency.sent > 0 && latency.delivered == 0 && latency.unreadable > 0, "\(latency)")
    }

    @Test("A room-mate's relay labelled with its receiver's own player_id is counted apart, not a delivery")
    func relayLabelledWithTheReceiversOwnID() async throws {
        // Labelled p2: wrong for the joiner (p2), right for the creator (p1).
        let latency = try await Self.latency(against: Self.relayingStamps(ahead: 0, labelledAs: "p2"))
        #expect(latency.mislabelled > 0 && latency.delivered > 0, "\(latency)")
        #expect(Format.wrongDeliveries(latency)?.contains("labelled with their receiver's own player_id") == true)
    }

    /// A server that sends each message back to its sender instead of to the room-mates: every
    /// room-mate lost it, and a delivery counted for the echo would hide that loss.
    @Test("A relay of the receiver's own stream is an echo and a loss, not a delivery")
    func echoIsNoDelivery() async throws {
        let latency = try await Self.latency(against: Self.relayingStamps(ahead: 0, asStream: { $0 }))
        #expect(latency.sent > 0 && latency.echoed > 0, "\(latency)")
        #expect(latency.delivered == 0 && latency.lost > 0, "\(latency)")
    }

    /// A server that sends a room's messages to another room: the receiver must tell it by the
    /// room number in the stream id (``StreamID``), which it learns when it starts sending.
    @Test("A relay of a stream sent in another room is misrouted and a loss, not a delivery")
    func misroutedIsNoDelivery() async throws {
        // The room-mate's stream, renumbered into the next room (the room sits above the serial bits).
        let nextRoom: @Sendable (Int64) -> Int64 = { ($0 ^ 1) + (1 << StreamID.serialBits) }
        let latency = try await Self.latency(against: Self.relayingStamps(ahead: 0, asStream: nextRoom))
        #expect(latency.sent > 0 && latency.misrouted > 0, "\(latency)")
        #expect(latency.delivered == 0 && latency.lost > 0, "\(latency)")
    }

    @Test("A relay stamped later than it arrived is an unreadable stamp, not a latency of 1 µs")
    func stampFromTheFuture() async throws {
        // Half a second ahead: the old check let a stamp up to a second ahead pass.
        for ahead: Int64 in [0, 500_000] {
            let latency = try await Self.latency(against: Self.relayingStamps(ahead: ahead))
            #expect(latency.sent > 0, "ahead \(ahead)")
            if ahead == 0 {
                #expect(latency.delivered > 0 && latency.unreadable == 0, "\(latency)")
                // Labelled "mate", after room_info's nested "p1" (the creator's id): not mislabelled.
                #expect(latency.mislabelled == 0, "\(latency)")
            } else {
                // Each is unreadable, unless a loaded machine took half a second to carry it.
                #expect(latency.unreadable > 0 && latency.unreadable >= latency.delivered, "\(latency)")
            }
        }
    }

    @Test("A confirmation's player_id is its own, not one of its room_info's players written before it")
    func confirmationPlayerIDIsTopLevel() async throws {
        try await ScriptedRelay.with(answer: { text in
            guard text.contains(#""join_room""#) else { return [] }
            return [
                #"{"type":"room_joined","room_info":{"room_id":"AAAAAA","players":[{"player_id":"p1"}]},"#
                    + #""room_id":"AAAAAA","player_id":"p2"}"#
            ]
        }) { server in
            let connector = try Self.context(port: server.port).makeConnector()
            let socket = try await connector.connect(.join(code: "AAAAAA", playerName: "joiner"))
            #expect(try await socket.confirmation(joining: "AAAAAA").playerID == "p2")
            socket.leave(grace: .milliseconds(200))
            _ = try await socket.closed.get()
            await connector.shutdown()
        }
    }

    @Test("A frame over the bench's 1 MB limit is the server's error, and a close the bench started")
    func frameTheBenchRefuses() async throws {
        let oversized = String(repeating: "x", count: (1 << 20) + 1)
        try await ScriptedRelay.with(answer: { text in
            text.contains(#""create_room""#) ? [Self.created, oversized] : []
        }) { server in
            let connector = try Self.context(port: server.port).makeConnector()
            let socket = try await connector.connect(.create(playerName: "refuses", maxPlayers: 2))
            _ = try await socket.confirmation()
            let outcome = try await socket.closed.get()
            #expect(outcome.closedByBench, "\(outcome)")
            // Not the server's close: the bench hung up on it.
            #expect(connector.events.serverCloses.count == 0, "\(connector.events.serverCloses)")
            #expect(connector.events.serverErrors == 1)
            #expect(connector.events.firstServerError?.contains("close 1009") == true)
            await connector.shutdown()
        }
    }

    @Test("A frame the bench refuses before the join is the join's refusal, not an error after joining")
    func frameTheBenchRefusesBeforeJoining() async throws {
        let oversized = String(repeating: "x", count: (1 << 20) + 1)
        try await ScriptedRelay.with(answer: { text in text.contains(#""create_room""#) ? [oversized] : [] }) {
            server in
            let connector = try Self.context(port: server.port).makeConnector()
            let socket = try await connector.connect(.create(playerName: "refuses", maxPlayers: 2))
            await #expect {
                try await socket.confirmation()
            } throws: { error in
                (error as? ServerRefusal)?.message.contains("close 1009") == true
            }
            _ = try await socket.closed.get()
            #expect(connector.events.serverErrors == 0, "\(connector.events.firstServerError ?? "")")
            await connector.shutdown()
        }
    }

    /// What follows the server's close frame is not read: a frame after it, which the bench would
    /// refuse, must not turn the server's close into the bench's.
    @Test("Nothing after the server's close frame is read")
    func nothingAfterTheServersCloseIsRead() async throws {
        let oversized = String(repeating: "x", count: (1 << 20) + 1)
        try await ScriptedRelay.with(answer: { text in
            text.contains(#""create_room""#) ? [Self.created, "close+:4000", oversized] : []
        }) { server in
            let connector = try Self.context(port: server.port).makeConnector()
            let socket = try await connector.connect(.create(playerName: "closed", maxPlayers: 2))
            _ = try await socket.confirmation()
            let outcome = try await socket.closed.get()
            #expect(outcome.serverCloseCode == 4000 && !outcome.closedByBench, "\(outcome)")
            #expect(connector.events.serverCloses.count == 1)
            #expect(connector.events.serverErrors == 0, "\(connector.events.firstServerError ?? "")")
            await connector.shutdown()
        }
    }

    @Test("slow-consumer shows healthy players the server closed and errors it sent")
    func slowConsumerHealthyCloses() async throws {
        // The creator (healthy) is closed after the create; the joiner (slow) is sent an error.
        try await ScriptedRelay.with(answer: { text in
            if text.contains(#""create_room""#) { return [Self.created, "close:4001"] }
            if text.contains(#""join_room""#) { return [Self.joined, Self.oops] }
            return []
        }) { server in
            var scenario = SlowConsumerScenario(rooms: 1, players: 2, slowPercent: 50, hertz: 10, seconds: 0.2)
            (scenario.drainSeconds, scenario.dropWaitSeconds, scenario.collectSeconds) = (0.1, 0.1, 0.1)
            let report = try await scenario.run(in: try Self.context(port: server.port))
            #expect(report.slowPlayers == 1 && report.setup.roomsReady == 1, "\(report.setup.failures)")
            #expect(report.healthyClosedByServer == 1 && report.firstHealthyCloseCode == 4001)
            #expect(report.serverErrors == 1 && report.firstServerError?.contains("oops") == true)
            #expect(report.table().contains("WARNING     the server closed 1 healthy players (first: code 4001)"))
        }
    }

    @Test("A joined connection the server closes is counted with its code; one the bench leaves is not")
    func serverClosesAreCounted() async throws {
        try await ScriptedRelay.with(answer: { text in
            guard text.contains(#""create_room""#) else { return [] }
            let code = text.contains("closed") ? "CLOSED" : "AAAAAA"
            let created = #"{"type":"room_created","room_id":"\#(code)","player_id":"p1"}"#
            return code == "CLOSED" ? [created, "close:4000"] : [created]
        }) { server in
            let connector = try Self.context(port: server.port).makeConnector()
            let closed = try await connector.connect(.create(playerName: "closed", maxPlayers: 2))
            #expect(try await closed.confirmation().roomCode == "CLOSED")
            let outcome = try await closed.closed.get()
            #expect(outcome == CloseOutcome(serverCloseCode: 4000, closedByBench: false))
            let left = try await connector.connect(.create(playerName: "left", maxPlayers: 2))
            _ = try await left.confirmation()
            left.leave(grace: .milliseconds(200))
            _ = try await left.closed.get()
            let closes = connector.events.serverCloses
            #expect(closes.count == 1 && closes.firstCode == 4000, "\(closes)")
            await connector.shutdown()
        }
    }

    @Test("idle counts only the connections still open when it read the memory, and warns of those the server closed")
    func idleConnectionsTheServerCloses() async throws {
        try await ScriptedRelay.with(answer: { text in
            if text.contains(#""create_room""#) {
                return [#"{"type":"room_created","room_id":"AAAAAA","player_id":"p1"}"#]
            }
            guard text.contains(#""join_room""#) else { return [] }
            return [#"{"type":"room_joined","room_id":"AAAAAA","player_id":"p2"}"#, "close:4000"]
        }) { server in
            let report = try await IdleScenario(connections: 6, players: 2, holdSeconds: 0.2, settleSeconds: 0.5)
                .run(in: try Self.context(port: server.port))
            #expect(report.setup.players == 6 && report.setup.roomsFailed == 0)
            #expect(report.closedByServer == 3 && report.firstCloseCode == 4000)
            #expect(report.connectionsOpen == 3, "the creators alone")
            #expect(report.table().contains("WARNING     the server closed 3 joined connections (first: code 4000)"))
            #expect(report.table().contains("of the 3 still open when it was read"))
        }
    }
}

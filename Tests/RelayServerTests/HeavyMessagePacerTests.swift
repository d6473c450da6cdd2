import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Relay
import Synchronization
import Testing

@testable import Handlers
@testable import RelayServer

/// Large messages take turns with everything else on their loop (``HeavyMessagePacer``).
@Suite("Heavy message pacer")
struct HeavyMessagePacerTests {
    typealias Pacer = HeavyMessagePacer

    /// A large message's size: a full frame of small values.
    static let large = 65_536

    /// The turn of a first large message, which never waits.
    static func firstTurn(_ pacer: inout Pacer, at now: NIODeadline) throws -> Pacer.Turn {
        let answer = pacer.ask(rank: now, bytes: Self.large, now: now)
        return try #require(answer.turn, "the first large message waited")
    }

    @Test("After a large message's handling, the next large one waits as long again; none waits at first")
    func waitsAsLongAgain() throws {
        var pacer = Pacer()
        let start = NIODeadline.now()
        let first = try Self.firstTurn(&pacer, at: start)
        let second = pacer.ask(rank: start, bytes: Self.large, now: start + .milliseconds(1))
        let ticket = try #require(second.ticket, "a large message went during another's turn")
        let rank = pacer.handled(first, now: start + .milliseconds(5))
        #expect(rank == start + .milliseconds(500), "the turn's 5 ms move the connection's rank on 100-fold")
        #expect(pacer.nextTurnAt == start + .milliseconds(10))
        #expect(pacer.nextTurn(now: start + .milliseconds(9)) == nil, "the others' 5 ms are not over")
        let given = pacer.nextTurn(now: start + .milliseconds(10))
        let next = try #require(given)
        #expect(next.ticket == ticket)
        #expect(next.turn.started == start + .milliseconds(10))
        #expect(pacer.nextTurnAt == nil, "none waits")
        pacer.handled(next.turn, now: start + .milliseconds(11))
        #expect(
            pacer.ask(rank: start, bytes: Self.large, now: start + .milliseconds(11)) == .wait(ticket: ticket + 1),
            "1 ms to others")
    }

    @Test("The next turn goes to the connection of the earliest rank, the first to ask among equals")
    func earliestRankFirst() throws {
        var pacer = Pacer()
        let start = NIODeadline.now()
        let first = try Self.firstTurn(&pacer, at: start)
        let tickets = [3, 1, 2, 1].compactMap {
            pacer.ask(rank: start + .seconds($0), bytes: Self.large, now: start).ticket
        }
        pacer.handled(first, now: start)
        var order: [Int] = []
        var now = start
        while let next = pacer.nextTurn(now: now) {
            order.append(next.ticket)
            now = next.turn.started + .milliseconds(1)
            pacer.handled(next.turn, now: now)
            now = now + .milliseconds(1)
        }
        #expect(order == [tickets[1], tickets[3], tickets[2], tickets[0]])
    }

    @Test(
        "Of two connections that rank alike, the smaller message goes first: by as far as its bytes may move the rank")
    func smallerMessageFirstAmongLikeRanks() throws {
        var pacer = Pacer()
        let start = NIODeadline.now()
        let first = try Self.firstTurn(&pacer, at: start)
        // A 64 KiB message may take 5.2 ms and move its rank 524 ms; a 12 KB one, 96 ms.
        #expect(Pacer.order(rank: start, bytes: Self.large) == start + .nanoseconds(524_288_000))
        #expect(Pacer.order(rank: start, bytes: 12_000) == start + .milliseconds(96))
        #expect(Pacer.order(rank: start, bytes: 1 << 30) == start + Pacer.longestTurn * Pacer.rankPerTurnTime)
        let flood = try #require(pacer.ask(rank: start, bytes: Self.large, now: start).ticket)
        let calm = try #require(pacer.ask(rank: start + .milliseconds(400), bytes: 12_000, now: start).ticket)
        let later = try #require(pacer.ask(rank: start + .milliseconds(500), bytes: 12_000, now: start).ticket)
        pacer.handled(first, now: start)
        var order: [Int] = []
        while let next = pacer.nextTurn(now: start) {  // each handled at once: the next may go
            order.append(next.ticket)
            pacer.handled(next.turn, now: start)
        }
        #expect(
            order == [calm, flood, later], "the calm client's 12 KB went before the flood's 64 KiB ranked 0.4 s ahead")
    }

    @Test("A large message's handling counts for 20 ms at most: longer, it was waiting (for a plugin, say)")
    func longHandlingCountsLittle() throws {
        var pacer = Pacer()
        let start = NIODeadline.now()
        let turn = try Self.firstTurn(&pacer, at: start)
        let rank = pacer.handled(turn, now: start + .seconds(5))
        #expect(pacer.othersUntil == start + .seconds(5) + Pacer.longestTurn)
        #expect(rank == start + Pacer.longestTurn * Pacer.rankPerTurnTime)
    }

    @Test(
        "A turn never handled holds the others back for two of the longest turns; handled late, it keeps the next turn's"
    )
    func unhandledTurnExpires() throws {
        var pacer = Pacer()
        let start = NIODeadline.now()
        let lost = try Self.firstTurn(&pacer, at: start)
        _ = pacer.ask(rank: start, bytes: Self.large, now: start)
        #expect(pacer.nextTurnAt == start + Pacer.longestTurn * 2)
        let given = pacer.nextTurn(now: start + Pacer.longestTurn * 2)
        let next = try #require(given)
        pacer.handled(lost, now: next.turn.started + .milliseconds(1))
        #expect(pacer.othersUntil == next.turn.started + Pacer.longestTurn * 2, "the next turn's time stands")
        pacer.handled(next.turn, now: next.turn.started + .milliseconds(2))
        #expect(pacer.othersUntil == next.turn.started + .milliseconds(4), "the turn given last sets it")
    }

    @Test("A loop that is never capped (--busy-loop-inbound-bytes-per-second 0) paces nothing")
    func offWithTheCap() throws {
        var limits = RelayLimits()
        limits.busyLoopInboundBytesPerSecond = 0
        let loop = EmbeddedEventLoop()
        let uncapped = BusyLoops(limits: limits, logger: Logger(label: "test")).busyLoop(of: loop)
        #expect(uncapped.heavyMessageTurns == nil)
        let handler = try RoomSocketHandlerTests.makeHandler(limits: limits, busyLoop: uncapped)
        #expect(!handler.isPaced(HeavyMessagePacer.heavyBytes + 1))
        let capped = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test")).busyLoop(of: loop)
        let cappedHandler = try RoomSocketHandlerTests.makeHandler(busyLoop: capped)
        #expect(cappedHandler.isPaced(HeavyMessagePacer.heavyBytes + 1))
        #expect(!cappedHandler.isPaced(HeavyMessagePacer.heavyBytes), "the game's messages are far smaller")
    }

    @Test("A loop that shuts down lets the large messages waiting for a turn on it go")
    func shutdownLetsWaitingGo() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let turns = try await loop.submit {
            let turns = HeavyMessageTurns(eventLoop: loop)
            turns.hold(until: .now() + .seconds(3_600))
            return NIOLoopBound(turns, eventLoop: loop)
        }.get()
        let asked = Mutex(false)
        let went = Mutex(false)
        Task(executorPreference: EventLoopTaskExecutor(loop)) {
            asked.withLock { $0 = true }
            _ = await turns.value.turn(rank: .now(), bytes: Self.large)
            went.withLock { $0 = true }
        }
        try await eventually { asked.withLock { $0 } }
        try await loop.submit {}.get()  // after the task's first step, which asked for the turn
        #expect(!went.withLock { $0 })
        try await group.shutdownGracefully()
        try await eventually { went.withLock { $0 } }
    }

    /// Over real sockets, on a loop of the test's own: with large messages held (as if the loop
    /// had just spent its share on them), a large message waits while a small one sent after it is
    /// answered; released, the large one is answered too, after the small one. When each was
    /// handled is read from the server's clock (`time_sync`'s `server_time`).
    @Test("Over a socket, a large message waits for its loop's turn; a small one sent after it does not")
    func largeMessageWaitsSmallDoesNot() async throws {
        let large = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: HeavyMessagePacer.heavyBytes))"}"#
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        let loops = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test"))
        try await withRelayServer(capBusyLoops: true, eventLoopGroup: group, busyLoops: loops) { port, _ in
            let heavy = TestSocket.connect(port: port)
            let light = TestSocket.connect(port: port)
            for socket in [heavy, light] {  // connected
                socket.send(["type": "ping"])
                _ = try await socket.expect("pong")
            }
            @Sendable func turns() throws -> HeavyMessageTurns {
                try #require(loops.busyLoop(of: loop).heavyMessageTurns)
            }
            try await loop.submit { try turns().hold(until: .now() + .seconds(3_600)) }.get()
            heavy.send(raw: large)
            try await eventually { try await loop.submit { try turns().waitingCount == 1 }.get() }
            light.send(raw: #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: 1_000))"}"#)
            let lightHandled = try BusyLoopTests.serverTime(await light.expect("time_sync_response"))
            // Answered while the large one still waits for its turn.
            #expect(try await loop.submit { try turns().waitingCount }.get() == 1)
            try await loop.submit { try turns().hold(until: .now()) }.get()
            let heavyHandled = try BusyLoopTests.serverTime(
                await heavy.expect("time_sync_response", timeout: .seconds(60)))
            #expect(lightHandled <= heavyHandled, "the small one was handled first")
        }
    }

    /// Over real sockets, on a loop of the test's own: with large messages held, a client sends
    /// three large messages, and another one; both first ones wait, then the loop is theirs. The
    /// flooding client's first goes first (its connection opened first), then the other's, which
    /// had no turn since: first come, first served let the flooding client's reader, asking again
    /// as soon as it was done, take every turn before it.
    @Test("Over sockets, a client's large message goes before another's next one, when that one just had a turn")
    func turnsGoToWhoHadOneLongestAgo() async throws {
        @Sendable func large(_ label: Int) -> String {
            #"{"type":"time_sync","client_time":\#(label),"pad":"\#(String(repeating: "x", count: HeavyMessagePacer.heavyBytes))"}"#
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        let loops = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test"))
        try await withRelayServer(capBusyLoops: true, eventLoopGroup: group, busyLoops: loops) { port, _ in
            let (flooding, calm) = try await Self.twoConnected(port: port)
            @Sendable func turns() throws -> HeavyMessageTurns {
                try #require(loops.busyLoop(of: loop).heavyMessageTurns)
            }
            try await loop.submit { try turns().hold(until: .now() + .seconds(3_600)) }.get()
            for label in 1...3 { flooding.send(raw: large(label)) }
            try await eventually { try await loop.submit { try turns().waitingCount == 1 }.get() }
            calm.send(raw: large(9))
            // The flooding client's first and the calm client's wait; then the loop is theirs.
            try await eventually { try await loop.submit { try turns().waitingCount == 2 }.get() }
            try await loop.submit { try turns().hold(until: .now()) }.get()
            var handled: [Int: Double] = [:]
            for _ in 1...3 {
                let answer = try await flooding.expect("time_sync_response", timeout: .seconds(60))
                handled[try #require(answer["client_time"] as? Int)] = try BusyLoopTests.serverTime(answer)
            }
            let calmHandled = try BusyLoopTests.serverTime(
                await calm.expect("time_sync_response", timeout: .seconds(60)))
            let (first, second) = (try #require(handled[1]), try #require(handled[2]))
            #expect(first <= calmHandled, "the flooding client's first went first")
            #expect(calmHandled <= second, "the calm client's went before the flooding client's second")
        }
    }

    /// Over real sockets, on a loop of the test's own: with large messages held, a client sends a
    /// 300 KB message, then another client, connected after it, an 8 KB one. By their
    /// connections' ranks alone the first would go first; its size may move its rank 2 s, the
    /// small one's 67 ms, so the small one goes first unless the second client opened over 1.9 s
    /// after the first: on a loaded machine the two connect again until they open within 1.5 s.
    @Test("Over sockets, a smaller large message goes before a larger one from a client that connected just before")
    func smallerGoesFirstAsAFloodStarts() async throws {
        @Sendable func message(_ label: Int, padding: Int) -> String {
            #"{"type":"time_sync","client_time":\#(label),"pad":"\#(String(repeating: "x", count: padding))"}"#
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        var limits = RelayLimits()
        limits.maxFrameBytes = 512 << 10
        let loops = BusyLoops(limits: limits, logger: Logger(label: "test"))
        try await withRelayServer(limits: limits, capBusyLoops: true, eventLoopGroup: group, busyLoops: loops) {
            port, _ in
            let (flooding, calm) = try await Self.twoConnected(port: port, within: .milliseconds(1_500))
            @Sendable func turns() throws -> HeavyMessageTurns {
                try #require(loops.busyLoop(of: loop).heavyMessageTurns)
            }
            try await loop.submit { try turns().hold(until: .now() + .seconds(3_600)) }.get()
            flooding.send(raw: message(1, padding: 300_000))
            try await eventually { try await loop.submit { try turns().waitingCount == 1 }.get() }
            calm.send(raw: message(2, padding: HeavyMessagePacer.heavyBytes + 100))
            try await eventually { try await loop.submit { try turns().waitingCount == 2 }.get() }
            try await loop.submit { try turns().hold(until: .now()) }.get()
            let floodHandled = try BusyLoopTests.serverTime(
                await flooding.expect("time_sync_response", timeout: .seconds(60)))
            let calmHandled = try BusyLoopTests.serverTime(
                await calm.expect("time_sync_response", timeout: .seconds(60)))
            #expect(calmHandled < floodHandled, "the 8 KB message went first")
        }
    }
}

extension HeavyMessagePacerTests {
    /// Two sockets connected one after the other: the second's connection opened after the first's.
    static func twoConnected(port: Int) async throws -> (first: TestSocket, second: TestSocket) {
        var sockets: [TestSocket] = []
        for _ in 1...2 {  // connected in this order
            let socket = TestSocket.connect(port: port)
            socket.send(["type": "ping"])
            _ = try await socket.expect("pong")
            sockets.append(socket)
        }
        return (sockets[0], sockets[1])
    }

    /// Over real sockets, on a loop of the test's own: a client that stopped reading has a large
    /// message waiting for its turn (held for an hour) and two behind it when its outbound
    /// queue overflows. The reader let none go, so the player left the room only once the turn
    /// came; now the wait is given up, those behind are dropped unseen, and the room hears of the
    /// drop at once. Unseen: the reader takes them off its queue and looks no further (RoomSocket's
    /// check that the connection is closing), so neither asks for a turn, nor takes from the
    /// connection's budget. (The turn's own check, ``RoomSocketHandler/heavyMessageTurn(bytes:)``,
    /// would keep them from a turn too: only the budget shows which of the two stopped them.)
    @Test("A slow consumer whose large messages wait for their turns still leaves its room at once")
    func aClosingConnectionGivesUpItsTurn() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        defer { group.shutdownGracefully { _ in } }
        var limits = RelayLimits()
        limits.outboundQueueFrames = 16
        limits.closeGracePeriod = .seconds(300)  // the socket stays open: the drop must not wait for it
        limits.closeDrainLimit = .seconds(600)
        limits.stateMessagesPerSecond = 1_000_000
        limits.stateMessageBurst = 1_000_000
        limits.inboundBytesPerSecond = 1 << 30
        limits.inboundByteBurst = 1 << 30
        // Refilled by next to nothing while the test runs: what each message took stays taken.
        limits.messagesPerSecond = 0.001
        limits.messageBurst = 100
        let loops = BusyLoops(limits: limits, logger: Logger(label: "test"))
        let accepted = AcceptedConnections()
        try await withRelayServer(
            limits: limits, capBusyLoops: true, eventLoopGroup: group, busyLoops: loops,
            onServerRunning: { await accepted.install(on: $0) }
        ) { port, _ in
            @Sendable func turns() throws -> HeavyMessageTurns {
                try #require(loops.busyLoop(of: loop).heavyMessageTurns)
            }
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Host")
            let stalled = try await StalledClient.joining(port: port, code: code)
            defer { stalled.hangUp() }  // else the server's stop would wait for it
            let stalledID = try #require(try await host.expect("player_joined")["player_id"] as? String)
            let socket = try await accepted.socket(ofPlayer: stalledID)
            try await loop.submit { try turns().hold(until: .now() + .seconds(3_600)) }.get()
            let budget = try await socket.read { Self.messagesLeft(in: $0) }
            let large = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: HeavyMessagePacer.heavyBytes))"}"#
            for _ in 0..<3 { try stalled.send(large) }
            // The first waits for a turn; the two behind it wait with the reader, before the close.
            try await eventually {
                try await socket.read { try $0.messagesWithReader == 3 && turns().waitingCount == 1 }
            }
            // 12 MB it never reads: far more than its socket holds and 16 frames.
            let padding = String(repeating: "p", count: 4000)
            for index in 0..<3_000 { host.send(["type": "player_state", "state": ["x": index, "pad": padding]]) }
            let gone: [String: Any]
            do {
                gone = try await host.skip(until: "player_disconnected", timeout: .seconds(60))
            } catch {
                // Failed: the held turns go, so that the server can stop.
                try await loop.submit { try turns().hold(until: .now()) }.get()
                throw error
            }
            #expect(gone["player_id"] as? String == stalledID)
            #expect(try await loop.submit { try turns().waitingCount }.get() == 0, "one behind asked for a turn")
            let left = try await socket.read { Self.messagesLeft(in: $0) }
            #expect(left == budget - 1, "only the first, read before the close, took from the budget")
        }
    }

    /// Over real sockets, on two loops of the test's own: a guest on the other loop than its
    /// room's sends a state, forwarded to the room's loop, which is held, then a large message,
    /// whose reader waits for the state first (`settleForwarded`), past its check that the
    /// connection is not closing. The connection is closed meanwhile (as a room closes one it
    /// replaces, or one whose queue overflowed): the large message will not be handled, so it
    /// asks for no turn. With large messages held, it would wait an hour for one, and the
    /// player's departure with it.
    @Test("A large message whose connection closed while its reader waited for forwarded states asks for no turn")
    func closedWhileSettlingAsksForNoTurn() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { group.shutdownGracefully { _ in } }
        let loops = BusyLoops(limits: RelayLimits(), logger: Logger(label: "test"))
        let accepted = AcceptedConnections()
        try await withRelayServer(
            capBusyLoops: true, eventLoopGroup: group, busyLoops: loops,
            onServerRunning: { await accepted.install(on: $0) }
        ) { port, registry in
            let host = TestSocket.connect(port: port)
            let code = try await host.createRoom(named: "Host")
            let room = try #require(registry.room(code: code))
            let (guest, socket) = try await Self.guestOnAnotherLoop(
                of: room, code: code, port: port, accepted: accepted)
            let guestLoop = socket.eventLoop
            @Sendable func turns() throws -> HeavyMessageTurns {
                try #require(loops.busyLoop(of: guestLoop).heavyMessageTurns)
            }
            try await guestLoop.submit { try turns().hold(until: .now() + .seconds(3_600)) }.get()
            let connection = try await socket.read { $0.session.connection }
            try await socket.waitUntilReaderIsIdle()  // so that the state is forwarded, not handed to the reader
            let hold = try await RoomLoopHold.hold(room)
            let large = #"{"type":"time_sync","pad":"\#(String(repeating: "x", count: HeavyMessagePacer.heavyBytes))"}"#
            guest.send(raw: #"{"type":"player_state","state":{"x":1}}"#)
            guest.send(raw: large)
            // The state waits on the held loop; the reader has the large message, and waits for the state.
            try await eventually {
                try await socket.read { handler in
                    let forwarded = handler.session.forwarded
                    return handler.messagesWithReader == 1 && forwarded.inFlight == 1 && forwarded.hasWaiter
                }
            }
            connection.close(code: RelayCloseCode.replaced)
            // The guest's loop takes the close in first (``RoomSocketHandler/closeRequested()``, queued
            // there now): else it might come after the message asked, and give its turn up for it.
            try await guestLoop.submit {}.get()
            await hold.release()
            // The state is dropped on the room's loop (its connection is closing), and the reader
            // goes on to the large message: done with it, or waiting for a turn.
            try await eventually {
                try await socket.read { try $0.messagesWithReader == 0 || turns().waitingCount > 0 }
            }
            let waiting = try await guestLoop.submit { try turns().waitingCount }.get()
            try await guestLoop.submit { try turns().hold(until: .now()) }.get()  // so that the server can stop
            #expect(waiting == 0, "the large message asked for a turn after its connection closed")
            #expect(await room.messagesForwarded == 0, "the state was applied after its connection closed")
        }
    }

    /// A guest of `room` whose connection is on another of the server's two loops than the room
    /// (which lives on its creator's). Connections take the loops in turn, so the first one after
    /// the host's is; should another have come between, the guest leaves and another tries.
    static func guestOnAnotherLoop(
        of room: GameRoom, code: String, port: Int, accepted: AcceptedConnections
    ) async throws -> (TestSocket, RoomSocketProbe) {
        for _ in 1...4 {
            let guest = TestSocket.connect(port: port)
            guest.send(["type": "join_room", "room_id": code, "player_name": "Guest"])
            _ = try await guest.expect("player_joined")
            let id = try #require(try await guest.expect("room_joined")["player_id"] as? String)
            let socket = try await accepted.socket(ofPlayer: id)
            let sharesLoop = try await socket.sharesLoop(with: room)
            if !sharesLoop { return (guest, socket) }
            guest.send(["type": "leave_room"])  // the room has two seats
            _ = try await guest.skip(until: "room_left")
            guest.close()
        }
        Issue.record("no guest connected on another loop than its room in 4 tries")
        throw CancellationError()
    }

    /// Messages (state relays aside) the connection's budget still allows: counted on a copy.
    static func messagesLeft(in handler: RoomSocketHandler) -> Int {
        var budget = handler.budget
        var left = 0
        while left < 1_000, budget.take(.other) { left += 1 }
        return left
    }

    /// Two sockets connected one after the other, the second answering within `within` of the
    /// first starting to connect: their connections' ranks (when each opened) are at most that far
    /// apart. On a loaded machine the two connect again, 20 times at most (as the whole suite
    /// starts, two connections took 1.3–5.8 s).
    static func twoConnected(port: Int, within: Duration) async throws -> (first: TestSocket, second: TestSocket) {
        for _ in 1...20 {
            let started = ContinuousClock.now
            let sockets = try await Self.twoConnected(port: port)
            if ContinuousClock.now - started <= within { return sockets }
            for socket in [sockets.first, sockets.second] { socket.close() }
        }
        Issue.record("no two connections opened within \(within) of each other in 20 tries")
        throw CancellationError()
    }
}

extension HeavyMessagePacer.Answer {
    /// The turn given at once; nil if the message waits.
    var turn: HeavyMessagePacer.Turn? {
        guard case .go(let turn) = self else { return nil }
        return turn
    }

    /// The message's ticket while it waits; nil if it went at once.
    var ticket: Int? {
        guard case .wait(let ticket) = self else { return nil }
        return ticket
    }
}

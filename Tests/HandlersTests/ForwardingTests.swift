import Dispatch
import NIOCore
import NIOPosix
import Testing

@testable import Handlers
@testable import Relay

/// A `player_state` from a connection on another event loop than its room's is read there and
/// handed to the room's loop without waiting: same answers as the general path, in the order sent.
// Serialized: two tests hold the rooms' loop up for a while, which would stall the others' rooms.
@Suite("player_state forwarded to the room's loop", .serialized)
struct ForwardingTests {
    /// The loop the test connections' frames arrive on.
    static let connectionLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
    /// The loop these tests' rooms live on: their own, as some tests hold it up for a moment.
    static let roomLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    private func harness(limits: RelayLimits = RelayLimits()) throws -> Harness {
        try Harness(limits: limits, rooms: Self.roomLoop)
    }

    /// Holds up the rooms' loop until the returned semaphore is signalled.
    private func holdRoomLoop() -> DispatchSemaphore {
        let gate = DispatchSemaphore(value: 0)
        Self.roomLoop.execute { gate.wait() }
        return gate
    }

    /// Hands `text` to the dispatcher as the guest's frame handler would, on the connection's loop.
    private func arrive(_ text: String, from client: TestClient, _ harness: Harness) async throws -> Bool {
        try await Self.connectionLoop.submit { harness.dispatcher.dispatchInPlace(text, session: client.session) }.get()
    }

    @Test func aForwardedStateIsStoredAndRelayed() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        #expect(
            try await self.arrive(
                #"{"type":"player_state","state":{"x":12.345,"skin":"alienBlue"}}"#, from: guest, harness))
        let updates = try await host.receive()
        #expect(updates.map(\.type) == ["player_state_update"])
        #expect(updates.first?["state"]?["x"] == .number(12.35))
        #expect(await room.messagesForwarded == 1)
        #expect(await room.messagesHandledInPlace == 0)
        #expect(await room.enter { $0.state.player("guest")?.state["skin"] } == .string("alienBlue"))
        #expect(guest.session.forwarded.inFlight == 0)
    }

    @Test func whatTheRawReaderDeclinesIsLeftToTheReader() async throws {
        let harness = try self.harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        // A second `type` key: the general path decides which one counts.
        let twoTypes = #"{"type":"player_state","state":{"x":1},"type":"chat"}"#
        #expect(try await !self.arrive(twoTypes, from: guest, harness))
        #expect(try await !self.arrive(#"{"type":"chat","message":"hi"}"#, from: guest, harness))
        #expect(guest.session.forwarded.inFlight == 0)
        #expect(await host.received().isEmpty)
    }

    @Test("A forwarded message's error comes before the reader's answer to the next message")
    func repliesKeepTheirOrder() async throws {
        let harness = try self.harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let gate = self.holdRoomLoop()  // the room's loop is busy for now
        #expect(try await self.arrive(#"{"type":"player_state","state":{"x":"left"}}"#, from: guest, harness))
        // The reader's turn: an unknown type is answered without the room, so only waiting for
        // the forwarded message keeps the answers in order.
        let reply = Task {
            await guest.session.settleForwarded()
            await guest.send(#"{"type":"no_such_type"}"#)
        }
        // The room's loop is held until the reader waits for the forwarded message: a settle that
        // did not wait would never get there (and would let the reader's answer out first).
        try await harness.eventually { guest.session.forwarded.hasWaiter }
        gate.signal()
        await reply.value
        let answers = try await guest.receive()
        #expect(answers.map { $0["code"]?.stringValue } == ["invalid_field", "unknown_type"])
        #expect(await host.received().isEmpty)
    }

    @Test("A forwarded message from a dropped member is refused, and the reader forgets the membership")
    func staleMembership() async throws {
        let harness = try self.harness()
        // Room for a third: the dropped guest keeps its seat for the reconnect window.
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let room = try #require(harness.registry.room(code: code))
        await room.drop(playerID: "guest", connection: guest.connection)
        _ = await host.received()
        #expect(try await self.arrive(#"{"type":"player_state","state":{"x":1}}"#, from: guest, harness))
        await guest.session.settleForwarded()
        #expect(await guest.received().map { $0["code"]?.stringValue } == ["not_in_room"])
        #expect(guest.session.membership == nil)
        // Free to join again, as after the general path's `not_in_room`.
        await guest.send(#"{"type":"join_room","room_id":"\#(code)","player_name":"Again"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
    }

    @Test("A member's last forwarded states reach the room before its hang-up does")
    func forwardedBeforeTheHangUp() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        // The room busy with a job: a call the actor is given meanwhile runs right after that job,
        // ahead of the work handed to its loop before the call was made.
        let (inRoom, gate) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let busy = Task {
            await room.enter { _ in
                inRoom.signal()
                gate.wait()
            }
        }
        await withCheckedContinuation { started in
            DispatchQueue.global().async {
                inRoom.wait()
                started.resume()
            }
        }
        #expect(try await self.arrive(#"{"type":"player_state","state":{"x":7}}"#, from: guest, harness))
        let hangUp = Task { await guest.socketCloses() }  // as the socket's reader ends
        // The room is held until the hang-up waits for the forwarded state (a drop that did not
        // wait would never get there, and would reach the room first).
        try await harness.eventually { guest.session.forwarded.hasWaiter }
        gate.signal()
        await busy.value
        await hangUp.value
        var toHost: [JSONValue] = []
        try await harness.eventually {
            toHost += await host.received()
            return toHost.count >= 2
        }
        #expect(toHost.map(\.type) == ["player_state_update", "player_disconnected"], "\(toHost)")
        #expect(toHost.first?["state"]?["x"] == .integer(7))
    }

    @Test("A member removed while its socket stays open is told not_in_room once, however many were on their way")
    func removedMemberIsToldOnce() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.removeMember("guest"))
        #expect(await guest.received().map(\.type) == ["room_left"])
        _ = await host.received()
        // Several on their way before the room has refused any.
        let gate = self.holdRoomLoop()
        for x in 0..<5 {
            let accepted = try await self.arrive(#"{"type":"player_state","state":{"x":\#(x)}}"#, from: guest, harness)
            #expect(accepted)
        }
        gate.signal()
        try await harness.eventually { guest.session.forwarded.inFlight == 0 }
        var declined = 0
        for x in 5..<30 {
            let text = #"{"type":"player_state","state":{"x":\#(x)}}"#
            // As the connection's frame handler, then its reader for what that declines: the room
            // refused one, so the rest go to the reader, which says why.
            guard try await !self.arrive(text, from: guest, harness) else { continue }
            declined += 1
            await guest.session.settleForwarded()
            await guest.send(text)
        }
        #expect(declined == 25)
        #expect(await guest.received().map { $0["code"]?.stringValue } == ["not_in_room"])
        #expect(guest.session.membership == nil)
        #expect(await host.received().isEmpty)
        #expect(await room.messagesForwarded == 0)
    }

    @Test("At most the limit are on their way; then messages take the reader's path")
    func inFlightIsBounded() async throws {
        var limits = RelayLimits()
        limits.outboundQueueFrames = 1_000
        let harness = try self.harness(limits: limits)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        let gate = self.holdRoomLoop()
        var accepted = 0
        do {
            defer { gate.signal() }
            for x in 0..<(ForwardedMessages.limit + 5) {
                if try await self.arrive(#"{"type":"player_state","state":{"x":\#(x)}}"#, from: guest, harness) {
                    accepted += 1
                }
            }
            #expect(accepted == ForwardedMessages.limit)
            #expect(guest.session.forwarded.inFlight == ForwardedMessages.limit)
        }
        await guest.session.settleForwarded()
        #expect(guest.session.forwarded.inFlight == 0)
        #expect(await room.messagesForwarded == ForwardedMessages.limit)
        let xs = await host.received().map { $0["state"]?["x"] }
        #expect(xs == (0..<ForwardedMessages.limit).map { .integer(Int64($0)) }, "all applied, in order")
    }

    /// A handler may say `not_in_room` of someone else; had the session forgotten its room while
    /// the room still held it, its socket's close would never drop it: a ghost player, and a room
    /// that never empties.
    @Test("A handler's own not_in_room, forwarded or not, leaves a current member its membership")
    func notInRoomFromAHandler() async throws {
        let dispatcher = try MessageDispatcher(
            handlers: BuiltInHandlers.all + [RefusesAsNotInRoom(), RefusesAsNotInRoomInTheRoom()])
        let harness = Harness(dispatcher: dispatcher, rooms: Self.roomLoop)
        let (_, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        #expect(try await self.arrive(#"{"type":"refused"}"#, from: guest, harness))
        await guest.session.settleForwarded()
        await guest.send(#"{"type":"refused_in_room"}"#)  // the general path, in the room
        #expect(await guest.received().map { $0["code"]?.stringValue } == ["not_in_room", "not_in_room"])
        #expect(await room.isCurrent("guest", connection: guest.connection))
        #expect(guest.session.membership?.room === room)
    }

    /// A room handler (no raw path) that always says `not_in_room`.
    struct RefusesAsNotInRoomInTheRoom: RoomMessageHandler {
        let messageType = "refused_in_room"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            throw .notInRoom
        }
    }

    /// A raw handler whose forwarded message always finds the sender out of the room.
    struct RefusesAsNotInRoom: RawRoomMessageHandler {
        let messageType = "refused"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            throw .notInRoom
        }
        func handleRaw(
            _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
        )
            throws(RelayError) -> Bool
        { throw .notInRoom }
        func prepareForwarding(_ bytes: UnsafeBufferPointer<UInt8>, from playerID: String) -> ForwardedRoomMessage? {
            { _ throws(RelayError) in throw .notInRoom }
        }
    }

    /// A connection the server closes (here for a flood) has nothing it sent handled any more: not
    /// even what was already on its way to the room's loop.
    @Test("A forwarded message whose sender the server closed meanwhile is dropped")
    func aForwardedMessageFromAClosedConnectionIsDropped() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        let stateBefore = await room.enter { $0.state.player("guest")?.state }
        let gate = self.holdRoomLoop()
        var released = false
        defer { if !released { gate.signal() } }
        #expect(try await self.arrive(#"{"type":"player_state","state":{"x":1.5}}"#, from: guest, harness))
        guest.connection.close(code: RelayCloseCode.policyViolation)
        gate.signal()
        released = true
        await guest.session.settleForwarded()
        // Still a member until its reader drops it from the room: the membership is not forgotten,
        // or the reader would skip the drop and leave the player seated.
        #expect(guest.session.membership?.room === room)
        #expect(await room.messagesForwarded == 0)
        #expect(await host.received().isEmpty)
        #expect(await room.enter { $0.state.player("guest")?.state } == stateBefore)
    }

    @Test func settlingWithNothingOnItsWayReturnsAtOnce() async {
        let forwarded = ForwardedMessages()
        #expect(await forwarded.settle() == false)
        #expect(forwarded.begin())
        #expect(forwarded.markStale(), "the first is the one answered")
        #expect(!forwarded.begin(), "the reader answers the rest")
        #expect(!forwarded.markStale())
        forwarded.end()
        #expect(await forwarded.settle() == true)
        #expect(await forwarded.settle() == false, "reported once")
        #expect(forwarded.begin())
        #expect(forwarded.markStale(), "first again once settled")
    }
}

import NIOCore
import Testing

@testable import Handlers
@testable import Relay

/// What a handler of a game's own message type may use beyond answering: values kept per room
/// and per member, removing a member, and timers of the room's.
@Suite("Handlers' own values, removals and timers")
struct HandlerToolsTests {
    /// Counted `tally`s: the room's and the sender's own.
    enum RoomTally: CustomValueKey { static let defaultValue = 0 }
    enum MemberTally: CustomValueKey { static let defaultValue = 0 }
    enum Note: CustomValueKey { static let defaultValue: String? = nil }

    /// `tally`: counts, and answers `tallied` {room, mine}.
    struct TallyHandler: RoomMessageHandler {
        let messageType = "tally"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            room.state.custom[RoomTally.self] += 1
            room.state[customOf: playerID][MemberTally.self] += 1
            let counts: JSONValue = [
                "room": .integer(Int64(room.state.custom[RoomTally.self])),
                "mine": .integer(Int64(room.state[customOf: playerID][MemberTally.self])),
            ]
            room.send(OutboundMessage.make(type: "tallied", ["counts": counts]), to: playerID)
        }
    }

    /// `kick` {target}: the host removes a member.
    struct KickHandler: RoomMessageHandler {
        let messageType = "kick"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            try room.state.requireHost(playerID)
            let target = try message.string("target")
            guard room.removeMember(target, reason: "kicked by the host") else {
                throw .invalidField("target", expected: "a member of this room")
            }
        }
    }

    /// `forfeit`: the sender removes itself.
    struct ForfeitHandler: RoomMessageHandler {
        let messageType = "forfeit"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            room.removeMember(playerID, reason: "forfeit")
        }
    }

    /// `round` {ms}: the room gets `round_over` that many milliseconds later; `round` {cancel: true}
    /// stops it.
    struct RoundHandler: RoomMessageHandler {
        enum Timer: CustomValueKey { static let defaultValue: RoomTimer? = nil }
        let messageType = "round"
        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            if let timer = room.state.custom[Timer.self] { room.cancelTimer(timer) }
            room.state.custom[Timer.self] = nil
            guard try message.optionalBool("cancel") != true else { return }
            let milliseconds = try message.optionalNumber("ms") ?? 0
            room.state.custom[Timer.self] = room.schedule(after: .milliseconds(Int64(milliseconds))) { room in
                room.state.custom[Timer.self] = nil
                room.broadcast(OutboundMessage.make(type: "round_over", [:]))
            }
        }
    }

    private func harness() throws -> Harness {
        Harness(
            dispatcher: try MessageDispatcher(
                handlers: BuiltInHandlers.all + [TallyHandler(), KickHandler(), ForfeitHandler(), RoundHandler()]))
    }

    // MARK: Values

    @Test("Player ids and reconnect tokens, for handlers that admit members, are fresh lowercase hex")
    func identifiers() {
        let ids = (0..<50).map { _ in Identifiers.playerID() }
        let tokens = (0..<50).map { _ in Identifiers.reconnectToken() }
        #expect(ids.allSatisfy { $0.count == 16 } && tokens.allSatisfy { $0.count == 32 })
        #expect((ids + tokens).allSatisfy { $0.allSatisfy { "0123456789abcdef".contains($0) } })
        #expect(Set(ids).count == 50 && Set(tokens).count == 50)
    }

    @Test func valuesReadTheirDefaultUntilSetAndKeysDoNotMix() {
        var values = CustomValues()
        #expect(values.isEmpty)
        #expect(values[RoomTally.self] == 0)
        #expect(values[Note.self] == nil)
        values[RoomTally.self] = 3
        values[Note.self] = "n"
        #expect(values[RoomTally.self] == 3)
        #expect(values[MemberTally.self] == 0)
        #expect(values[Note.self] == "n")
        values[Note.self] = nil
        #expect(values[Note.self] == nil)
        values.removeValue(for: RoomTally.self)
        #expect(values[RoomTally.self] == 0)
    }

    @Test("A member's values last through a drop and reconnect, and are gone once they leave")
    func memberValuesFollowMembership() async throws {
        let harness = try self.harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken()
        let room = try #require(harness.registry.room(code: code))

        for _ in 0..<2 { await guest.send(#"{"type":"tally"}"#) }
        await host.send(#"{"type":"tally"}"#)
        #expect(await guest.received().last?["counts"] == ["room": 2, "mine": 2])
        #expect(await host.received().last?["counts"] == ["room": 3, "mine": 1])

        await room.drop(playerID: "guest", connection: guest.connection)
        let back = harness.client(url: code)
        await back.send(.object(["type": "reconnect", "player_id": "guest", "token": .string(token)]))
        #expect(await back.received().first?.type == "reconnected")
        await back.send(#"{"type":"tally"}"#)
        #expect(await back.received().last?["counts"] == ["room": 4, "mine": 3])

        await back.send(#"{"type":"leave_room"}"#)
        await back.send(
            .object(["type": "join_room", "room_id": .string(code), "player_name": "Again", "player_id": "guest"]))
        _ = await back.received()
        await back.send(#"{"type":"tally"}"#)
        #expect(await back.received().last?["counts"] == ["room": 5, "mine": 1], "a new member starts empty")

        // Set for someone who is not a member: dropped.
        let stranger = await room.enter { room in
            room.state[customOf: "nobody"][MemberTally.self] = 7
            return room.state[customOf: "nobody"][MemberTally.self]
        }
        #expect(stranger == 0)
    }

    @Test("The room's values are dropped when it closes")
    func roomValuesGoWithTheRoom() async throws {
        let harness = try self.harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let room = try #require(harness.registry.room(code: code))
        await host.send(#"{"type":"tally"}"#)
        #expect(await room.enter { $0.state.custom[RoomTally.self] } == 1)
        await host.send(#"{"type":"leave_room"}"#)
        #expect(harness.registry.count == 0)
        #expect(await room.enter { $0.state.custom.isEmpty })
    }

    /// A membership a connection still holds keeps a closed room, and all it held, alive.
    @Test("A started room's chat history is dropped when it closes")
    func chatHistoryGoesWithTheRoom() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.startedRoom()
        let room = try #require(harness.registry.room(code: code))
        await host.send(#"{"type":"chat","message":"gg"}"#)
        #expect(await guest.received().last?.type == "chat")
        #expect(await room.enter { $0.state.chatHistory.count } == 1)
        await host.send(#"{"type":"leave_room"}"#)
        await guest.send(#"{"type":"leave_room"}"#)
        #expect(harness.registry.count == 0)
        #expect(await room.enter { $0.state.chatHistory.isEmpty })
    }

    // MARK: Removing a member

    @Test("A removed member gets room_left with the reason, the others player_left; lobby flags clear")
    func removedMemberIsToldAndTheOthersToo() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        await third.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        let readies = await host.received().filter { $0.type == "player_ready_changed" }
        #expect(readies.map { $0["is_ready"] } == [true, true], "both were ready before the kick")
        _ = await (guest.received(), third.received())

        await host.send(#"{"type":"kick","target":"guest"}"#)
        let told = await guest.received()
        #expect(told.map(\.type) == ["room_left"])
        #expect(told.first?["reason"] == "kicked by the host")
        for client in [host, third] {
            let left = try #require(await client.received().first)
            #expect(left.type == "player_left")
            #expect(left["player_id"] == "guest")
            #expect(left["can_reconnect"] == false)
            #expect(left["room_info"]?["player_count"] == 2)
            #expect(left["room_info"]?["players"]?.arrayValue?.allSatisfy { $0["is_ready"] == false } == true)
        }
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.enter { $0.state.player("guest") == nil })

        await host.expectError("invalid_field", after: #"{"type":"kick","target":"guest"}"#)
        await third.expectError("not_host", after: #"{"type":"kick","target":"host"}"#)
    }

    @Test("A removed member streaming on is told not_in_room once, and may go elsewhere on its socket")
    func removedMemberIsToldOnce() async throws {
        let harness = try self.harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken()

        await host.send(#"{"type":"kick","target":"guest"}"#)
        #expect(await guest.received().map(\.type) == ["room_left"])
        await guest.expectError("not_in_room", after: #"{"type":"player_state","state":{"x":1}}"#)
        for x in 2...30 { await guest.send(#"{"type":"player_state","state":{"x":\#(x)}}"#) }
        await guest.send(#"{"type":"chat","message":"let me in"}"#)
        #expect(await guest.received().isEmpty)
        #expect(await host.received().map(\.type) == ["player_left"], "nothing of theirs reaches the room")

        // The spent token is refused as such, not as `already_in_room`.
        await guest.expectError(
            "reconnect_failed",
            after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#)
        await guest.send(#"{"type":"create_room","room_name":"mine","player_name":"Guesty"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_created"])
        #expect(harness.registry.count == 2)
    }

    @Test("A removed member's first message after may be a reconnect: not refused as already in a room")
    func removedMemberMayReconnectElsewhere() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"kick","target":"guest"}"#)
        _ = await guest.received()
        await guest.expectError(
            "reconnect_failed", after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"t"}"#)
        #expect(guest.session.membership == nil)
    }

    @Test("A handler that removes its own sender leaves it out of the room at once")
    func removingTheSender() async throws {
        let harness = try self.harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"forfeit"}"#)
        #expect(await guest.received().map { $0["reason"] } == ["forfeit"])
        #expect(guest.session.membership == nil)
        #expect(await host.received().map(\.type) == ["player_left"])
        await guest.expectError("not_in_room", after: #"{"type":"chat","message":"gg"}"#)
    }

    @Test("A removed member's time_sync takes no id of the room's, as outside a room")
    func removedMemberTimeSync() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"kick","target":"guest"}"#)
        _ = await guest.received()
        await guest.send(#"{"type":"time_sync","client_time":5}"#)
        #expect(await guest.received().map { $0["sequence_id"] } == [0])
        #expect(guest.session.membership == nil)
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.enter { $0.state.sequenceID } == 0)
    }

    @Test("A removed member joining its old room again is judged as any joiner")
    func removedMemberJoinsAgain() async throws {
        let harness = try self.harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"kick","target":"guest"}"#)
        _ = await (guest.received(), host.received())
        // Someone else takes the id, and the game starts.
        let other = harness.client(url: code)
        await other.send(#"{"type":"join_room","player_name":"Other","player_id":"guest"}"#)
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await other.send(#"{"type":"player_ready","is_ready":true}"#)
        await host.send(#"{"type":"start_game"}"#)
        #expect(await other.received().last?.type == "game_starting")
        await guest.expectError(
            "duplicate_player_id",
            after: #"{"type":"join_room","room_id":"\#(code)","player_name":"Guesty","player_id":"guest"}"#)
        await guest.expectError(
            "join_failed", after: #"{"type":"join_room","room_id":"\#(code)","player_name":"Guesty","player_id":"g2"}"#)
    }

    @Test("Removing the last member closes the room; removing a stranger changes nothing")
    func removingTheLastMemberClosesTheRoom() async throws {
        let harness = try self.harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.removeMember("nobody") == false)
        #expect(harness.registry.count == 1)
        #expect(await room.removeMember("host", reason: nil))
        #expect(await host.received().map { [$0.type, $0["reason"]?.stringValue] } == [["room_left", nil]])
        #expect(harness.registry.count == 0)
    }

    // MARK: Timers

    @Test("A room's timer runs in the room once due; a cancelled one never does")
    func timersRunOrAreCancelled() async throws {
        let harness = try self.harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"round","ms":50}"#)
        #expect(try await guest.receive().map(\.type) == ["round_over"])
        #expect(try await host.receive().map(\.type) == ["round_over"])

        // Long enough never to come due during the test, however loaded the machine.
        await host.send(#"{"type":"round","ms":600000}"#)
        let room = try #require(host.session.membership?.room)
        #expect(await room.pendingHandlerTimers == 1)
        await host.send(#"{"type":"round","cancel":true}"#)
        #expect(await room.pendingHandlerTimers == 0)

        // Cancelled in the turn that set it, so before it can come due; a later one runs, and a
        // loop runs its timers in the order they come due.
        let ran = CloseCodes()
        await room.enter { room in
            let timer = room.schedule(after: .milliseconds(20)) { _ in ran.record(1) }
            room.cancelTimer(timer)
            room.schedule(after: .milliseconds(40)) { _ in ran.record(2) }
        }
        try await harness.eventually { !ran.codes.withLock { $0 }.isEmpty }
        #expect(ran.codes.withLock { $0 } == [2])
        #expect(await guest.received().isEmpty)
    }

    @Test("A room's timers are cancelled when it closes, and a closed room sets none")
    func closingCancelsTimers() async throws {
        let harness = try self.harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let room = try #require(harness.registry.room(code: code))
        await host.send(#"{"type":"round","ms":600000}"#)
        #expect(await room.pendingHandlerTimers == 1)
        await host.send(#"{"type":"leave_room"}"#)
        #expect(await room.pendingHandlerTimers == 0)
        let ran = CloseCodes()
        await room.enter { room in _ = room.schedule(after: .zero) { _ in ran.record(1) } }
        #expect(await room.pendingHandlerTimers == 0)
        // A timer set later on the room's loop (the tests' group has one) runs after it would have.
        let later = testEventLoopGroup.next().scheduleTask(in: .milliseconds(20)) { ran.record(2) }
        try await later.futureResult.get()
        #expect(ran.codes.withLock { $0 } == [2])
        #expect(await host.received().map(\.type) == ["room_left"])
    }

    @Test("A timer cancelled in another room is left alone")
    func anotherRoomsCancel() async throws {
        let harness = try self.harness()
        let (first, second) = (harness.client(), harness.client())
        let firstRoom = try #require(harness.registry.room(code: try await first.createRoom(playerID: "a", name: "A")))
        let secondRoom = try #require(
            harness.registry.room(code: try await second.createRoom(playerID: "b", name: "B")))
        let timer = await firstRoom.enter { $0.schedule(after: .seconds(600)) { _ in } }
        await secondRoom.enter { _ = $0.schedule(after: .seconds(600)) { _ in } }
        await secondRoom.enter { $0.cancelTimer(timer) }
        #expect(await (firstRoom.pendingHandlerTimers, secondRoom.pendingHandlerTimers) == (1, 1))
        await firstRoom.enter { $0.cancelTimer(timer) }
        #expect(await firstRoom.pendingHandlerTimers == 0)
    }

    @Test("A pending timer does not keep alive a room nobody holds")
    func timersDoNotKeepRoomsAlive() async throws {
        weak var droppedRoom: GameRoom?
        do {
            let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: testEventLoopGroup, logger: quietLogger)
            let room = try registry.createRoom(name: "r", maxPlayers: 2, eventLoop: nil)
            await room.enter { room in
                _ = room.schedule(after: .seconds(600)) { room in
                    room.broadcast(OutboundMessage.make(type: "late", [:]))
                }
            }
            droppedRoom = room
        }
        #expect(droppedRoom == nil)
    }
}

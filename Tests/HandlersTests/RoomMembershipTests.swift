import Testing

@testable import Handlers
@testable import Relay

private func isHex(_ text: String, length: Int) -> Bool {
    text.count == length && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
}

@Suite("create_room / join_room / leave_room")
struct RoomMembershipTests {
    @Test func createRoomWelcomesTheCreator() async throws {
        let harness = try Harness()
        let host = harness.client()
        await host.send(#"{"type":"create_room","room_name":"  Fun room ","player_name":" Hosty ","player_id":"host"}"#)
        let messages = await host.received()
        #expect(messages.map(\.type) == ["player_joined", "room_created"])
        let joined = try #require(messages.first)
        #expect(joined["player_id"] == "host")
        #expect(joined["player_name"] == "Hosty")
        #expect(joined["player_number"] == 1)
        let created = try #require(messages.last)
        let code = try #require(created["room_id"]?.stringValue)
        #expect(code.count == RoomRegistry.codeLength)
        #expect(code.allSatisfy { RoomRegistry.codeAlphabet.contains($0) })
        #expect(created["player_id"] == "host")
        #expect(created["player_number"] == 1)
        #expect(isHex(created["reconnect_token"]?.stringValue ?? "", length: 32))
        let info = try #require(created["room_info"])
        #expect(info["room_id"] == .string(code))
        #expect(info["room_name"] == "Fun room")
        #expect(info["host_id"] == "host")
        #expect(info["player_count"] == 1)
        #expect(info["max_players"] == 2)
        #expect(info["game_started"] == false)
        #expect(
            info["players"] == [
                [
                    "player_id": "host", "player_name": "Hosty", "player_number": 1, "is_ready": false,
                    "skin": "alienGreen",
                ]
            ])
        #expect(harness.registry.count == 1)
        #expect(harness.registry.room(code: code) != nil)
        #expect(host.session.membership?.playerID == "host")
    }

    @Test func createRoomWithoutIDsGetsGeneratedOnes() async throws {
        let harness = try Harness()
        let host = harness.client()
        await host.send(#"{"type":"create_room","player_name":"Ann"}"#)
        let created = try #require(await host.received().last)
        #expect(isHex(created["player_id"]?.stringValue ?? "", length: 16))
        #expect(created["room_info"]?["room_name"] == "Ann's room")
    }

    @Test func createRoomChecksItsFields() async throws {
        let harness = try Harness()
        let client = harness.client()
        await client.expectError("invalid_field", after: #"{"type":"create_room"}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"   "}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":5}"#)
        await client.expectError(
            "too_long", after: #"{"type":"create_room","player_name":"\#(String(repeating: "n", count: 33))"}"#)
        await client.expectError(
            "too_long",
            after: #"{"type":"create_room","player_name":"a","player_id":"\#(String(repeating: "i", count: 65))"}"#)
        await client.expectError(
            "too_long",
            after: #"{"type":"create_room","player_name":"a","room_name":"\#(String(repeating: "r", count: 65))"}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"a","max_players":9}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"a","max_players":1}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"a","max_players":2.5}"#)
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"a","max_players":"3"}"#)
        #expect(harness.registry.count == 0)
        #expect(client.session.membership == nil)
    }

    /// Names are trimmed before their length is checked; that must not cost a room's event loop
    /// more than reading them (trimming 16,000 flag letters, one 64 KB frame, took a second).
    /// Their cost is timed without the awaits around it, in
    /// `InboundMessageTests.overLongFlagNamesAreRefusedInLinearTime`; here, every handler that takes a
    /// name refuses them.
    @Test func overLongFlagNamesAreRefused() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let flags = String(repeating: "\u{1F1E6}", count: 64_000)
        let client = harness.client(url: code)
        await client.expectError("too_long", after: #"{"type":"create_room","player_name":" \#(flags) "}"#)
        await client.expectError(
            "too_long", after: #"{"type":"create_room","player_name":"a","room_name":"\#(flags)"}"#)
        await client.expectError("too_long", after: #"{"type":"join_room","player_name":"\#(flags)"}"#)
        #expect(harness.registry.count == 1)
    }

    @Test func createRoomMayAskForMorePlayers() async throws {
        let harness = try Harness()
        let host = harness.client()
        await host.send(#"{"type":"create_room","player_name":"a","max_players":3}"#)
        #expect(await host.received().last?["room_info"]?["max_players"] == 3)
    }

    /// The cap is inclusive: a room may ask for exactly the server's most (8 by default, or as set).
    @Test func createRoomMayAskForTheCapButNoMore() async throws {
        let harness = try Harness()
        let host = harness.client()
        await host.send(#"{"type":"create_room","player_name":"a","max_players":8}"#)
        let created = await host.received()
        #expect(created.map(\.type) == ["player_joined", "room_created"], "\(created)")
        #expect(created.last?["room_info"]?["max_players"] == 8)

        var limits = RelayLimits()
        limits.maxPlayersPerRoom = 3
        let capped = try Harness(limits: limits)
        let client = capped.client()
        await client.expectError("invalid_field", after: #"{"type":"create_room","player_name":"a","max_players":4}"#)
        #expect(capped.registry.count == 0)
        await client.send(#"{"type":"create_room","player_name":"a","max_players":3}"#)
        let cappedCreated = await client.received()
        #expect(cappedCreated.map(\.type) == ["player_joined", "room_created"], "\(cappedCreated)")
        #expect(cappedCreated.last?["room_info"]?["max_players"] == 3)
    }

    /// Ids are strings (PROTOCOL.md §3): one of another type is refused, not taken for absent,
    /// which would seat the sender under a generated id, or in the URL's room.
    @Test func idsOfTheWrongTypeAreInvalidFields() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        await harness.client().expectError(
            "invalid_field", after: #"{"type":"create_room","player_name":"a","player_id":5}"#)
        let guest = harness.client(url: code)  // the URL names a room with a free seat
        await guest.expectError("invalid_field", after: #"{"type":"join_room","player_name":"b","player_id":5}"#)
        await guest.expectError("invalid_field", after: #"{"type":"join_room","player_name":"b","room_id":5}"#)
        #expect(guest.session.membership == nil)
        #expect(await host.received().isEmpty)
        #expect(harness.registry.count == 1)
    }

    @Test func joinRoomTellsTheRoomThenWelcomesTheJoiner() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let guest = harness.client()
        await guest.send(
            .object([
                "type": "join_room", "room_id": .string(code.lowercased()), "player_name": "Guesty",
                "player_id": "guest",
            ]))

        let hostMessages = await host.received()
        #expect(hostMessages.map(\.type) == ["player_joined"])
        let guestMessages = await guest.received()
        #expect(guestMessages.map(\.type) == ["player_joined", "room_joined"])
        #expect(hostMessages.first == guestMessages.first)  // one broadcast

        let joined = try #require(hostMessages.first)
        #expect(joined["player_id"] == "guest")
        #expect(joined["player_name"] == "Guesty")
        #expect(joined["player_number"] == 2)
        #expect(joined["room_info"]?["player_count"] == 2)
        #expect(joined["room_info"]?["players"]?.arrayValue?.last?["skin"] == "alienPink")

        let welcome = try #require(guestMessages.last)
        #expect(welcome["room_id"] == .string(code))
        #expect(welcome["player_id"] == "guest")
        #expect(welcome["player_number"] == 2)
        #expect(welcome["room_info"]?["host_id"] == "host")
        #expect(isHex(welcome["reconnect_token"]?.stringValue ?? "", length: 32))
        #expect(guest.session.membership?.playerID == "guest")
    }

    @Test func joinRoomUsesTheURLCodeWhenNoneIsGiven() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let guest = harness.client(url: code.lowercased())
        await guest.send(#"{"type":"join_room","player_name":"Guesty"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
    }

    @Test func joiningAFullRoomFails() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let third = harness.client(url: code)
        await third.expectError(
            "join_failed", after: #"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        #expect(await host.received().isEmpty)
        #expect(await guest.received().isEmpty)
        #expect(third.session.membership == nil)
    }

    @Test func joiningAStartedRoomFails() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty", maxPlayers: 3)
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty"}"#)
        await host.send(#"{"type":"player_ready"}"#)
        await guest.send(#"{"type":"player_ready"}"#)
        await host.send(#"{"type":"start_game"}"#)
        #expect(await host.received().last?.type == "game_starting")
        let late = harness.client(url: code)
        await late.expectError("join_failed", after: #"{"type":"join_room","player_name":"Late"}"#)
    }

    @Test func joiningAnUnknownRoomFails() async throws {
        let harness = try Harness()
        let client = harness.client(url: "ZZZZZZ")
        await client.expectError("join_failed", after: #"{"type":"join_room","player_name":"Lost"}"#)
        await client.expectError("join_failed", after: #"{"type":"join_room","player_name":"Lost","room_id":"new"}"#)
    }

    @Test func duplicatePlayerIDIsRefused() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let impostor = harness.client(url: code)
        await impostor.expectError(
            "duplicate_player_id", after: #"{"type":"join_room","player_name":"Evil","player_id":"host"}"#)
        #expect(await host.received().isEmpty)
        #expect(impostor.session.membership == nil)
    }

    @Test("A connection enters at most its burst of rooms at once, then at its rate: create, join and reconnect alike")
    func roomEntriesAreBudgetedPerConnection() async throws {
        var limits = RelayLimits()
        limits.roomEntriesPerSecond = 0.001  // no refill while a slow machine runs the test
        let harness = try Harness(limits: limits)
        let other = try await harness.client().createRoom(playerID: "host", name: "Host")
        let client = harness.client()
        for _ in 0..<Int(RelayLimits().roomEntryBurst) {
            _ = try await client.createRoom(playerID: "churn", name: "Churn")
            await client.send(#"{"type":"leave_room"}"#)
            #expect(await client.received().map(\.type) == ["room_left"])
        }
        await client.expectError("rate_limited", after: #"{"type":"create_room","player_name":"Churn"}"#)
        await client.expectError(
            "rate_limited", after: #"{"type":"join_room","player_name":"Churn","room_id":"\#(other)"}"#)
        await client.expectError(
            "rate_limited", after: #"{"type":"reconnect","room_id":"\#(other)","player_id":"host","token":"x"}"#)
        #expect(harness.registry.count == 1)  // the other's room alone
        // Another connection has a budget of its own; this one's refills at its rate.
        _ = try await harness.client().createRoom(playerID: "fresh", name: "Fresh")
        #expect(throws: RelayError.rateLimited) { try client.session.takeRoomEntry(now: .now + .seconds(500)) }
        try client.session.takeRoomEntry(now: .now + .seconds(1_100))
        #expect(RelayLimits().roomEntriesPerSecond == 1 && RelayLimits().roomEntryBurst == 10)
    }

    @Test func aReconnectOnAConnectionInARoomIsRefused() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        await guest.expectError(
            "already_in_room", after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"x"}"#)
        #expect(harness.registry.count == 1)
        #expect(await host.received().isEmpty)
    }

    /// The game's client keeps its socket open, and in its room, when a player quits a game to the
    /// menu; its next `create_room` or `join_room` goes out on that socket, as the client sends them.
    @Test func createOrJoinOnAConnectionInARoomLeavesThatRoomFirst() async throws {
        let harness = try Harness()
        let (host, guest, oldCode) = try await harness.startedRoom()

        await host.send(#"{"type":"create_room","room_name":"Hosty's Room","player_name":"Hosty"}"#)
        let created = await host.received()
        #expect(created.map(\.type) == ["player_joined", "room_created"], "\(created)")
        let newCode = try #require(created.last?["room_id"]?.stringValue)
        #expect(newCode != oldCode)
        let left = await guest.received()
        #expect(left.map(\.type) == ["player_left"], "\(left)")
        #expect(left.first?["player_id"]?.stringValue == "host")
        #expect(left.first?["can_reconnect"] == false)

        await guest.send(#"{"type":"join_room","room_id":"\#(newCode)","player_name":"Guesty"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
        #expect(await host.received().map(\.type) == ["player_joined"])
        #expect(harness.registry.count == 1)  // the old room emptied and closed
        #expect(harness.registry.room(code: oldCode) == nil)
    }

    @Test func joiningARoomThatDoesNotExistKeepsTheSendersRoom() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.expectError(
            "join_failed", after: #"{"type":"join_room","room_id":"ZZZZZZ","player_name":"Guesty"}"#)
        #expect(await host.received().isEmpty)
        await guest.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await host.received().map(\.type) == ["chat"])
    }

    enum Refusal: CaseIterable { case full, started, idTaken }

    /// A player in a room who tries another that refuses them (full, started, their id taken there)
    /// keeps their room: leaving it first would strand them in neither.
    @Test(arguments: Refusal.allCases)
    func joiningARoomThatRefusesKeepsTheSendersRoom(_ refusal: Refusal) async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let (_, otherGuest, otherCode) =
            refusal == .started ? try await harness.startedRoom() : try await harness.roomWithTwoPlayers()
        if refusal == .idTaken { await otherGuest.send(#"{"type":"leave_room"}"#) }  // a free seat; "host" stays
        let (code, id) = refusal == .idTaken ? ("duplicate_player_id", "host") : ("join_failed", "newcomer")
        await guest.expectError(
            code, after: #"{"type":"join_room","room_id":"\#(otherCode)","player_name":"G","player_id":"\#(id)"}"#)
        #expect(await host.received().isEmpty)
        await guest.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await host.received().map(\.type) == ["chat"])
    }

    /// Joining the room one is in, full with oneself, leaves it first: the seat that frees is theirs.
    @Test func joiningTheFullRoomOneIsInTakesTheSeatItFrees() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"join_room","room_id":"\#(code)","player_name":"Again","player_id":"again"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
        #expect(await host.received().map(\.type) == ["player_left", "player_joined"])
    }

    /// Joining the room one is in where leaving it first would cost the seat (a started game) or
    /// the room itself (its only member) is answered already_in_room, and nothing changes.
    @Test func joiningTheStartedGameOneIsInKeepsTheSeat() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.startedRoom()
        await guest.expectError(
            "already_in_room", after: #"{"type":"join_room","room_id":"\#(code)","player_name":"Again"}"#)
        #expect(await host.received().isEmpty)
        await guest.send(#"{"type":"chat","message":"still playing"}"#)
        #expect(await host.received().map(\.type) == ["chat"])
    }

    @Test func joiningTheLobbyOneIsAloneInKeepsTheRoom() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        await host.expectError(
            "already_in_room", after: #"{"type":"join_room","room_id":"\#(code)","player_name":"Again"}"#)
        #expect(harness.registry.room(code: code) != nil)
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty"}"#)
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
    }

    @Test func joiningTheRoomOneIsInUnderAnotherMembersIDKeepsTheSeat() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        await guest.expectError(
            "duplicate_player_id",
            after: #"{"type":"join_room","room_id":"\#(code)","player_name":"G","player_id":"host"}"#)
        #expect(await host.received().isEmpty)
        await guest.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await host.received().map(\.type) == ["chat"])
    }

    @Test(arguments: [
        #"{"type":"player_ready"}"#, #"{"type":"start_game"}"#, #"{"type":"player_state","state":{"x":1}}"#,
        #"{"type":"game_action","action":"jump"}"#, #"{"type":"collect_item","item_type":"coin","item_id":"c"}"#,
        #"{"type":"enemy_spawn","enemy":{}}"#, #"{"type":"enemy_state","enemy_id":"e","state":{}}"#,
        #"{"type":"enemy_killed","enemy_id":"e"}"#, #"{"type":"coin_spawn","coin":{}}"#,
        #"{"type":"powerup_spawn","powerup":{}}"#, #"{"type":"sync_entities","enemies":[],"coins":[]}"#,
        #"{"type":"chat","message":"hi"}"#, #"{"type":"leave_room"}"#, #"{"type":"emote","emote":"wave"}"#,
    ])
    func roomMessagesNeedARoom(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("not_in_room", after: text)
    }

    @Test("Outside a room, not_in_room is said once, not for every message: the game shows each error as a popup")
    func notInRoomIsSaidOnceUntilJoined() async throws {
        let harness = try Harness()
        let (_, guest, code) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"leave_room"}"#)
        #expect(await guest.received().map(\.type) == ["room_left"])
        // A client streaming its state after losing its room, as the game's does after a drop.
        await guest.expectError("not_in_room", after: #"{"type":"player_state","state":{"x":1}}"#)
        for x in 2...60 { await guest.send(#"{"type":"player_state","state":{"x":\#(x)}}"#) }
        await guest.send(#"{"type":"chat","message":"anyone?"}"#)
        #expect(await guest.received().isEmpty)
        // Other errors still come, and joining again resets it.
        await guest.expectError("unknown_type", after: #"{"type":"teleport"}"#)
        await guest.send(.object(["type": "join_room", "room_id": .string(code), "player_name": "Back"]))
        #expect(await guest.received().map(\.type) == ["player_joined", "room_joined"])
        await guest.send(#"{"type":"leave_room"}"#)
        _ = await guest.received()
        await guest.expectError("not_in_room", after: #"{"type":"chat","message":"gone again"}"#)
    }

    @Test func leaveRoomTellsTheOthers() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"leave_room"}"#)
        #expect(await guest.received().map(\.type) == ["room_left"])
        let hostMessages = await host.received()
        #expect(hostMessages.map(\.type) == ["player_left"])
        let left = try #require(hostMessages.first)
        #expect(left["player_id"] == "guest")
        #expect(left["player_name"] == "Guesty")
        #expect(left["can_reconnect"] == false)
        #expect(left["room_info"]?["player_count"] == 1)
        #expect(left["room_info"]?["host_id"] == "host")
        // the leaver is out of the room
        #expect(guest.session.membership == nil)
        await guest.expectError("not_in_room", after: #"{"type":"chat","message":"still here?"}"#)
        #expect(await host.received().isEmpty)
        #expect(harness.registry.count == 1)
        // the last one out closes the room
        await host.send(#"{"type":"leave_room"}"#)
        #expect(await host.received().map(\.type) == ["room_left"])
        #expect(harness.registry.count == 0)
    }

    @Test func hostLeavingHandsTheRoomOver() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"leave_room"}"#)
        let left = try #require(await guest.received().first)
        #expect(left.type == "player_left")
        #expect(left["player_id"] == "host")
        #expect(left["room_info"]?["host_id"] == "guest")
        #expect(left["room_info"]?["players"]?.arrayValue?.first?["player_number"] == 2, "a member keeps their number")
        // the new host can do host things
        await guest.send(#"{"type":"coin_spawn","coin":{"coin_id":"c1"}}"#)
        #expect(await guest.received().map(\.type) == ["coin_spawned"])
        // and a newcomer can take the free seat, and the number nobody has
        let newcomer = harness.client(url: code)
        await newcomer.send(#"{"type":"join_room","player_name":"New"}"#)
        let joined = try #require(await newcomer.received().last)
        #expect(joined["player_number"] == 1)
        let players = joined["room_info"]?["players"]?.arrayValue ?? []
        #expect(players.map { $0["player_number"] } == [2, 1])
        #expect(players.map { $0["skin"] } == ["alienPink", "alienGreen"])
    }

    @Test func leavingTheLobbyClearsReadyFlags() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third"}"#)
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        let readies = await host.received().filter { $0.type == "player_ready_changed" }
        #expect(readies.map { $0["is_ready"] } == [true, true], "both were ready before the leave")
        _ = await guest.received()
        await third.send(#"{"type":"leave_room"}"#)
        let left = try #require(await host.received().last)
        #expect(left["room_info"]?["players"]?.arrayValue?.allSatisfy { $0["is_ready"] == false } == true)
        await host.expectError("start_failed", after: #"{"type":"start_game"}"#)
    }

    @Test func registryListsJoinableRooms() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        #expect(harness.registry.roomInfos(joinableOnly: true).map { $0["room_id"] } == [.string(code)])
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty"}"#)
        #expect(harness.registry.roomInfos(joinableOnly: true).isEmpty)
        #expect(harness.registry.roomInfos(joinableOnly: false).first?["player_count"] == 2)
    }
}

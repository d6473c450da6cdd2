import Testing

@testable import Handlers
@testable import Relay

/// A member who dropped from a full lobby keeps their seat only until someone joins: the game's
/// client, reloaded or back from a lost connection, joins anew (it never sends `reconnect`).
@Suite("A dropped member's lobby seat")
struct LobbySeatTests {
    /// Drops `client`'s player as a closed socket does; returns the room.
    private func drop(_ client: TestClient) async throws -> GameRoom {
        let membership = try #require(client.session.membership)
        await membership.room.drop(playerID: membership.playerID, connection: client.connection)
        return membership.room
    }

    @Test("A joiner takes the seat of a member who dropped from a full lobby; that member has left")
    func aJoinerTakesADroppedMembersSeat() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        let token = try await self.token(of: "guest", in: code, harness)
        _ = await host.received()
        _ = try await self.drop(guest)
        #expect(await host.received().map(\.type) == ["player_disconnected"])
        #expect(harness.registry.roomInfos(joinableOnly: true).map { $0["room_id"] } == [.string(code)])

        let newcomer = harness.client(url: code)
        await newcomer.send(#"{"type":"join_room","player_name":"Guesty","player_id":"again"}"#)
        #expect(await newcomer.received().map(\.type) == ["player_joined", "room_joined"])
        let seen = await host.received()
        #expect(seen.map(\.type) == ["player_left", "player_joined"])
        #expect(seen.first?["player_id"] == "guest")
        #expect(seen.first?["can_reconnect"] == false)
        let players = seen.last?["room_info"]?["players"]?.arrayValue ?? []
        #expect(players.map { $0["player_id"] } == ["host", "again"])
        #expect(players.last?["player_number"] == 2)
        #expect(harness.registry.roomInfos(joinableOnly: true).isEmpty)

        await self.expectSeatGone(of: "guest", token: token, in: code, harness)
    }

    @Test("Until someone joins, the dropped member may come back to the lobby")
    func theSeatWaitsForItsMemberUntilSomeoneJoins() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let token = try await self.token(of: "guest", in: code, harness)
        _ = try await self.drop(guest)
        _ = await host.received()
        let comeback = harness.client(url: code)
        await comeback.send(#"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)
        #expect(await comeback.received().first?.type == "reconnected")
        let third = harness.client(url: code)
        await third.expectError("join_failed", after: #"{"type":"join_room","player_name":"Third"}"#)
    }

    @Test("A started game keeps a dropped member's seat, and a joiner under their id is refused")
    func startedGamesAndTheMembersOwnIDKeepTheSeat() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.startedRoom()
        _ = try await self.drop(guest)
        _ = await host.received()
        #expect(harness.registry.roomInfos(joinableOnly: true).isEmpty)
        let late = harness.client(url: code)
        await late.expectError("join_failed", after: #"{"type":"join_room","player_name":"Late"}"#)

        let lobby = try await harness.roomWithTwoPlayers()
        _ = try await self.drop(lobby.guest)
        _ = await lobby.host.received()
        let impostor = harness.client(url: lobby.code)
        await impostor.expectError(
            "duplicate_player_id", after: #"{"type":"join_room","player_name":"Evil","player_id":"guest"}"#)
        #expect(await lobby.host.received().isEmpty)
    }

    @Test("A lobby with a free seat keeps the dropped member's; a vacant one keeps every seat")
    func onlyAFullLobbyWithSomeoneConnectedMakesWay() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        _ = try await self.drop(guest)
        _ = await host.received()
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        #expect(await host.received().map(\.type) == ["player_joined"])
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id) == ["host", "guest", "third"])

        let pair = try await harness.roomWithTwoPlayers()
        _ = try await self.drop(pair.host)
        _ = try await self.drop(pair.guest)
        let stranger = harness.client(url: pair.code)
        await stranger.expectError("join_failed", after: #"{"type":"join_room","player_name":"Stranger"}"#)
    }

    @Test("Of several members who dropped from a full lobby, the earliest-joined makes way, whoever dropped first")
    func theEarliestJoinedDroppedMemberMakesWay() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        #expect(await third.received().map(\.type) == ["player_joined", "room_joined"])
        _ = await host.received()
        _ = await guest.received()
        _ = try await self.drop(third)
        _ = try await self.drop(guest)
        #expect(await host.received().map(\.type) == ["player_disconnected", "player_disconnected"])

        let newcomer = harness.client(url: code)
        await newcomer.send(#"{"type":"join_room","player_name":"New","player_id":"new"}"#)
        #expect(await newcomer.received().map(\.type) == ["player_joined", "room_joined"])
        let seen = await host.received()
        #expect(seen.map(\.type) == ["player_left", "player_joined"])
        #expect(seen.first?["player_id"] == "guest")
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id) == ["host", "third", "new"])
    }

    @Test("A member who dropped from the lobby does not hold up a start the others are ready for; they leave at it")
    func aDroppedMemberDoesNotHoldUpTheStart() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        let token = try await self.token(of: "third", in: code, harness)
        _ = try await self.drop(third)
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        _ = await host.received()
        _ = await guest.received()

        await host.send(#"{"type":"start_game"}"#)
        let seen = await guest.received()
        #expect(seen.map(\.type) == ["player_left", "game_starting"])
        #expect(seen.first?["player_id"] == "third")
        let players = seen.first?["room_info"]?["players"]?.arrayValue ?? []
        #expect(players.map { $0["is_ready"] } == [true, true], "the others' ready flags are kept")
        let inGame = seen.last?["game_state"]?["players"]?.objectValue?.keys.sorted() ?? []
        #expect(inGame == ["guest", "host"])

        await self.expectSeatGone(of: "third", token: token, in: code, harness)
    }

    /// How a dropped member finally goes.
    enum FinalDeparture: CaseIterable, Sendable { case windowEnd, makingWay, removedByAHandler }

    /// The drop cleared everyone's ready flag (PROTOCOL.md: a player leaving a lobby does); the
    /// flags set since are kept when the member goes at last: at their window's end, making way,
    /// or removed by a handler (`removeMember`, a vote-kick of someone away).
    @Test(
        "A dropped member's final departure keeps the ready flags set since the drop",
        arguments: FinalDeparture.allCases)
    func finalDepartureKeepsReadyFlags(_ departure: FinalDeparture) async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        await third.send(#"{"type":"player_ready","is_ready":true}"#)
        let room = try await self.drop(third)  // the room's first drop
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        switch departure {
        case .makingWay:
            await harness.client(url: code).send(#"{"type":"join_room","player_name":"New","player_id":"new"}"#)
        case .windowEnd:
            await room.expire("third", drop: 1)  // the window's end, as its timer would
        case .removedByAHandler:
            #expect(await room.removeMember("third", reason: "kicked"))
        }
        let seen = await host.received()
        let left = try #require(seen.first { $0.type == "player_left" }, "\(seen)")
        #expect(left["player_id"] == "third")
        let players = left["room_info"]?["players"]?.arrayValue ?? []
        #expect(players.map { $0["is_ready"] } == [true, true], "\(seen)")
        await host.send(#"{"type":"start_game"}"#)
        let answer = await host.received()
        if departure == .makingWay {
            #expect(answer.map { $0["code"] } == ["start_failed"], "the newcomer is not ready: \(answer)")
        } else {
            #expect(answer.map(\.type) == ["game_starting"], "\(answer)")
        }
    }

    @Test("A start still needs two connected players, all of them ready")
    func aStartStillNeedsTwoReadyPlayers() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        let room = try await self.drop(guest)
        _ = await host.received()
        // The drop cleared the flags (a lobby's do): the host readies again, and is the one
        // connected player, every one of them ready.
        await host.send(#"{"type":"player_ready","is_ready":true}"#)
        _ = await host.received()
        #expect(await room.state.player("host")?.isReady == true)
        await host.expectError("start_failed", after: #"{"type":"start_game"}"#)
        #expect(await host.received().isEmpty, "the dropped guest keeps their seat")
        #expect(await room.state.player("guest") != nil)
    }

    /// A later `reconnect` as `playerID` with their `token` fails: they have left for good.
    private func expectSeatGone(of playerID: String, token: String, in code: String, _ harness: Harness) async {
        await harness.client(url: code).expectError(
            "reconnect_failed", after: #"{"type":"reconnect","player_id":"\#(playerID)","token":"\#(token)"}"#)
    }

    /// Reads a member's reconnect token from the room (the welcome carrying it was consumed).
    private func token(of playerID: String, in code: String, _ harness: Harness) async throws -> String {
        let room = try #require(harness.registry.room(code: code))
        return try #require(await room.state.player(playerID)?.reconnectToken)
    }
}

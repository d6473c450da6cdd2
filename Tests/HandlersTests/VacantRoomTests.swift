import Testing

@testable import Handlers
@testable import Relay

/// Rooms whose members all dropped hold no place under `maxRooms`: at the cap, the one vacant
/// longest makes way for a new room.
@Suite("vacant rooms")
struct VacantRoomTests {
    /// A harness whose registry holds at most `maxRooms` rooms.
    private func harness(maxRooms: Int) throws -> Harness {
        var limits = RelayLimits()
        limits.maxRooms = maxRooms
        return try Harness(limits: limits)
    }

    /// A fresh room's code and its host's reconnect token.
    private func createRoom(_ host: TestClient, as playerID: String) async throws -> (code: String, token: String) {
        await host.send(#"{"type":"create_room","player_name":"\#(playerID)","player_id":"\#(playerID)"}"#)
        let created = try #require(await host.received().last)
        return (try #require(created["room_id"]?.stringValue), try #require(created["reconnect_token"]?.stringValue))
    }

    /// A room whose only member, "v", dropped: its code and v's reconnect token.
    private func vacantRoom(in harness: Harness) async throws -> (code: String, token: String) {
        let away = harness.client()
        let room = try await self.createRoom(away, as: "v")
        try await self.drop(away, as: "v")
        return room
    }

    private func drop(_ client: TestClient, as playerID: String) async throws {
        let room = try #require(client.session.membership?.room)
        await room.drop(playerID: playerID, connection: client.connection)
    }

    private func reconnect(_ harness: Harness, to code: String, as playerID: String, token: String) async -> [JSONValue]
    {
        let client = harness.client(url: code)
        await client.send(#"{"type":"reconnect","player_id":"\#(playerID)","token":"\#(token)"}"#)
        return await client.received()
    }

    @Test func aDroppedHostCanReconnectWhileTheServerHasRoom() async throws {
        let harness = try self.harness(maxRooms: 2)
        let host = harness.client()
        let (code, token) = try await self.createRoom(host, as: "a")
        try await self.drop(host, as: "a")
        _ = try await self.createRoom(harness.client(), as: "b")  // the second place: nothing evicted
        #expect(await self.reconnect(harness, to: code, as: "a", token: token).first?.type == "reconnected")
    }

    @Test func aVacantRoomIsNotListedUntilSomeoneIsBack() async throws {
        let harness = try self.harness(maxRooms: 10)
        let host = harness.client()
        let (code, token) = try await self.createRoom(host, as: "a")
        _ = try await self.createRoom(harness.client(), as: "b")
        try await self.drop(host, as: "a")
        for joinableOnly in [true, false] {
            let listed = harness.registry.roomInfos(joinableOnly: joinableOnly).compactMap {
                $0["room_id"]?.stringValue
            }
            #expect(listed.count == 1 && !listed.contains(code))
        }
        #expect(await self.reconnect(harness, to: code, as: "a", token: token).first?.type == "reconnected")
        #expect(harness.registry.roomInfos(joinableOnly: false).count == 2)
    }

    @Test func theRoomVacantLongestMakesWayFirst() async throws {
        let harness = try self.harness(maxRooms: 3)
        let (first, second, third) = (harness.client(), harness.client(), harness.client())
        let (firstCode, firstToken) = try await self.createRoom(first, as: "a")
        let (secondCode, _) = try await self.createRoom(second, as: "b")
        _ = try await self.createRoom(third, as: "c")
        let firstRoom = try #require(harness.registry.room(code: firstCode))
        try await self.drop(second, as: "b")
        try await self.drop(first, as: "a")  // vacant after the second room

        _ = try await self.createRoom(harness.client(), as: "d")
        #expect(harness.registry.room(code: secondCode) == nil)
        #expect(harness.registry.room(code: firstCode) === firstRoom)
        _ = try await self.createRoom(harness.client(), as: "e")
        #expect(harness.registry.room(code: firstCode) == nil)
        #expect(harness.registry.count == 3)
        // As if its windows ran out: no timers, nobody left, and no way back.
        try await harness.eventually { await firstRoom.state.players.isEmpty }
        #expect(await firstRoom.pendingExpiries == 0)
        let late = await self.reconnect(harness, to: firstCode, as: "a", token: firstToken)
        #expect(late.first?["code"] == "reconnect_failed")
        await harness.client().expectError("server_full", after: #"{"type":"create_room","player_name":"f"}"#)
    }

    @Test func aRoomOftenBackKeepsItsPlaceInLine() async throws {
        let harness = try self.harness(maxRooms: 2)
        var often = harness.client()
        var (oftenCode, token) = try await self.createRoom(often, as: "a")
        let once = harness.client()
        let (onceCode, _) = try await self.createRoom(once, as: "b")
        for _ in 0..<100 {  // each drop queues a vacancy, stale once the player is back
            try await self.drop(often, as: "a")
            often = harness.client(url: oftenCode)
            await often.send(#"{"type":"reconnect","player_id":"a","token":"\#(token)"}"#)
            token = try #require(await often.received().first?["reconnect_token"]?.stringValue)
        }
        try await self.drop(once, as: "b")
        try await self.drop(often, as: "a")  // vacant after the other room
        _ = try await self.createRoom(harness.client(), as: "c")
        #expect(harness.registry.room(code: onceCode) == nil)
        #expect(harness.registry.room(code: oftenCode) != nil)
        _ = try await self.createRoom(harness.client(), as: "d")
        #expect(harness.registry.room(code: oftenCode) == nil)
    }

    @Test("At the cap, a host alone in a room who creates the next one leaves first: no vacant room is evicted")
    func aHostAloneCreatingAgainEvictsNothing() async throws {
        let harness = try self.harness(maxRooms: 2)
        let (vacantCode, token) = try await self.vacantRoom(in: harness)
        let host = harness.client()
        let (oldCode, _) = try await self.createRoom(host, as: "h")
        let (newCode, _) = try await self.createRoom(host, as: "h")  // quit to the menu, create again
        #expect(harness.registry.room(code: oldCode) == nil, "the host's old room closed")
        #expect(harness.registry.room(code: newCode) != nil)
        #expect(harness.registry.room(code: vacantCode) != nil, "the vacant room keeps its players' window")
        #expect(await self.reconnect(harness, to: vacantCode, as: "v", token: token).first?.type == "reconnected")
    }

    @Test("At the cap, a member with others connected still gets a vacant room evicted for the new one")
    func aMemberWithOthersCreatingEvictsAVacantRoom() async throws {
        let harness = try self.harness(maxRooms: 2)
        let (vacantCode, _) = try await self.vacantRoom(in: harness)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let (newCode, _) = try await self.createRoom(guest, as: "g")
        #expect(harness.registry.room(code: vacantCode) == nil)
        #expect(harness.registry.room(code: newCode) != nil && harness.registry.room(code: code) != nil)
        #expect(await host.received().map(\.type) == ["player_left"])
    }

    @Test func aRoomWithSomeoneConnectedIsNeverEvicted() async throws {
        let harness = try self.harness(maxRooms: 2)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        try await self.drop(guest, as: "guest")  // the host stays
        let other = harness.client()
        let (otherCode, otherToken) = try await self.createRoom(other, as: "o")
        await harness.client().expectError("server_full", after: #"{"type":"create_room","player_name":"x"}"#)

        // A room that fills up again, by reconnect or join, is no longer vacant.
        try await self.drop(other, as: "o")
        #expect(await self.reconnect(harness, to: otherCode, as: "o", token: otherToken).first?.type == "reconnected")
        await harness.client().expectError("server_full", after: #"{"type":"create_room","player_name":"x"}"#)
        #expect(harness.registry.room(code: code) != nil)
        #expect(harness.registry.room(code: otherCode) != nil)
        #expect(await host.received().map(\.type) == ["player_disconnected"])
    }

    @Test func aJoinerMakesAVacantRoomOccupied() async throws {
        let harness = try self.harness(maxRooms: 1)
        let host = harness.client()
        let (code, _) = try await self.createRoom(host, as: "a")
        try await self.drop(host, as: "a")
        let joiner = harness.client(url: code)
        await joiner.send(#"{"type":"join_room","player_name":"j"}"#)
        #expect(await joiner.received().last?.type == "room_joined")
        await harness.client().expectError("server_full", after: #"{"type":"create_room","player_name":"x"}"#)
    }

    @Test(arguments: [false, true])
    func anEvictedRoomAdmitsNobodyEvenBeforeItEmpties(byReconnect: Bool) async throws {
        let harness = try self.harness(maxRooms: 1)
        let host = harness.client()
        let (code, token) = try await self.createRoom(host, as: "a")
        let room = try #require(harness.registry.room(code: code))
        try await self.drop(host, as: "a")
        // Evicted from the room's own turn: its `evict()` waits for the next one, yet it is too late.
        let connection = harness.client().connection
        let registry = harness.registry
        await #expect(throws: byReconnect ? RelayError.reconnectFailed : .joinFailed) {
            try await room.enter { room throws(RelayError) in
                _ = try registry.createRoom(name: "new", maxPlayers: 2)
                if byReconnect {
                    _ = try room.resume(playerID: "a", token: token, newToken: "t", connection: connection)
                } else {
                    _ = try room.admit(playerID: "b", name: "B", reconnectToken: "t", connection: connection)
                }
            }
        }
        try await harness.eventually { await room.state.players.isEmpty }
        #expect(await room.connectionCount == 0)
    }

    /// A room whose members left, or dropped and let their windows run out, is freed: nothing
    /// (a timer, a connection, the registry) keeps it.
    @Test(arguments: [false, true])
    func aClosedRoomIsFreed(byDrops: Bool) async throws {
        var limits = RelayLimits()
        limits.reconnectWindow = .milliseconds(20)
        let harness = try Harness(limits: limits)
        weak var closedRoom: GameRoom?
        do {
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            let room = try #require(host.session.membership?.room)
            closedRoom = room
            for (client, id) in [(host, "host"), (guest, "guest")] {
                if byDrops {
                    await room.drop(playerID: id, connection: client.connection)
                } else {
                    await room.leave(playerID: id, connection: client.connection)
                }
                client.session.membership = nil  // as the connection's end does
            }
        }
        try await harness.eventually { harness.registry.count == 0 }
        try await harness.eventually { closedRoom == nil }
    }
}

import Testing

@testable import Relay

/// The rooms one client address may have open that it created (``RelayLimits/maxRoomsPerAddress``):
/// without the limit a few addresses holding rooms open could hold all ``RelayLimits/maxRooms``.
@Suite("Rooms per address")
struct RoomsPerAddressTests {
    static func registry(perAddress: Int, maxRooms: Int = 10_000) -> RoomRegistry {
        var limits = RelayLimits()
        limits.maxRoomsPerAddress = perAddress
        limits.maxRooms = maxRooms
        return RoomRegistry(limits: limits, eventLoopGroup: testEventLoopGroup, logger: quietLogger)
    }

    static let refused = RelayError.limitExceeded("rooms open that this address created", limit: 2)

    @Test("An address may have its limit of rooms open; others still create theirs; a closed room frees a place")
    func perAddress() throws {
        let registry = Self.registry(perAddress: 2)
        let client = RoomCreator(address: "192.0.2.1", site: nil)
        let first = try registry.createRoom(name: "a", maxPlayers: 2, createdBy: client)
        _ = try registry.createRoom(name: "b", maxPlayers: 2, createdBy: client)
        #expect(throws: Self.refused) { _ = try registry.createRoom(name: "c", maxPlayers: 2, createdBy: client) }
        _ = try registry.createRoom(name: "d", maxPlayers: 2, createdBy: RoomCreator(address: "192.0.2.2", site: nil))
        _ = try registry.createRoom(name: "e", maxPlayers: 2)  // a client not counted
        #expect(registry.count == 4)
        registry.remove(first)
        #expect(registry.roomsOpen(createdBy: "192.0.2.1") == 1)
        _ = try registry.createRoom(name: "f", maxPlayers: 2, createdBy: client)
        #expect(registry.roomsOpen(createdBy: "192.0.2.1") == 2)
    }

    @Test("An IPv6 site's /64s together may have 16 times an address's rooms open")
    func perSite() throws {
        let registry = Self.registry(perAddress: 2)
        let site = "2001:db8:1::/48"
        for subnet in 0..<16 {
            let client = RoomCreator(address: "2001:db8:1:\(subnet)::/64", site: site)
            for _ in 0..<2 { _ = try registry.createRoom(name: "r", maxPlayers: 2, createdBy: client) }
        }
        #expect(registry.roomsOpen(createdBy: site) == 32)
        let another = RoomCreator(address: "2001:db8:1:99::/64", site: site)
        #expect(throws: Self.refused) { _ = try registry.createRoom(name: "r", maxPlayers: 2, createdBy: another) }
        let elsewhere = RoomCreator(address: "2001:db8:2:99::/64", site: "2001:db8:2::/48")
        _ = try registry.createRoom(name: "r", maxPlayers: 2, createdBy: elsewhere)
    }

    @Test("An address at its limit evicts no vacant room; a room evicted for another frees its creator's place")
    func evictions() throws {
        let registry = Self.registry(perAddress: 1, maxRooms: 1)
        let client = RoomCreator(address: "192.0.2.1", site: nil)
        let room = try registry.createRoom(name: "a", maxPlayers: 2, createdBy: client)
        registry.publish(room, info: ["room_id": .string(room.code)], joinable: true, vacant: true)
        #expect(throws: RelayError.limitExceeded("rooms open that this address created", limit: 1)) {
            _ = try registry.createRoom(name: "b", maxPlayers: 2, createdBy: client)
        }
        #expect(registry.room(code: room.code) != nil)
        _ = try registry.createRoom(name: "c", maxPlayers: 2, createdBy: RoomCreator(address: "192.0.2.2", site: nil))
        #expect(registry.room(code: room.code) == nil)
        #expect(registry.roomsOpen(createdBy: "192.0.2.1") == 0)
    }

    /// The game's client keeps its socket, and its room, when a player quits to the menu, and
    /// creates the next room on it: at its address's limit that create was refused, though the
    /// room it left would have closed and given its place back.
    @Test(
        "At its address's limit, a create leaves first a room the sender holds alone that its address created; otherwise it is refused and the sender stays"
    )
    func createAtTheLimitLeavesARoomOnlyItsSenderHolds() async throws {
        var limits = RelayLimits()
        limits.maxRoomsPerAddress = 1
        let harness = try Harness(limits: limits)
        let (addressA, addressB) = (
            RoomCreator(address: "192.0.2.1", site: nil), RoomCreator(address: "192.0.2.2", site: nil)
        )
        let create = #"{"type":"create_room","player_name":"again"}"#

        // With a room-mate: refused, and the room stays as it was.
        let host = harness.client(roomCreator: addressA)
        let hostsRoom = try await host.createRoom(playerID: "host", name: "Host")
        let guest = harness.client(url: hostsRoom, roomCreator: addressB)
        await guest.send(#"{"type":"join_room","player_name":"Guest","player_id":"guest"}"#)
        _ = await guest.received()
        _ = await host.received()
        await host.expectError("limit_exceeded", after: create)
        await host.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await guest.received().map(\.type) == ["chat"])

        // Alone, in a room another address created: leaving it would give address B nothing back.
        _ = try await harness.client(roomCreator: addressB).createRoom(playerID: "b", name: "B")
        await host.send(#"{"type":"leave_room"}"#)
        _ = await host.received()
        _ = await guest.received()
        await guest.expectError("limit_exceeded", after: create)
        #expect(harness.registry.room(code: hostsRoom) != nil, "the guest is still in it")

        // Its only room-mate dropped, in its reconnect window: leaving would not close the room.
        let waiting = harness.client(roomCreator: RoomCreator(address: "192.0.2.4", site: nil))
        let waitingRoom = try await waiting.createRoom(playerID: "waiting", name: "Waiting")
        let dropped = harness.client(url: waitingRoom)
        await dropped.send(#"{"type":"join_room","player_name":"Dropped","player_id":"dropped"}"#)
        await dropped.socketCloses()
        _ = await waiting.received()
        await waiting.expectError("limit_exceeded", after: create)
        await waiting.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await waiting.received().map(\.type) == ["chat"], "still in its room")

        // Alone, in a room its address created: it leaves that room, which closes, for the new one.
        let loner = harness.client(roomCreator: RoomCreator(address: "192.0.2.3", site: nil))
        let lonersRoom = try await loner.createRoom(playerID: "loner", name: "Loner")
        await loner.send(create)
        #expect(await loner.received().map(\.type) == ["player_joined", "room_created"])
        #expect(harness.registry.room(code: lonersRoom) == nil)
        #expect(harness.registry.roomsOpen(createdBy: "192.0.2.3") == 1)
    }
}

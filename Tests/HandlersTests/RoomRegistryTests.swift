import Synchronization
import Testing

@testable import Handlers
@testable import Relay

@Suite("RoomRegistry")
struct RoomRegistryTests {
    private func registry(maxRooms: Int = 10_000) -> RoomRegistry {
        var limits = RelayLimits()
        limits.maxRooms = maxRooms
        return RoomRegistry(limits: limits, eventLoopGroup: testEventLoopGroup, logger: quietLogger)
    }

    /// `count` rooms for two, each with one player in (`p0`, `p1`, …), in the order they were made.
    private func openRooms(_ count: Int, in registry: RoomRegistry) async throws -> [GameRoom] {
        var rooms: [GameRoom] = []
        for index in 0..<count {
            let room = try registry.createRoom(name: "Room \(index)", maxPlayers: 2)
            let connection = PlayerConnection(queueCapacity: 4) { _ in }
            _ = try await room.admit(playerID: "p\(index)", name: "P", reconnectToken: "t", connection: connection)
            rooms.append(room)
        }
        return rooms
    }

    @Test func codesAreSixCharactersFromTheAlphabetAndUnique() throws {
        let registry = self.registry()
        let alphabet = Set(RoomRegistry.codeAlphabet)
        #expect(alphabet.count == 32)
        #expect(alphabet.isDisjoint(with: "01OI"))
        var codes = Set<String>()
        for _ in 0..<2_000 {
            let room = try registry.createRoom(name: "r", maxPlayers: 2)
            #expect(room.code.count == 6)
            #expect(room.code.allSatisfy(alphabet.contains))
            codes.insert(room.code)
        }
        #expect(codes.count == 2_000)
        #expect(registry.count == 2_000)
    }

    @Test func randomCodesUseTheWholeAlphabet() {
        var seen = Set<Character>()
        for _ in 0..<500 { seen.formUnion(RoomRegistry.randomCode()) }
        #expect(seen == Set(RoomRegistry.codeAlphabet))
    }

    @Test func maxRoomsIsEnforced() throws {
        let registry = self.registry(maxRooms: 3)
        var rooms: [GameRoom] = []
        for _ in 0..<3 { rooms.append(try registry.createRoom(name: "r", maxPlayers: 2)) }
        #expect(throws: RelayError.serverFull) { try registry.createRoom(name: "r", maxPlayers: 2) }
        #expect(registry.count == 3)
        // a freed slot can be used again
        registry.remove(rooms[0])
        #expect(registry.count == 2)
        _ = try registry.createRoom(name: "r", maxPlayers: 2)
        #expect(registry.count == 3)
    }

    @Test func serverFullReachesTheClient() async throws {
        var limits = RelayLimits()
        limits.maxRooms = 1
        let harness = try Harness(limits: limits)
        _ = try await harness.client().createRoom(playerID: "a", name: "A")
        await harness.client().expectError("server_full", after: #"{"type":"create_room","player_name":"B"}"#)
    }

    /// At the cap, a `create_room` from a member of a room with others still there is refused before
    /// they leave it; a member alone in theirs leaves it, which makes the place for the new one.
    @Test func createRoomAtTheCapKeepsTheSendersRoomUnlessTheyAreAloneInIt() async throws {
        var limits = RelayLimits()
        limits.maxRooms = 2
        let harness = try Harness(limits: limits)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let loner = harness.client()
        let lonersCode = try await loner.createRoom(playerID: "loner", name: "Loner")

        await guest.expectError("server_full", after: #"{"type":"create_room","player_name":"G"}"#)
        #expect(await host.received().isEmpty)
        await guest.send(#"{"type":"chat","message":"still here"}"#)
        #expect(await host.received().map(\.type) == ["chat"])

        await loner.send(#"{"type":"create_room","player_name":"Loner"}"#)
        #expect(await loner.received().map(\.type) == ["player_joined", "room_created"])
        #expect(harness.registry.room(code: lonersCode) == nil)
        #expect(harness.registry.room(code: code) != nil)
        #expect(harness.registry.count == 2)
    }

    @Test("A connection the server has closed (replaced while its join was on the way) takes no seat")
    func aClosedConnectionIsNotAdmitted() async throws {
        let registry = self.registry()
        let room = try registry.createRoom(name: "r", maxPlayers: 2)
        let replaced = PlayerConnection(queueCapacity: 4) { _ in }
        replaced.close(code: RelayCloseCode.replaced)
        await #expect(throws: RelayError.joinFailed) {
            try await room.admit(playerID: "p1", name: "P", reconnectToken: "t", connection: replaced)
        }
        #expect(await room.state.players.isEmpty)
        #expect(registry.count == 0, "a room made for the closed connection is not left behind")
    }

    @Test func aRoomOnlyRemovesItselfNeverANewerRoomWithItsCode() throws {
        let registry = self.registry()
        let first = try registry.createRoom(name: "r", maxPlayers: 2)
        registry.remove(first)
        let second = try registry.createRoom(name: "r", maxPlayers: 2)
        registry.remove(first)  // a stale room going away again
        #expect(registry.count == 1)
        #expect(registry.room(code: second.code) === second)
        // One that had the newer room's very code (random codes practically never meet again).
        let stale = GameRoom(
            code: second.code,
            state: RoomState(
                roomID: second.code, roomName: "r", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1),
            eventLoop: testEventLoopGroup.next(), registry: registry, logger: quietLogger)
        registry.remove(stale)
        #expect(registry.room(code: second.code) === second)
    }

    @Test func aCodeInUseIsDrawnAgain() throws {
        let draws = Mutex(["AAAAAA", "AAAAAA", "AAAAAA", "BBBBBB"])
        let registry = RoomRegistry(
            limits: RelayLimits(), eventLoopGroup: testEventLoopGroup, logger: quietLogger, observers: [],
            codes: { draws.withLock { $0.removeFirst() } })
        let first = try registry.createRoom(name: "r", maxPlayers: 2)
        let second = try registry.createRoom(name: "r", maxPlayers: 2)
        #expect(first.code == "AAAAAA" && second.code == "BBBBBB")
        #expect(registry.room(code: "AAAAAA") === first && registry.count == 2)
    }

    @Test func lookupIsCaseInsensitive() throws {
        let registry = self.registry()
        let room = try registry.createRoom(name: "r", maxPlayers: 2)
        #expect(registry.room(code: room.code) === room)
        #expect(registry.room(code: room.code.lowercased()) === room)
        // Another code of the alphabet, one letter changed, finds nothing.
        let letter = RoomRegistry.codeAlphabet.first { $0 != room.code.first }!
        #expect(registry.room(code: String(letter) + room.code.dropFirst()) == nil)
        #expect(registry.room(code: "") == nil)
        #expect(registry.room(code: "new") == nil)
    }

    @Test func newRoomsCarryTheirSettings() async throws {
        let registry = self.registry()
        let room = try registry.createRoom(name: "Lobby", maxPlayers: 4)
        let state = await room.state
        #expect(state.roomID == room.code)
        #expect(state.roomName == "Lobby")
        #expect(state.maxPlayers == 4)
        #expect((1...999_999).contains(state.seed))
        #expect(state.players.isEmpty)
        // not listed at all before anyone is in it (no room without a host in `/api/rooms/all`)
        #expect(registry.roomInfos(joinableOnly: true).isEmpty)
        #expect(registry.roomInfos(joinableOnly: false).isEmpty)
        let connection = PlayerConnection(queueCapacity: 4) { _ in }
        _ = try await room.admit(playerID: "p1", name: "One", reconnectToken: "t", connection: connection)
        #expect(registry.roomInfos(joinableOnly: true).map { $0["host_id"] } == ["p1"])
        #expect(registry.roomInfos(joinableOnly: false).count == 1)
    }

    @Test("A room list is served again until rooms change, then until the listing rate would write it again")
    func roomListsAreWrittenAtABoundedRate() async throws {
        let registry = self.registry()
        let rooms = try await self.openRooms(50, in: registry)
        func listed(at now: ContinuousClock.Instant) throws -> (codes: Set<String>, storage: UnsafeRawPointer?) {
            let list = registry.roomList(joinableOnly: true, now: now)
            let rooms = try JSONParser.parse(Array(list.readableBytesView)).arrayValue
            let codes = rooms?.compactMap { $0["room_id"]?.stringValue }
            return (Set(codes ?? []), list.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) })
        }
        let start = ContinuousClock.now
        let first = try listed(at: start)
        #expect(first.codes.count == 50)
        #expect(try listed(at: start + .seconds(60)).storage == first.storage)  // unchanged: the same bytes

        _ = try await rooms[0].admit(
            playerID: "guest", name: "G", reconnectToken: "t", connection: PlayerConnection(queueCapacity: 4) { _ in })
        let listBytes = registry.roomList(joinableOnly: true, now: start).readableBytes
        let rewrite = Duration.seconds(Double(listBytes) / Double(RoomRegistry.listingBytesPerSecond))
        #expect(rewrite > .microseconds(500))  // ~15 KB at 16 MiB/s
        #expect(try listed(at: start + rewrite / 2).codes == first.codes)  // the full room, still listed a moment
        let later = try listed(at: start + rewrite * 2)
        #expect(later.codes == first.codes.subtracting([rooms[0].code]))
        #expect(later.storage != first.storage)
    }

    /// The old backend's dictionary of rooms kept them in the order they were made; a Swift
    /// dictionary's order changes from run to run, and as it grows.
    @Test("Rooms are listed in the order they were made, each room_info with its keys sorted")
    func roomListOrder() async throws {
        let registry = self.registry()
        let rooms = try await self.openRooms(100, in: registry)
        let codes = rooms.map(\.code)
        _ = try await rooms[0].admit(  // full: changed, not moved
            playerID: "guest", name: "G", reconnectToken: "t", connection: PlayerConnection(queueCapacity: 4) { _ in })
        #expect(registry.roomInfos(joinableOnly: false).compactMap { $0["room_id"]?.stringValue } == codes)
        let joinable = registry.roomInfos(joinableOnly: true).compactMap { $0["room_id"]?.stringValue }
        #expect(joinable == Array(codes.dropFirst()))
        let list = String(buffer: registry.roomList(joinableOnly: false, now: .now + .seconds(60)))
        #expect(list.hasPrefix(#"[{"game_started":false,"host_id":"p0","max_players":2,"player_count":2,"players":[{"#))
    }

    @Test func theRoomListIsTheArrayOfTheRoomsInfos() async throws {
        let registry = self.registry()
        #expect(String(buffer: registry.roomList(joinableOnly: false)) == "[]")
        let names = ["A", "B \"quoted\"", "C"]
        for (index, name) in names.enumerated() {  // full rooms: listed, but not as joinable
            let room = try registry.createRoom(name: name, maxPlayers: 1)
            let connection = PlayerConnection(queueCapacity: 4) { _ in }
            _ = try await room.admit(playerID: "p\(index)", name: "P", reconnectToken: "t", connection: connection)
        }
        let list = try JSONParser.parse(Array(registry.roomList(joinableOnly: false).readableBytesView))
        #expect(list == .array(registry.roomInfos(joinableOnly: false)))
        let listedNames = Set(registry.roomInfos(joinableOnly: false).compactMap { $0["room_name"]?.stringValue })
        #expect(listedNames == Set(names))
        #expect(String(buffer: registry.roomList(joinableOnly: true)) == "[]")
    }

    /// A server built in-process (tests, an embedding app) drops its registry while rooms may be
    /// live: the rooms must not keep it, nor it them, alive.
    @Test func aDroppedRegistryFreesItsLiveRooms() async throws {
        weak var droppedRegistry: RoomRegistry?
        weak var droppedRoom: GameRoom?
        do {
            let registry = self.registry()
            let room = try await self.openRooms(1, in: registry)[0]
            await room.enter { $0.publish() }
            (droppedRegistry, droppedRoom) = (registry, room)
        }
        #expect(droppedRegistry == nil)
        #expect(droppedRoom == nil)
    }
}

import Testing

@testable import Relay

@Suite("RoomState — lobby")
struct RoomStateLobbyTests {
    @Test func setReadyTogglesWhenNil() throws {
        var room = try makeRoom(players: 2)
        #expect(room.setReady("p1", nil) == true)
        #expect(room.setReady("p1", nil) == false)
        #expect(room.setReady("p1", true) == true)
        #expect(room.setReady("p1", true) == true)
        #expect(room.setReady("p1", false) == false)
        #expect(room.setReady("ghost", true) == false)
    }

    @Test func onlyTheHostStarts() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        #expect(throws: RelayError.notHost) { try room.startGame(by: "p2", nowMilliseconds: 0) }
        #expect(!room.gameStarted)
    }

    @Test func startNeedsTwoPlayers() throws {
        var room = try makeRoom(players: 1)
        _ = room.setReady("p1", true)
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
    }

    @Test func startNeedsEveryoneReady() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
        #expect(!room.gameStarted)
        #expect(room.gameStartTimestamp == nil)
    }

    @Test func startNeedsEveryoneConnected() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        for id in ["p1", "p2", "p3"] { _ = room.setReady(id, true) }
        room.players[2].isConnected = false
        #expect(throws: RelayError.startFailed) { try room.startGame(by: "p1", nowMilliseconds: 0) }
    }

    @Test func aStartCountsTheConnectedMembersOnly() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        for id in ["p1", "p2"] { _ = room.setReady(id, true) }
        room.players[2].isConnected = false
        try room.checkStart(by: "p1")
        #expect(throws: RelayError.notHost) { try room.checkStart(by: "p2") }
        _ = room.setReady("p2", false)
        #expect(throws: RelayError.startFailed) { try room.checkStart(by: "p1") }
        _ = room.setReady("p2", true)
        room.players[1].isConnected = false
        #expect(throws: RelayError.startFailed) { try room.checkStart(by: "p1") }
    }

    @Test func startSetsTheTimestampAndOnlyOnce() throws {
        var room = try makeRoom(players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        try room.startGame(by: "p1", nowMilliseconds: 1_700_000_000_000.5)
        #expect(room.gameStarted)
        #expect(room.gameStartTimestamp == 1_700_000_000_500.5)
        #expect(throws: RelayError.gameAlreadyStarted) { try room.startGame(by: "p1", nowMilliseconds: 2) }
        #expect(room.gameStartTimestamp == 1_700_000_000_500.5)
    }

    @Test func sequenceGrowsByOne() throws {
        var room = try makeRoom(players: 1)
        #expect(room.sequenceID == 0)
        #expect(room.nextSequence() == 1)
        #expect(room.nextSequence() == 2)
        #expect(room.sequenceID == 2)
    }
}

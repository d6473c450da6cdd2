import Testing

@testable import Relay

@Suite("RoomState — membership")
struct RoomStateMembershipTests {
    @Test func playersAreNumberedInJoinOrderWithStartDefaults() throws {
        var room = try makeRoom(maxPlayers: 3)
        let first = try room.addPlayer(id: "a", name: "Ann", reconnectToken: "ta")
        let second = try room.addPlayer(id: "b", name: "Bob", reconnectToken: "tb")
        let third = try room.addPlayer(id: "c", name: "Cy", reconnectToken: "tc")
        #expect(room.players.map(\.id) == ["a", "b", "c"])
        #expect([room.number(of: "a"), room.number(of: "b"), room.number(of: "c")] == [1, 2, 3])
        #expect(room.number(of: "nobody") == 0)
        #expect(first.skin == "alienGreen")
        #expect(second.skin == "alienPink")
        #expect(third.skin == "alienPink")
        #expect(first.state["x"]?.doubleValue == 400)
        #expect(second.state["x"]?.doubleValue == 500)
        #expect(third.state["x"]?.doubleValue == 500)
        for player in [first, second, third] {
            #expect(player.state["y"]?.doubleValue == 550)
            #expect(player.state["health"] == .integer(100))
            #expect(player.state["lives"] == .integer(3))
            #expect(player.state["weapon"] == "raygun")
            #expect(player.score == 0)
            #expect(player.coins == 0)
            #expect(!player.isReady)
            #expect(player.isConnected)
        }
        #expect(room.hostID == "a")
    }

    @Test func duplicatePlayerIDIsRefused() throws {
        var room = try makeRoom(maxPlayers: 3, players: 1)
        #expect(throws: RelayError.duplicatePlayerID) {
            _ = try room.addPlayer(id: "p1", name: "Other", reconnectToken: "x")
        }
        #expect(room.players.count == 1)
        #expect(room.player("p1")?.name == "Player 1")
    }

    @Test func fullRoomRefusesJoins() throws {
        var room = try makeRoom(maxPlayers: 2, players: 2)
        #expect(throws: RelayError.joinFailed) { _ = try room.addPlayer(id: "p3", name: "Late", reconnectToken: "x") }
        #expect(room.players.count == 2)
    }

    @Test func startedRoomRefusesJoins() throws {
        var room = try makeRoom(maxPlayers: 4, players: 2)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        try room.startGame(by: "p1", nowMilliseconds: 0)
        #expect(throws: RelayError.joinFailed) { _ = try room.addPlayer(id: "p3", name: "Late", reconnectToken: "x") }
    }

    @Test func hostLeavingHandsOverToEarliestRemainingPlayer() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.hostID == "p1")
        #expect(room.removePlayer("p1") == true)
        #expect(room.hostID == "p2")
        #expect(room.number(of: "p3") == 3, "a number stays with its member")
        #expect(room.removePlayer("p3") == false)  // not the host: no change
        #expect(room.hostID == "p2")
        room.removePlayer("p2")
        #expect(room.isAbandoned)
    }

    /// The game's client keeps the number it joined with: a number never moves under a member,
    /// and two members never share one.
    @Test func aJoinerTakesTheLowestNumberNoMemberHas() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        room.removePlayer("p1")
        room.removePlayer("p3")
        #expect(room.number(of: "p2") == 2)
        let first = try room.addPlayer(id: "p4", name: "Four", reconnectToken: "x")
        #expect(first.number == 1 && room.number(of: "p4") == 1)
        #expect(first.state["x"] == .number(400) && first.skin == "alienGreen", "player 1's start")
        let third = try room.addPlayer(id: "p5", name: "Five", reconnectToken: "y")
        #expect(third.number == 3 && third.skin == "alienPink")
        #expect(room.players.map(\.number) == [2, 1, 3], "in join order, numbers kept")
        #expect(room.number(of: "nobody") == 0)
    }

    @Test func hostHandOverSkipsDisconnectedPlayers() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.markDisconnected("p2") == false)
        #expect(room.removePlayer("p1") == true)
        #expect(room.hostID == "p3")
    }

    @Test func hostDroppingHandsOverAtOnce() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        #expect(room.markDisconnected("p1") == true)
        #expect(room.hostID == "p2")
        #expect(room.player("p1")?.isConnected == false)
        #expect(!room.isAbandoned)
        // coming back does not take the role back
        _ = try room.reconnect("p1", token: "t1", newToken: "t1b")
        #expect(room.hostID == "p2")
    }

    @Test func aJoinerFindingTheHostDroppedBecomesHostAtOnce() throws {
        var room = try makeRoom(maxPlayers: 3, players: 1)
        #expect(room.markDisconnected("p1") == false)  // nobody else to take it
        #expect(room.hostID == "p1")
        _ = try room.addPlayer(id: "p2", name: "Player 2", reconnectToken: "t2")
        #expect(room.hostID == "p2")
        _ = try room.addPlayer(id: "p3", name: "Player 3", reconnectToken: "t3")
        #expect(room.hostID == "p2")
        // coming back does not take the role back
        _ = try room.reconnect("p1", token: "t1", newToken: "t1b")
        #expect(room.hostID == "p2")
    }

    @Test func unknownPlayerDisconnectChangesNothing() throws {
        var room = try makeRoom(players: 2)
        #expect(room.markDisconnected("ghost") == false)
        #expect(room.hostID == "p1")
    }

    @Test func leavingTheLobbyClearsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        room.removePlayer("p3")
        #expect(room.players.allSatisfy { !$0.isReady })
    }

    @Test func droppingFromTheLobbyClearsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        _ = room.setReady("p1", true)
        _ = room.setReady("p2", true)
        room.markDisconnected("p3")
        #expect(room.players.allSatisfy { !$0.isReady })
    }

    @Test func leavingOrDroppingDuringTheGameKeepsReadyFlags() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        for id in ["p1", "p2", "p3"] { _ = room.setReady(id, true) }
        try room.startGame(by: "p1", nowMilliseconds: 0)
        room.removePlayer("p3")
        #expect(room.players.allSatisfy { $0.isReady })
        room.markDisconnected("p2")
        #expect(room.players.allSatisfy { $0.isReady })
    }

    @Test func reconnectNeedsTheRightTokenAndIssuesANewOne() throws {
        var room = try makeRoom(players: 2)
        room.markDisconnected("p2")
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "wrong", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "t1", newToken: "n") }
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("ghost", token: "t2", newToken: "n") }
        #expect(room.player("p2")?.isConnected == false)
        let player = try room.reconnect("p2", token: "t2", newToken: "fresh")
        #expect(player.isConnected)
        #expect(player.reconnectToken == "fresh")
        #expect(room.player("p2")?.reconnectToken == "fresh")
    }

    /// A `reconnected` lost with the connection that carried it leaves the client with the token
    /// it just used: that one stays good until the player uses a newer one.
    @Test func theTokenLastUsedStaysGoodUntilANewerOneIsUsed() throws {
        var room = try makeRoom(players: 2)
        room.markDisconnected("p2")
        _ = try room.reconnect("p2", token: "t2", newToken: "lost")
        room.markDisconnected("p2")
        let again = try room.reconnect("p2", token: "t2", newToken: "second")
        #expect(again.isConnected)
        #expect(again.reconnectToken == "second")
        // a token issued and never used is spent once another is issued
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "lost", newToken: "n") }
        // using the newest spends every older one
        _ = try room.reconnect("p2", token: "second", newToken: "third")
        #expect(throws: RelayError.reconnectFailed) { _ = try room.reconnect("p2", token: "t2", newToken: "n") }
        #expect(room.player("p2")?.reconnectToken == "third")
        #expect(room.player("p2")?.lastUsedToken == "second")
    }

    @Test func constantTimeEqualsComparesWholeStrings() {
        #expect(constantTimeEquals("abc", "abc"))
        #expect(!constantTimeEquals("abc", "abd"))
        #expect(!constantTimeEquals("abc", "ab"))
        #expect(constantTimeEquals("", ""))
    }
}

import Testing

@testable import Relay

@Suite("RoomState — player state")
struct RoomStatePlayerStateTests {
    @Test func knownKeysUpdateTheServerCopy() throws {
        var room = try makeRoom(players: 2)
        let relayed = try room.applyPlayerState(
            "p1",
            [
                "x": .number(12.5), "y": 3, "velocity_x": .number(-1.25), "health": 80, "weapon": "laser",
                "skin": "alienBlue", "is_alive": false, "facing_right": false, "is_jumping": true,
            ])
        let player = try #require(room.player("p1"))
        #expect(player.state["x"] == .number(12.5))
        #expect(player.state["y"] == .integer(3))
        #expect(player.state["velocity_x"] == .number(-1.25))
        #expect(player.state["health"] == .integer(80))
        #expect(player.state["weapon"] == "laser")
        #expect(player.skin == "alienBlue")
        #expect(player.state["is_alive"] == false)
        #expect(player.state["is_jumping"] == true)
        #expect(relayed["x"] == .number(12.5))
        #expect(relayed.count == 9)
        // the other player is untouched
        #expect(room.player("p2")?.state["x"]?.doubleValue == 500)
    }

    @Test(
        arguments: [
            ("x", "a" as JSONValue), ("y", true), ("health", nil), ("is_alive", 1), ("facing_right", "true"),
            ("weapon", 5), ("skin", ["a": 1]), ("checkpoint", [1]), ("lives", "3"),
        ] as [(String, JSONValue)])
    func wrongKindsAreRefused(_ key: String, _ value: JSONValue) throws {
        var room = try makeRoom(players: 1)
        let before = try #require(room.player("p1"))
        let error = relayError { _ = try room.applyPlayerState("p1", ["velocity_x": 1, key: value]) }
        #expect(error?.code == "invalid_field")
        #expect(error?.message.contains("state.\(key)") == true)
        // nothing was applied, not even the valid key
        let after = try #require(room.player("p1"))
        #expect(after.state == before.state)
        #expect((after.score, after.coins, after.isReady) == (before.score, before.coins, before.isReady))
    }

    @Test func identityKeysAreStrippedUnknownKeysKept() throws {
        var room = try makeRoom(players: 2)
        let relayed = try room.applyPlayerState(
            "p2",
            [
                "x": 1, "player_id": "p1", "player_name": "Mallory", "player_number": 1, "is_ready": true,
                "score": 999_999, "coins": 500, "custom": ["any": "thing"], "animation": "run",
            ])
        #expect(relayed["player_id"] == nil)
        #expect(relayed["player_name"] == nil)
        #expect(relayed["player_number"] == nil)
        #expect(relayed["is_ready"] == nil)
        #expect(relayed["custom"] == ["any": "thing"])
        #expect(relayed["animation"] == "run")
        // Relayed as sent, as the old backend did (README); the server's own counts stay below.
        #expect(relayed["score"] == 999_999)
        #expect(relayed["coins"] == 500)
        #expect(relayed["x"] == 1)
        let player = try #require(room.player("p2"))
        #expect(player.id == "p2")
        #expect(player.name == "Player 2")
        #expect(player.score == 0)
        #expect(player.coins == 0)
        #expect(!player.isReady)
        #expect(player.state["custom"] == nil)
        #expect(player.state["score"] == nil)
        #expect(room.number(of: "p2") == 2)
        // p1 was not touched by the spoofed player_id
        #expect(room.player("p1")?.name == "Player 1")
        #expect(room.player("p1")?.state["x"]?.doubleValue == 400)
    }

    @Test func unknownPlayerIsNotInRoom() throws {
        var room = try makeRoom(players: 1)
        #expect(throws: RelayError.notInRoom) { _ = try room.applyPlayerState("ghost", ["x": 1]) }
    }

    @Test func assistMovesOnlyFromTheHost() throws {
        var room = try makeRoom(players: 2)
        #expect(room.assist(by: "p2", target: "p1", x: 1, y: 2) == nil)
        #expect(room.assist(by: "p1", target: "ghost", x: 1, y: 2) == nil)
        #expect(room.assist(by: "p1", target: "p2", x: 10.5, y: 20)?.id == "p2")
        #expect(room.player("p2")?.state["x"] == .number(10.5))
        #expect(room.player("p2")?.state["y"] == .number(20))
    }

    /// As the old server did: each axis given as a number moves, the other stays where it was.
    @Test func assistMovesAlongTheAxesGiven() throws {
        var room = try makeRoom(players: 2)
        let assisted = room.assist(by: "p1", target: "p2", x: nil, y: 7)
        let moved = try #require(assisted)
        #expect(moved.x == room.player("p2")?.state["x"] && moved.x.doubleValue == 500)
        #expect(moved.y == .number(7) && room.player("p2")?.state["y"] == .number(7))
        let assistedAgain = room.assist(by: "p1", target: "p2", x: nil, y: nil)
        let unmoved = try #require(assistedAgain)
        #expect(unmoved.x.doubleValue == 500 && unmoved.y == .number(7))
    }
}

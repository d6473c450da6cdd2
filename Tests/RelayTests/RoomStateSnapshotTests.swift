import Testing

@testable import Relay

@Suite("RoomState — snapshots")
struct RoomStateSnapshotTests {
    @Test func roomInfoListsConnectedPlayersOnly() throws {
        var room = try makeRoom(maxPlayers: 3, players: 3)
        room.markDisconnected("p3")
        _ = room.setReady("p2", true)
        let info = room.roomInfo
        #expect(info["room_id"] == "ABC234")
        #expect(info["room_name"] == "Test room")
        #expect(info["host_id"] == "p1")
        #expect(info["player_count"] == 2)
        #expect(info["max_players"] == 3)
        #expect(info["game_started"] == false)
        #expect(
            info["players"] == [
                [
                    "player_id": "p1", "player_name": "Player 1", "player_number": 1, "is_ready": false,
                    "skin": "alienGreen",
                ],
                [
                    "player_id": "p2", "player_name": "Player 2", "player_number": 2, "is_ready": true,
                    "skin": "alienPink",
                ],
            ])
    }

    @Test func gameStateCarriesPlayersScoresAndEntities() throws {
        var room = try startedRoom()
        _ = try room.collect(itemType: "coin", itemID: "c9", by: "p2")
        _ = try room.spawnEnemy(["enemy_id": "alive"], by: "p1", now: .now)
        _ = try room.spawnEnemy(["enemy_id": "dead"], by: "p1", now: .now)
        _ = room.killEnemy("dead", by: "p1", now: .now)
        _ = try room.spawnCoin(["coin_id": "c1"], by: "p1")
        _ = try room.spawnPowerup(["powerup_id": "pu1"], by: "p1")
        _ = room.nextSequence()
        let state = room.gameState(nowMilliseconds: 123.5)
        #expect(state["seed"] == 4242)
        #expect(state["level"] == 1)
        #expect(state["game_mode"] == "online_coop")
        #expect(state["server_timestamp"] == .number(123.5))
        #expect(state["game_start_timestamp"] == .number(1_500))
        #expect(state["sequence_id"] == 1)
        let players = try #require(state["players"]?.objectValue)
        #expect(Set(players.keys) == ["p1", "p2"])
        #expect(players["p2"]?["score"] == 10)
        #expect(players["p2"]?["coins"] == 1)
        #expect(players["p2"]?["player_number"] == 2)
        #expect(players["p2"]?["player_name"] == "Player 2")
        #expect(players["p1"]?["score"] == 0)
        #expect(players["p1"]?["x"]?.doubleValue == 400)
        #expect(state["enemies"]?.arrayValue?.compactMap { $0["enemy_id"]?.stringValue } == ["alive"])
        #expect(state["coins"]?.arrayValue?.compactMap { $0["coin_id"]?.stringValue } == ["c1"])
        #expect(state["powerups"]?.arrayValue?.compactMap { $0["powerup_id"]?.stringValue } == ["pu1"])
        #expect(state["collected_coins"] == ["c9"])
        #expect(state["collected_powerups"] == [])
        #expect(state["projectiles"] == [])
        #expect(state["chat_history"] == [])
    }

    @Test func lobbyGameStateHasNoStartTimestamp() throws {
        let room = try makeRoom(players: 1)
        #expect(room.gameState(nowMilliseconds: 0)["game_start_timestamp"] == .null)
    }

    @Test func chatIsRecordedOnlyWhileTheGameRuns() throws {
        var lobby = try makeRoom(players: 2)
        lobby.recordChat(["message": "hi"])
        #expect(lobby.chatHistory.isEmpty)
        #expect(lobby.gameState(nowMilliseconds: 0)["chat_history"] == [])

        var room = try startedRoom()
        for index in 0..<25 { room.recordChat(["message": .string("line \(index)")]) }
        #expect(room.chatHistory.count == RoomState.chatHistoryLength)
        let history = try #require(room.gameState(nowMilliseconds: 0)["chat_history"]?.arrayValue)
        #expect(history.count == 20)
        #expect(history.first?["message"] == "line 5")
        #expect(history.last?["message"] == "line 24")
    }
}

@Suite("RememberedIDs")
struct RememberedIDsTests {
    @Test func forgetsTheOldestPastEitherLimitAQuarterOver() {
        var ids = RememberedIDs(countLimit: 8, byteLimit: 1_000)
        for index in 0..<10 { _ = ids.insert("id\(index)") }  // 10 ids of 3 bytes: within 8 + 2
        #expect(ids.count == 10)
        _ = ids.insert("id10")  // 11: back to 8, oldest first
        #expect(Array(ids.ids) == (3...10).map { "id\($0)" })
        #expect(ids.bytes == 3 * 7 + 4)

        var large = RememberedIDs(countLimit: 100, byteLimit: 100)
        for name in ["a", "b", "c", "d"] { _ = large.insert(String(repeating: name, count: 30)) }  // 120 bytes
        #expect(large.count == 4)
        _ = large.insert("e")  // 121 bytes, past 125? no: stays
        #expect(large.count == 5)
        _ = large.insert(String(repeating: "f", count: 10))  // 131: back to at most 100 bytes
        #expect(
            Array(large.ids) == [
                String(repeating: "c", count: 30), String(repeating: "d", count: 30), "e",
                String(repeating: "f", count: 10),
            ])
        #expect(large.bytes == 71)
    }

    @Test func repeatsAndRemovalsKeepTheByteCount() {
        var ids = RememberedIDs(countLimit: 10, byteLimit: 1_000)
        let (first, again) = (ids.insert("abc"), ids.insert("abc"))
        #expect(first && !again)
        ids.insert(contentsOf: ["de", "f"])
        ids.remove("de")
        ids.remove("missing")
        #expect(Array(ids.ids) == ["abc", "f"] && ids.bytes == 4)
        #expect(ids.contains("f") && !ids.contains("de"))
    }
}

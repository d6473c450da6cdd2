import Testing

@testable import Handlers
@testable import Relay

/// A connection speaks only for the player it created or joined as (PROTOCOL.md §3): a
/// `player_id` or `player_name` in a room message is the client's word, not the server's. Here
/// the guest's messages name the host; every relay must name the guest, and only the guest's
/// score and state may change.
@Suite("a room message's player_id is not its sender")
struct SenderIdentityTests {
    @Test func chatNamesTheSessionsPlayer() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.startedRoom()  // started: the history keeps it
        await guest.send(#"{"type":"chat","player_id":"host","player_name":"Hosty","message":"hi"}"#)
        let chat = try #require(await host.received().first)
        #expect(chat.type == "chat")
        #expect(chat["player_id"] == "guest")
        #expect(chat["player_name"] == "Guesty")
        #expect(await guest.received() == [chat])
        let room = try #require(host.session.membership?.room)
        #expect(await room.state.chatHistory.last?["player_id"] == "guest")
    }

    @Test func aCollectionScoresForTheSessionsPlayer() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(
            #"{"type":"collect_item","player_id":"host","player_name":"Hosty","item_type":"coin","item_id":"c1"}"#)
        let collected: JSONValue = [
            "type": "item_collected", "player_id": "guest", "item_type": "coin", "item_id": "c1", "player_coins": 1,
            "player_score": 10,
        ]
        #expect(await host.received() == [collected])
        #expect(await guest.received() == [collected])
        let room = try #require(host.session.membership?.room)
        #expect(await room.state.player("host")?.coins == 0)
        #expect(await room.state.player("host")?.score == 0)
        #expect(await room.state.player("guest")?.coins == 1)
        #expect(await room.state.player("guest")?.score == 10)
    }

    @Test func aKillIsTheSessionsPlayers() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.startedRoom()
        await host.send(#"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","coin_reward":0}}"#)
        _ = await host.received()
        _ = await guest.received()
        await guest.send(
            #"{"type":"enemy_killed","player_id":"host","player_name":"Hosty","killed_by":"host","enemy_id":"e1"}"#)
        let told = await host.received()
        #expect(told == [["type": "enemy_killed", "enemy_id": "e1", "killed_by": "guest"]])
        #expect(await guest.received() == told)
        // The room's copy too: a sync or a game_state lists it.
        let room = try #require(host.session.membership?.room)
        #expect(await room.enter { $0.state.enemies["e1"]?.fields["killed_by"] } == "guest")
    }

    /// A plain message is relayed from its bytes, one with non-ASCII text in `data` decoded first:
    /// each path names the sender itself.
    @Test(arguments: [
        #"{"type":"game_action","player_id":"host","player_name":"Hosty","action":"shoot","data":{"x":1}}"#,
        #"{"type":"game_action","player_id":"host","player_name":"Hosty","action":"say","data":{"text":"café"}}"#,
    ])
    func aGameActionNamesTheSessionsPlayer(_ text: String) async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(text)
        let relayed = await host.received()
        #expect(relayed.map(\.type) == ["game_action"], "\(relayed)")
        #expect(relayed.first?["player_id"] == "guest")
        #expect(relayed.first?["player_name"] == nil)
        #expect(await guest.received().isEmpty)
    }

    /// `assist` moves a player only when the host sends it: naming the host does not make the guest one.
    @Test func anAssistNamingTheHostIsTheGuests() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let data = #"{"target_player_id":"host","x":1,"y":1}"#
        await guest.send(#"{"type":"game_action","player_id":"host","action":"assist","data":\#(data)}"#)
        let relayed = await host.received()
        #expect(relayed.map(\.type) == ["game_action"], "no player_state_update: \(relayed)")
        #expect(relayed.first?["player_id"] == "guest")
        let room = try #require(host.session.membership?.room)
        #expect(await room.state.player("host")?.state["x"]?.doubleValue == 400)
    }

    @Test func readyAndEmoteNameTheSessionsPlayer() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"player_ready","player_id":"host","player_name":"Hosty","is_ready":true}"#)
        let changed = try #require(await host.received().first)
        #expect(changed.type == "player_ready_changed")
        #expect(changed["player_id"] == "guest")
        _ = await guest.received()
        let room = try #require(host.session.membership?.room)
        #expect(await room.state.player("host")?.isReady == false)
        #expect(await room.state.player("guest")?.isReady == true)

        await guest.send(#"{"type":"emote","player_id":"host","player_name":"Hosty","emote":"wave"}"#)
        let emote: JSONValue = ["type": "emote", "player_id": "guest", "emote": "wave"]
        #expect(await host.received() == [emote])
        #expect(await guest.received() == [emote])
    }

    @Test func leavingNamingTheHostTakesTheSessionsPlayerOut() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let room = try #require(host.session.membership?.room)
        await guest.send(#"{"type":"leave_room","player_id":"host","player_name":"Hosty"}"#)
        #expect(await guest.received().map(\.type) == ["room_left"])
        let left = await host.received()
        #expect(left.map(\.type) == ["player_left"])
        #expect(left.first?["player_id"] == "guest")
        #expect(await room.state.players.map(\.id) == ["host"])
        #expect(host.session.membership?.playerID == "host")
    }
}

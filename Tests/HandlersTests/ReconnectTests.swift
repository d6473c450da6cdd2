import Dispatch
import Foundation
import NIOPosix
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

@Suite("drops and reconnect")
struct ReconnectTests {
    private func drop(_ client: TestClient, as playerID: String) async throws {
        let room = try #require(client.session.membership?.room)
        await room.drop(playerID: playerID, connection: client.connection)
    }

    /// Sends `text` from `client` while `room`'s loop (the harness's only room loop) is held in a
    /// turn of it, closes the client's socket while the message waits for a room, then lets the
    /// loop go: the answer must be `join_failed`.
    private func closeWhileWaiting(_ client: TestClient, sends text: String, holding room: GameRoom) async throws {
        let gate = DispatchSemaphore(value: 0)
        let held = Atomic(false)
        let holder = Task {
            await room.enter { _ in
                held.store(true, ordering: .relaxed)
                gate.wait()
            }
        }
        while !held.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
        let change = Task { await client.expectError("join_failed", after: text) }
        // By then it waits for a room (were it later, it would read from a closed socket, and be
        // refused the same).
        try await Task.sleep(for: .milliseconds(300))
        client.connection.socketHasClosed()
        gate.signal()
        await change.value
        await holder.value
    }

    /// A started game whose guest has dropped, the room's entity budget some 98 s in debt (game
    /// states listing its one enemy 100 times, at 1 entity a second); with the guest's token.
    private func gameWithGuestDroppedInEntityDebt() async throws -> (
        harness: Harness, host: TestClient, room: GameRoom, code: String, token: String
    ) {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 1  // answers list 1 entity a second
        let harness = try Harness(limits: limits)
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        await host.send(#"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","x":1,"y":2}}"#)
        _ = await host.received()
        _ = await guest.received()
        let room = try #require(harness.registry.room(code: code))
        await room.enter { room in
            for _ in 0..<100 { room.state.spendEntityBudget(onGameStateAt: .now) }
        }
        try await self.drop(guest, as: "guest")
        _ = await host.received()
        return (harness, host, room, code, token)
    }

    @Test("A reconnect is refused (rate_limited) while the room's entity budget is in debt; the player stays dropped")
    func reconnectWaitsForTheEntityBudget() async throws {
        let (harness, host, room, code, token) = try await self.gameWithGuestDroppedInEntityDebt()
        let comeback = harness.client(url: "new")
        await comeback.expectError(
            "rate_limited", after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#
        )
        #expect(await host.received().isEmpty)  // no player_reconnected
        #expect(await room.state.connectedPlayers.map(\.id) == ["host"])
    }

    /// A token that can never work is told so while the budget is in debt: `rate_limited` would
    /// have its client retry it.
    @Test("While the entity budget is in debt, a wrong token, or a player who left, still gets reconnect_failed")
    func aBadReconnectIsRefusedAsSuchWhileTheBudgetIsInDebt() async throws {
        let (harness, _, room, code, token) = try await self.gameWithGuestDroppedInEntityDebt()
        func reconnect(_ playerID: String, _ token: String) -> String {
            #"{"type":"reconnect","room_id":"\#(code)","player_id":"\#(playerID)","token":"\#(token)"}"#
        }
        for (playerID, tried) in [("guest", "wrong"), ("guest", token + "0"), ("gone", token)] {
            await harness.client(url: "new").expectError("reconnect_failed", after: reconnect(playerID, tried))
        }
        // The good token is only held back.
        await harness.client(url: "new").expectError("rate_limited", after: reconnect("guest", token))
        #expect(await room.state.connectedPlayers.map(\.id) == ["host"])
    }

    /// A client retrying a reconnect on a new socket, whose earlier socket's `reconnect` is read
    /// after it hung up: that one replaced the live connection (4001), spent the token the client
    /// held, and left the player dropped once its own end was seen.
    @Test("A reconnect read from a socket its client has closed takes nothing from the live connection")
    func reconnectFromAClosedSocket() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        try await self.drop(guest, as: "guest")
        _ = await host.received()
        let reconnect = #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"%@"}"#
        let live = harness.client(url: "new")
        await live.send(reconnect.replacingOccurrences(of: "%@", with: token))
        let liveToken = try #require(await live.received().first?["reconnect_token"]?.stringValue)
        #expect(await host.received().map(\.type) == ["player_reconnected"])

        let abandoned = harness.client(url: "new")
        abandoned.connection.socketHasClosed()
        await abandoned.expectError("reconnect_failed", after: reconnect.replacingOccurrences(of: "%@", with: token))
        #expect(abandoned.session.membership == nil)
        #expect(live.connection.closeCode == nil)
        #expect(await host.received().isEmpty)
        // The token the live connection was given is still the one that works.
        let again = harness.client(url: "new")
        await again.send(reconnect.replacingOccurrences(of: "%@", with: liveToken))
        #expect(await again.received().first?.type == "reconnected")
    }

    @Test("A join read from a socket its client has closed takes no seat")
    func joinFromAClosedSocket() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let gone = harness.client(url: code)
        gone.connection.socketHasClosed()
        await gone.expectError("join_failed", after: #"{"type":"join_room","player_name":"Gone"}"#)
        #expect(await host.received().isEmpty)
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id) == ["host"])
    }

    /// The socket closes while a join or create waits for a room (the one it joins, or its own to
    /// leave): the sender stays in its room, to drop from it with a window, instead of leaving it
    /// for good for a seat it cannot take. Its rooms live on a loop of the test's own, which the
    /// test holds meanwhile (holding the shared one would hold up other suites' plugins).
    @Test(arguments: [
        #"{"type":"join_room","room_id":"%other","player_name":"G"}"#,
        #"{"type":"join_room","room_id":"%own","player_name":"G","player_id":"guest"}"#,
        #"{"type":"create_room","player_name":"G"}"#,
    ])
    func aSocketClosedWhileItsRoomChangeWaitsLeavesItsRoomAsItWas(message: String) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let harness = try Harness(rooms: group)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let otherCode = try await harness.client().createRoom(playerID: "other", name: "Other")
        _ = await host.received()
        let other = try #require(harness.registry.room(code: otherCode))
        let text = message.replacingOccurrences(of: "%other", with: otherCode).replacingOccurrences(
            of: "%own", with: code)
        try await self.closeWhileWaiting(guest, sends: text, holding: other)
        #expect(await host.received().isEmpty, "no player_left")
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id) == ["host", "guest"])
        #expect(guest.session.membership?.room === room)
        #expect(harness.registry.count == 2, "no room left open for it")
    }

    /// At the server's room cap, a `create_room` from a member with a connected room-mate falls
    /// back to evicting a vacant room: not for a sender whose socket closed while it waited, who
    /// can take no seat in the new room (the vacant room's dropped players keep theirs).
    @Test func aSocketClosedWhileACreateWaitsEvictsNoVacantRoom() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        var limits = RelayLimits()
        limits.maxRooms = 2
        let harness = try Harness(limits: limits, rooms: group)
        let (_, guest, code) = try await harness.roomWithTwoPlayers()
        let away = harness.client()
        let vacantCode = try await away.createRoom(playerID: "away", name: "Away")
        try await self.drop(away, as: "away")
        let room = try #require(harness.registry.room(code: code))
        try await self.closeWhileWaiting(guest, sends: #"{"type":"create_room","player_name":"G"}"#, holding: room)
        let vacant = try #require(harness.registry.room(code: vacantCode), "evicted for a create that could not be")
        #expect(await vacant.state.players.map(\.id) == ["away"])
        #expect(harness.registry.count == 2)
    }

    /// A member who joins the room they are in, the others away, leaves and joins again in one
    /// turn of the room, which never shows itself vacant meanwhile: a create at the server's cap
    /// could have evicted it in between, and the member lost it.
    @Test func aRejoinNeverShowsItsRoomVacant() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        try await self.drop(guest, as: "guest")
        _ = await host.received()
        let vacanciesBefore = harness.registry.vacanciesBegun
        await host.send(#"{"type":"join_room","room_id":"\#(code)","player_name":"Hosty","player_id":"host"}"#)
        #expect(await host.received().map(\.type).contains("room_joined"))
        #expect(harness.registry.vacanciesBegun == vacanciesBefore, "shown vacant between the leave and the join")
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id).sorted() == ["guest", "host"])
    }

    @Test("A join or create read from a socket its client has closed leaves the sender's room as it was")
    func roomChangeFromAClosedSocket() async throws {
        for message in [
            #"{"type":"join_room","room_id":"%@","player_name":"G"}"#, #"{"type":"create_room","player_name":"G"}"#,
        ] {
            let harness = try Harness()
            let (host, guest, code) = try await harness.roomWithTwoPlayers()
            let other = harness.client()
            let otherCode = try await other.createRoom(playerID: "other", name: "Other")
            _ = await host.received()
            guest.connection.socketHasClosed()
            await guest.expectError("join_failed", after: message.replacingOccurrences(of: "%@", with: otherCode))
            #expect(await host.received().isEmpty, "no player_left: \(message)")
            #expect(harness.registry.count == 2, "\(message)")
            let room = try #require(harness.registry.room(code: code))
            #expect(await room.state.players.map(\.id) == ["host", "guest"], "\(message)")
            #expect(guest.session.membership?.room === room, "\(message)")
        }
    }

    @Test(arguments: [false, true])
    func droppedPlayerReconnectsWithItsToken(started: Bool) async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: started)
        try await self.drop(guest, as: "guest")

        let disconnected = try #require(await host.received().first)
        #expect(disconnected.type == "player_disconnected")
        #expect(disconnected["player_id"] == "guest")
        #expect(disconnected["player_name"] == "Guesty")
        #expect(disconnected["can_reconnect"] == true)
        #expect(disconnected["room_info"]?["player_count"] == 1)
        #expect(await guest.received().isEmpty)
        // the dropped connection no longer speaks for the player
        await guest.expectError("not_in_room", after: #"{"type":"chat","message":"ghost"}"#)
        #expect(await host.received().isEmpty)

        let comeback = harness.client(url: "new")
        await comeback.expectError(
            "reconnect_failed", after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"wrong"}"#
        )
        await comeback.expectError(
            "reconnect_failed",
            after: #"{"type":"reconnect","room_id":"ZZZZZZ","player_id":"guest","token":"\#(token)"}"#)
        await comeback.expectError(
            "reconnect_failed",
            after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"nobody","token":"\#(token)"}"#)
        await comeback.expectError(
            "invalid_field", after: #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest"}"#)
        #expect(await host.received().isEmpty)

        let before = Date().timeIntervalSince1970 * 1000
        await comeback.send(
            #"{"type":"reconnect","room_id":"\#(code.lowercased())","player_id":"guest","token":"\#(token)"}"#)
        let after = Date().timeIntervalSince1970 * 1000
        let messages = await comeback.received()
        #expect(messages.map(\.type) == ["reconnected", "player_reconnected"])
        let welcome = try #require(messages.first)
        #expect(welcome["room_id"] == .string(code))
        #expect(welcome["player_id"] == "guest")
        #expect(welcome["player_number"] == 2)
        let newToken = try #require(welcome["reconnect_token"]?.stringValue)
        #expect(newToken != token)
        #expect(newToken.count == 32)
        let state = try #require(welcome["game_state"])
        #expect(state["players"]?["guest"]?["player_name"] == "Guesty")
        #expect(state["players"]?["host"]?["player_number"] == 1)
        #expect(started ? state["game_start_timestamp"]?.doubleValue != nil : state["game_start_timestamp"] == .null)
        // The wall clock at the reconnect, as at the start: the client times the world from it.
        let serverTime = try #require(state["server_timestamp"]?.doubleValue)
        #expect(serverTime >= before - 1 && serverTime <= after + 1, "\(before) ≤ \(serverTime) ≤ \(after)")

        let announcement = try #require(await host.received().first)
        #expect(announcement == messages.last)
        #expect(announcement.type == "player_reconnected")
        #expect(announcement["player_id"] == "guest")
        #expect(announcement["player_name"] == "Guesty")
        #expect(announcement["room_info"]?["player_count"] == 2)

        // the new connection speaks for the guest
        await comeback.send(#"{"type":"chat","message":"back"}"#)
        #expect(await host.received().first?["player_id"] == "guest")
        _ = await comeback.received()

        // the new token works (and replaces the live connection); the old one is then spent
        let third = harness.client(url: code)
        await third.send(#"{"type":"reconnect","player_id":"guest","token":"\#(newToken)"}"#)
        #expect(await third.received().first?.type == "reconnected")
        #expect(comeback.connection.closeCode == RelayCloseCode.replaced)
        #expect(comeback.closedWith == [RelayCloseCode.replaced])
        _ = await host.received()
        // Dropped: see aReplacedConnectionSpeaksForNobody.
        await comeback.send(#"{"type":"chat","message":"old socket"}"#)
        #expect(await host.received().isEmpty)
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.connectionCount == 2)
        let fourth = harness.client(url: code)
        await fourth.expectError(
            "reconnect_failed", after: #"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)
    }

    /// The session is bound to the id as the room keeps it, not as the reconnect spelled it: Swift
    /// finds "caf\u{E9}" under "cafe\u{301}" (canonically equivalent), but the others' clients,
    /// comparing code points, would not know the player the room relayed its messages under.
    @Test func aReconnectUnderAnotherSpellingSpeaksAsTheRoomSpellsIt() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(guestID: "caf\u{E9}")
        try await self.drop(guest, as: "caf\u{E9}")
        #expect(await host.received().map(\.type) == ["player_disconnected"])

        let comeback = harness.client(url: code)
        await comeback.send(#"{"type":"reconnect","player_id":"cafe\u0301","token":"\#(token)"}"#)
        try #require(await comeback.received().first?.type == "reconnected")
        #expect(await host.received().map(\.type) == ["player_reconnected"])
        await comeback.send(#"{"type":"chat","message":"back"}"#)
        let chat = try #require(await host.received().first)
        #expect(chat.type == "chat")
        #expect(chat["player_id"]?.stringValue?.unicodeScalars.elementsEqual("caf\u{E9}".unicodeScalars) == true)
    }

    @Test("A reconnect whose answer was lost with its connection can be made again with the same token")
    func theTokenLastUsedStaysGood() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        let reconnect = #"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#
        try await self.drop(guest, as: "guest")
        let lost = harness.client(url: "new")
        await lost.send(reconnect)
        // answered, but as if the answer never arrived: the client still holds the token it sent
        #expect(await lost.received().first?.type == "reconnected")
        try await self.drop(lost, as: "guest")
        let seen = await host.received().map(\.type)
        #expect(seen == ["player_disconnected", "player_reconnected", "player_disconnected"])

        let again = harness.client(url: "new")
        await again.send(reconnect)
        #expect(await again.received().first?.type == "reconnected")
        #expect(await host.received().map(\.type) == ["player_reconnected"])
    }

    @Test func hostDroppingHandsTheRoleOver() async throws {
        let harness = try Harness()
        let (host, guest, _, _) = try await harness.roomWithGuestToken(started: true)
        try await self.drop(host, as: "host")
        let disconnected = try #require(await guest.received().first)
        #expect(disconnected.type == "player_disconnected")
        #expect(disconnected["room_info"]?["host_id"] == "guest")
        await guest.send(#"{"type":"coin_spawn","coin":{"coin_id":"c"}}"#)
        #expect(await guest.received().map(\.type) == ["coin_spawned"])
    }

    /// The role passed on at the drop stays passed: the old host comes back as a guest.
    @Test func aHostBackAfterTheHandOverIsAGuest() async throws {
        let harness = try Harness()
        let (host, guest, code, _) = try await harness.roomWithGuestToken(started: true)
        let room = try #require(harness.registry.room(code: code))
        let token = try #require(await room.enter { $0.state.player("host")?.reconnectToken })
        try await self.drop(host, as: "host")
        #expect(await guest.received().first?["room_info"]?["host_id"] == "guest")
        let back = harness.client(url: code)
        await back.send(#"{"type":"reconnect","player_id":"host","token":"\#(token)"}"#)
        let welcome = try #require(await back.received().first)
        #expect(welcome.type == "reconnected")
        #expect(welcome["player_number"] == 1, "its number kept")
        #expect(await guest.received().first?["room_info"]?["host_id"] == "guest")
        await back.expectError("not_host", after: #"{"type":"coin_spawn","coin":{"coin_id":"c"}}"#)
        await guest.send(#"{"type":"coin_spawn","coin":{"coin_id":"c"}}"#)
        #expect(await guest.received().map(\.type) == ["coin_spawned"])
    }

    @Test func aJoinerFindingTheHostDroppedIsHostAndCanStart() async throws {
        let harness = try Harness()
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty", maxPlayers: 3)
        try await self.drop(host, as: "host")
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty","player_id":"guest"}"#)
        let joined = try #require(await guest.received().last)
        #expect(joined.type == "room_joined")
        #expect(joined["room_info"]?["host_id"] == "guest")
        let third = harness.client(url: code)
        await third.send(#"{"type":"join_room","player_name":"Third","player_id":"third"}"#)
        #expect(await third.received().last?["room_info"]?["host_id"] == "guest")
        _ = await guest.received()
        // The new host may start the game once everyone connected is ready: the dropped player
        // leaves at the start rather than hold it up for their window.
        await guest.send(#"{"type":"player_ready","is_ready":true}"#)
        await third.send(#"{"type":"player_ready","is_ready":true}"#)
        _ = await guest.received()
        await guest.send(#"{"type":"start_game"}"#)
        let started = await guest.received()
        #expect(started.map(\.type) == ["player_left", "game_starting"])
        #expect(started.first?["player_id"] == "host")
    }

    @Test func aReplacedConnectionSpeaksForNobody() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: false)
        let elsewhere = harness.client()
        let otherCode = try await elsewhere.createRoom(playerID: "other", name: "Other")
        let newGuest = harness.client(url: code)
        await newGuest.send(#"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#)
        #expect(await newGuest.received().first?.type == "reconnected")
        #expect(guest.closedWith == [RelayCloseCode.replaced])
        _ = await host.received()
        // What the old connection sent before its close took effect is dropped: handled, its first
        // room message would find it in no room, and a join would then seat a player nobody reaches.
        await guest.send(#"{"type":"chat","message":"still here?"}"#)
        await guest.send(#"{"type":"join_room","room_id":"\#(otherCode)","player_name":"Ghost","player_id":"ghost"}"#)
        await guest.send(#"{"type":"create_room","room_name":"Ghost town","player_name":"Ghost"}"#)
        #expect(await host.received().isEmpty)
        #expect(await elsewhere.received().isEmpty)
        #expect(await harness.registry.room(code: otherCode)?.state.players.map(\.id) == ["other"])
        #expect(harness.registry.count == 2)
    }

    /// NIO still runs a timer cancelled once it was due in the loop's batch: a reconnect and a
    /// second drop in that batch would have the first window's timer end the second at once.
    @Test("A reconnect window's timer ends only the drop it was set for")
    func staleExpiryIsIgnored() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        let room = try #require(harness.registry.room(code: code))
        try await self.drop(guest, as: "guest")  // the room's drop 1
        let comeback = harness.client(url: code)
        await comeback.send(#"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)
        #expect(await comeback.received().first?.type == "reconnected")
        try await self.drop(comeback, as: "guest")  // drop 2
        _ = await host.received()

        await room.expire("guest", drop: 1)
        #expect(await room.state.player("guest") != nil, "drop 1's window is over, not drop 2's")
        #expect(await room.pendingExpiries == 1)
        await room.expire("guest", drop: 2)
        #expect(await room.state.player("guest") == nil)
        #expect(await host.received().map(\.type) == ["player_left"])
    }

    @Test func droppingTwiceOrWithAnotherConnectionDoesNothing() async throws {
        let harness = try Harness()
        let (host, guest, _, _) = try await harness.roomWithGuestToken(started: false)
        let room = try #require(guest.session.membership?.room)
        await room.drop(playerID: "guest", connection: host.connection)  // not the guest's connection
        #expect(await host.received().isEmpty)
        #expect(await room.isCurrent("guest", connection: guest.connection))
        await room.drop(playerID: "guest", connection: guest.connection)
        await room.drop(playerID: "guest", connection: guest.connection)
        #expect(await host.received().map(\.type) == ["player_disconnected"])
    }

    @Test func droppingAfterLeavingDoesNothing() async throws {
        let harness = try Harness()
        let (host, guest, code, _) = try await harness.roomWithGuestToken(started: false)
        let room = try #require(harness.registry.room(code: code))
        await guest.send(#"{"type":"leave_room"}"#)
        #expect(await host.received().map(\.type) == ["player_left"])
        await room.drop(playerID: "guest", connection: guest.connection)  // the socket closing afterwards
        #expect(await host.received().isEmpty)  // no player_disconnected for a player already gone
        #expect(await room.state.players.map(\.id) == ["host"])
    }

    /// A window of 0 (`--reconnect-window-seconds 0`) takes a dropped player out at once.
    @Test(arguments: [Duration.milliseconds(200), .zero])
    func reconnectWindowExpires(window: Duration) async throws {
        var limits = RelayLimits()
        limits.reconnectWindow = window
        let harness = try Harness(limits: limits)
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        let room = try #require(harness.registry.room(code: code))
        try await self.drop(guest, as: "guest")
        // On a loaded machine the window may already have run out by the time the host
        // looks, so collect until player_left arrives rather than timing each message.
        var messages = await host.received()
        let deadline = ContinuousClock.now + .seconds(30)  // a bound on a hang: the window is 200 ms
        while messages.last?.type != "player_left", ContinuousClock.now < deadline {
            messages += try await host.receive(timeout: .milliseconds(100))
        }
        #expect(messages.map(\.type) == ["player_disconnected", "player_left"])
        let left = try #require(messages.last)
        #expect(left["player_id"] == "guest")
        #expect(left["can_reconnect"] == false)
        #expect(left["room_info"]?["player_count"] == 1)
        #expect(await room.state.players.map(\.id) == ["host"])

        let late = harness.client(url: code)
        await late.expectError(
            "reconnect_failed", after: #"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)

        // once everyone is gone the room disappears
        #expect(harness.registry.count == 1)
        try await self.drop(host, as: "host")
        try await harness.eventually { harness.registry.count == 0 }
        #expect(harness.registry.room(code: code) == nil)
    }

    /// A room closes once nobody may come back, not once nobody is connected: a dropped member
    /// keeps it while their window runs, whoever else leaves meanwhile.
    @Test("The last connected member leaving keeps the room for a dropped one, who may still reconnect")
    func aDroppedMemberOutlastsTheLastConnectedOne() async throws {
        let harness = try Harness()
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        try await self.drop(guest, as: "guest")
        #expect(await host.received().map(\.type) == ["player_disconnected"])
        await host.send(#"{"type":"leave_room"}"#)
        #expect(await host.received().map(\.type) == ["room_left"])
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.state.players.map(\.id) == ["guest"])

        let comeback = harness.client(url: code)
        await comeback.send(#"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)
        let welcome = try #require(await comeback.received().first)
        #expect(welcome.type == "reconnected", "\(welcome)")
        #expect(welcome["game_state"]?["players"]?["host"] == nil)
        #expect(await room.state.connectedPlayers.map(\.id) == ["guest"])
    }

    /// PROTOCOL.md §2: a dropped player may come back for 60 s.
    @Test func theDefaultWindowIsSixtySeconds() {
        #expect(RelayLimits().reconnectWindow == .seconds(60))
    }

    @Test func reconnectingInTimeCancelsTheExpiry() async throws {
        let harness = try Harness()  // the 60 s window: nothing here waits on the clock
        let (host, guest, code, token) = try await harness.roomWithGuestToken(started: true)
        let room = try #require(harness.registry.room(code: code))
        try await self.drop(guest, as: "guest")
        #expect(await room.pendingExpiries == 1)
        let comeback = harness.client(url: code)
        await comeback.send(#"{"type":"reconnect","player_id":"guest","token":"\#(token)"}"#)
        #expect(await comeback.received().first?.type == "reconnected")
        #expect(await room.pendingExpiries == 0)  // cancelled, not left to find the player back
        _ = await host.received()
        #expect(await room.state.players.count == 2)
    }

    /// A guest that reconnects (each time on a fresh connection, replacing its own) spends the
    /// room's entity budget with every game_state; were that the budget spawns wait for, a
    /// reconnect loop could keep the host's enemy_spawn refused (a reviewer's find).
    @Test("A guest's reconnects never hold back the host's spawns")
    func reconnectsNeverHoldBackTheHostsSpawns() async throws {
        var limits = RelayLimits()
        limits.maxEntitiesPerRoom = 10  // a budget of 10 a second, bursts of 20 (as 1,000 / 2,000 scaled)
        let harness = try Harness(limits: limits)
        let (host, guest, code, firstToken) = try await harness.roomWithGuestToken(started: false)
        var token = firstToken
        for index in 0..<8 {  // coins left on the floor, as a long game has (up to 1,000)
            await host.send(#"{"type":"coin_spawn","coin":{"coin_id":"c\#(index)"}}"#)
        }
        _ = await host.received()
        _ = await guest.received()
        let room = try #require(harness.registry.room(code: code))
        // Three reconnects, each listing 8 coins, and spending them (a reconnect loop gets a
        // game_state every few seconds at most): read without the refill since (timing-free), the
        // budget holds at most its burst of 20 less 8 after each.
        for _ in 0..<3 {
            let comeback = harness.client(url: "new")
            await comeback.send(#"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#)
            let answer = try #require(await comeback.received().first)
            #expect(answer.type == "reconnected", "\(answer)")
            token = try #require(answer["reconnect_token"]?.stringValue)
            var budget = try #require(await room.state.entityBudget, "the reconnect spent nothing")
            #expect(budget.tokens(now: .now - .seconds(3_600)) <= 12)
        }
        _ = await host.received()
        // In debt however long those took, the host's spawn still goes through.
        await room.enter { room in
            for _ in 0..<10 { room.state.spendEntityBudget(onGameStateAt: .now) }
            #expect((try? room.state.checkEntityBudget(now: .now)) == nil, "in debt")
        }
        await host.send(#"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","coin_reward":1}}"#)
        #expect(await host.received().map(\.type) == ["enemy_spawned"])
    }
}

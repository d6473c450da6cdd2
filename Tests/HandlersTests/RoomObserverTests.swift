import Synchronization
import Testing

@testable import Handlers
@testable import Relay

/// Observers of every room's members: told inside the room, after the room's own announcements.
@Suite("Room observers")
struct RoomObserverTests {
    /// Records what it is told, and greets joiners and returners after their welcome.
    final class Recorder: RoomObserver {
        let events = Mutex<[String]>([])
        /// When set, a departure of this player ends the room for everyone.
        let endsTheRoomWhenLeaving: String?
        let greets: Bool

        init(endsTheRoomWhenLeaving: String? = nil, greets: Bool = true) {
            self.endsTheRoomWhenLeaving = endsTheRoomWhenLeaving
            self.greets = greets
        }

        private func record(_ event: String) { self.events.withLock { $0.append(event) } }

        func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("joined \(player.id)")
            if self.greets { room.send(OutboundMessage.make(type: "greeting", [:]), to: player.id) }
        }
        func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("reconnected \(player.id)")
            room.send(OutboundMessage.make(type: "greeting", [:]), to: player.id)
        }
        func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("dropped \(player.id) connected=\(player.isConnected)")
        }
        func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("left \(player.id) tally=\(player.custom[HandlerToolsTests.MemberTally.self])")
            guard player.id == self.endsTheRoomWhenLeaving else { return }
            for other in room.state.players { room.removeMember(other.id, reason: "the room ended") }
        }
        func roomClosing(_ room: isolated GameRoom) {
            room.schedule(after: .seconds(600)) { _ in }  // a closing room sets no timer
            self.record(
                "closing tally=\(room.state.custom[HandlerToolsTests.RoomTally.self]) timers=\(room.pendingHandlerTimers)"
            )
        }
    }

    private func harness(_ recorder: Recorder) throws -> Harness {
        Harness(
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all + [HandlerToolsTests.TallyHandler()]),
            observers: [recorder])
    }

    @Test("Joins, drops, reconnects, departures and the closing, each after the room announced it")
    func eachEventInTurn() async throws {
        let recorder = Recorder()
        let harness = try self.harness(recorder)
        let host = harness.client()
        await host.send(#"{"type":"create_room","room_name":"r","player_name":"Hosty","player_id":"host"}"#)
        #expect(await host.received().map(\.type) == ["player_joined", "room_created", "greeting"])
        let code = try #require(host.session.membership?.room.code)
        let guest = harness.client(url: code)
        await guest.send(#"{"type":"join_room","player_name":"Guesty","player_id":"guest"}"#)
        let welcome = await guest.received()
        #expect(welcome.map(\.type) == ["player_joined", "room_joined", "greeting"])
        let token = try #require(welcome[1]["reconnect_token"]?.stringValue)
        for _ in 0..<2 { await guest.send(#"{"type":"tally"}"#) }

        let room = try #require(harness.registry.room(code: code))
        await room.drop(playerID: "guest", connection: guest.connection)
        let back = harness.client(url: code)
        await back.send(.object(["type": "reconnect", "player_id": "guest", "token": .string(token)]))
        #expect(await back.received().map(\.type) == ["reconnected", "player_reconnected", "greeting"])
        await back.send(#"{"type":"leave_room"}"#)
        await host.send(#"{"type":"leave_room"}"#)
        #expect(harness.registry.count == 0)
        #expect(
            recorder.events.withLock { $0 } == [
                "joined host", "joined guest", "dropped guest connected=false", "reconnected guest",
                "left guest tally=2", "left host tally=0", "closing tally=2 timers=0",
            ])
        #expect(await room.pendingHandlerTimers == 0)
    }

    @Test("An observer that empties the room as someone leaves closes it once")
    func closingFromAnObserver() async throws {
        let recorder = Recorder(endsTheRoomWhenLeaving: "host", greets: false)
        let harness = try self.harness(recorder)
        let (host, guest, _) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        await host.send(#"{"type":"leave_room"}"#)
        #expect(await guest.received().map { $0["reason"]?.stringValue } == [nil, "the room ended"])
        #expect(await host.received().map(\.type) == ["room_left"])
        #expect(harness.registry.count == 0)
        #expect(
            recorder.events.withLock { $0 }.suffix(3) == [
                "left host tally=0", "left guest tally=0", "closing tally=0 timers=0",
            ])
    }

    /// Removes a joiner named "Banned" as soon as it is told of them.
    struct Bouncer: RoomObserver {
        func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {
            if player.name == "Banned" { room.removeMember(player.id, reason: "banned") }
        }
    }

    @Test("What an observer causes is told to every observer after what it was told of, in order")
    func eventsKeepTheirOrderAcrossObservers() async throws {
        let recorder = Recorder(endsTheRoomWhenLeaving: "host", greets: false)
        let later = Recorder(greets: false)
        let harness = Harness(
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all),
            observers: [Bouncer(), recorder, later])
        let (host, guest, code) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        let banned = harness.client(url: code)
        await banned.send(#"{"type":"join_room","player_name":"Banned","player_id":"b"}"#)
        #expect(await banned.received().map(\.type) == ["player_joined", "room_joined", "room_left"])
        await host.send(#"{"type":"leave_room"}"#)
        #expect(harness.registry.count == 0)
        _ = await guest.received()
        let expected = [
            "joined host", "joined guest", "joined b", "left b tally=0",
            "left host tally=0", "left guest tally=0", "closing tally=0 timers=0",
        ]
        #expect(recorder.events.withLock { $0 } == expected)
        #expect(later.events.withLock { $0 } == expected, "the last observer hears it all in the same order")
    }

    @Test("A join that loses its vacant room to an eviction is never told as a member's departure")
    func aJoinLosingToAnEviction() async throws {
        let recorder = Recorder(greets: false)
        var limits = RelayLimits()
        limits.maxRooms = 1
        let harness = Harness(
            limits: limits, dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), observers: [recorder])
        let host = harness.client()
        let code = try await host.createRoom(playerID: "host", name: "Hosty")
        let room = try #require(harness.registry.room(code: code))
        await room.drop(playerID: "host", connection: host.connection)  // vacant now
        let joiner = harness.client(url: code).connection
        let registry = harness.registry
        // Inside the room, before the eviction it queues can run there: the new room takes its place.
        let refusal = await room.enter { room -> RelayError? in
            _ = try? registry.createRoom(name: "newer", maxPlayers: 2)
            do throws(RelayError) {
                _ = try room.admit(playerID: "late", name: "Late", reconnectToken: "t", connection: joiner)
                return nil
            } catch {
                #expect(room.state.player("late") == nil)
                #expect(room.state.hostID == "host")
                return error
            }
        }
        #expect(refusal == .joinFailed)
        try await harness.eventually { await room.enter { $0.state.players.isEmpty } }
        #expect(
            recorder.events.withLock { $0 } == [
                "joined host", "dropped host connected=false", "left host tally=0", "closing tally=0 timers=0",
            ])
    }

    /// Records departures with whether the member was connected.
    final class DepartureRecorder: RoomObserver {
        let departures = Mutex<[String]>([])
        /// Removes everyone else when told of this member's departure.
        let emptiesTheRoomAfter: String?
        init(emptiesTheRoomAfter: String? = nil) { self.emptiesTheRoomAfter = emptiesTheRoomAfter }

        func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.departures.withLock { $0.append("\(player.id) connected=\(player.isConnected)") }
            guard player.id == self.emptiesTheRoomAfter else { return }
            for other in room.state.players { room.removeMember(other.id) }
        }
    }

    @Test("A reconnect that loses its vacant room to an eviction leaves the member away")
    func aReconnectLosingToAnEviction() async throws {
        let recorder = DepartureRecorder()
        var limits = RelayLimits()
        limits.maxRooms = 1
        let harness = Harness(
            limits: limits, dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), observers: [recorder])
        let host = harness.client()
        await host.send(#"{"type":"create_room","room_name":"r","player_name":"Hosty","player_id":"host"}"#)
        let token = try #require(await host.received().last?["reconnect_token"]?.stringValue)
        let room = try #require(host.session.membership?.room)
        await room.drop(playerID: "host", connection: host.connection)
        let back = harness.client(url: room.code).connection
        let registry = harness.registry
        let refusal = await room.enter { room -> RelayError? in
            _ = try? registry.createRoom(name: "newer", maxPlayers: 2)
            do throws(RelayError) {
                _ = try room.resume(playerID: "host", token: token, newToken: "n", connection: back)
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal == .reconnectFailed)
        try await harness.eventually { !recorder.departures.withLock { $0 }.isEmpty }
        #expect(recorder.departures.withLock { $0 } == ["host connected=false"])
    }

    @Test("A joiner whose making way empties the room, an observer removing the rest, is refused")
    func makingWayThatEndsTheRoom() async throws {
        let recorder = DepartureRecorder(emptiesTheRoomAfter: "guest")
        let harness = Harness(
            dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all), observers: [recorder])
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        await room.drop(playerID: "guest", connection: guest.connection)  // a full lobby, one away
        _ = await host.received()
        let joiner = harness.client(url: code)
        await joiner.expectError("join_failed", after: #"{"type":"join_room","player_name":"New","player_id":"new"}"#)
        #expect(recorder.departures.withLock { $0 } == ["guest connected=false", "host connected=true"])
        #expect(harness.registry.count == 0)
        #expect(await room.enter { $0.state.players.isEmpty })
    }
}

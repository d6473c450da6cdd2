// Micro-benchmarks of the WebSocket room path (`Relay` and `Handlers`), through their public API only.
//
//   ENABLE_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target RelayBenchmarks
//
// One benchmark iteration handles one message, so the malloc counts are per message. Queues are
// drained after `stopMeasurement()`, outside the measured part. See BENCHMARKS.md for the figures.

import Benchmark
import Handlers
import Logging
import NIOCore
import NIOPosix
import Relay

// MARK: - Messages

private let playerStateText =
    #"{"type":"player_state","state":{"x":412.123,"y":550.5,"velocity_x":1.25,"velocity_y":-3.75,"#
    + #""facing_right":true,"is_jumping":false,"is_shooting":false,"health":100,"t":1234567,"s":42}}"#

/// The `state` object of `playerStateText`, as the handler relays it.
private let relayedState: JSONValue = .object([
    "x": .number(412.123), "y": .number(550.5), "velocity_x": .number(1.25), "velocity_y": .number(-3.75),
    "facing_right": .bool(true), "is_jumping": .bool(false), "is_shooting": .bool(false), "health": .integer(100),
    "t": .integer(1_234_567), "s": .integer(42),
])

/// The same, as the handler passes it on.
private let relayedFields: [String: JSONValue] = relayedState.objectValue ?? [:]

// MARK: - Fixtures

/// A room's state with one player, kept across iterations.
private final class RoomStateBox {
    var state = RoomState(
        roomID: "ABCDEF", roomName: "bench", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1)

    init() {
        _ = try? self.state.addPlayer(id: "p1", name: "p1", reconnectToken: "t")
        _ = try? self.state.applyPlayerState("p1", relayedFields)
        _ = try? self.state.spawnEnemy(spawnedEnemy, by: "p1", now: .now)
    }
}

/// An enemy as the game's host spawns it.
private let spawnedEnemy: [String: JSONValue] = [
    "enemy_id": "enemy_1700000000000_abc123", "enemy_type": "slimeGreen", "x": .number(1234.56), "y": .number(-456.78),
    "velocity_x": .number(-120.25), "velocity_y": .number(0.5), "health": 3, "max_health": 3, "is_alive": true,
    "facing_right": false, "state": "moving", "coin_reward": 2,
]

/// The state the game's host sends for each enemy it tracks, every 50 ms.
private let enemyStateFields: [String: JSONValue] = [
    "x": 1240, "y": -450, "velocity_x": -120, "velocity_y": 0, "health": 3, "is_alive": true,
]

/// A room a host has filled with 1,000 enemies and 1,000 coins, each padded with `padding` bytes:
/// with 1,800 about 2 KiB each, the most a room keeps (``RelayLimits/maxEntityBytes``,
/// ``RelayLimits/maxEntitiesPerRoom``); with none, the size of the game's own.
private final class FullRoomBox {
    var state = RoomState(
        roomID: "ABCDEF", roomName: "bench", hostID: "", maxPlayers: 2, limits: RelayLimits(), seed: 1)
    var clock = ContinuousClock.now

    init(padding: Int) {
        _ = try? self.state.addPlayer(id: "p1", name: "p1", reconnectToken: "t")
        let padding = JSONValue.string(String(repeating: "x", count: padding))
        for index in 0..<self.state.limits.maxEntitiesPerRoom {
            _ = try? self.state.spawnEnemy(
                ["enemy_id": .string("e\(index)"), "enemy_type": padding], by: "p1", now: .now)
            _ = try? self.state.spawnCoin(["coin_id": .string("c\(index)"), "x": padding], by: "p1")
        }
    }
}

/// Rooms live on one event loop for the whole process, as on a server's loop.
private let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

private let quietLogger = Logger(label: "relay-benchmarks", factory: { _ in SwiftLogNoOpLogHandler() })

/// Hands a session to the rooms' loop for one submitted closure.
private struct LoopHandOff<Value>: @unchecked Sendable {
    // Unchecked: the benchmark awaits the closure, so only the loop touches `value` meanwhile.
    let value: Value
    init(_ value: Value) { self.value = value }
}

private struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// Empties the connections' outbound queues, as their writer tasks would.
private func drainQueues(of connections: [PlayerConnection]) async {
    for connection in connections {
        while connection.outbound.count > 0 { _ = await connection.outbound.next() }
    }
}

/// Opens a room through the dispatcher: a sender creates it for `1 + recipients` players, and the
/// recipients join it. Returns the sender's session and the recipients' connections.
private func openRoom(
    _ label: String, recipients: Int, queueCapacity: Int, dispatcher: MessageDispatcher, registry: RoomRegistry
) async throws -> (sender: ConnectionSession, recipients: [PlayerConnection]) {
    let sender = ConnectionSession(
        connection: PlayerConnection(queueCapacity: queueCapacity) { _ in }, urlRoomID: "new", registry: registry,
        logger: quietLogger)
    await dispatcher.dispatch(
        #"{"type":"create_room","player_name":"s\#(label)","max_players":\#(recipients + 1)}"#, session: sender)
    guard let membership = sender.membership else { throw FixtureError(description: "create_room failed") }
    var connections: [PlayerConnection] = []
    for index in 0..<recipients {
        let session = ConnectionSession(
            connection: PlayerConnection(queueCapacity: queueCapacity) { _ in }, urlRoomID: membership.room.code,
            registry: registry, logger: quietLogger)
        await dispatcher.dispatch(#"{"type":"join_room","player_name":"r\#(label)-\#(index)"}"#, session: session)
        guard session.membership != nil else { throw FixtureError(description: "join_room \(index) failed") }
        connections.append(session.connection)
    }
    return (sender, connections)
}

/// One room set up through the dispatcher: a sender's session and its room-mates' queues.
private final class RoomFixture {
    let dispatcher: MessageDispatcher
    let sender: ConnectionSession
    let recipients: [PlayerConnection]
    let room: GameRoom
    let senderID: String

    /// A room of `1 + recipients` players, beside `otherRooms` other live rooms of one player.
    init(recipients: Int, otherRooms: Int = 0) async throws {
        var limits = RelayLimits()
        limits.maxPlayersPerRoom = 64
        limits.maxRooms = otherRooms + 1
        let registry = RoomRegistry(limits: limits, eventLoopGroup: eventLoopGroup, logger: quietLogger)
        let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all)
        for index in 0..<otherRooms {
            let other = try registry.createRoom(name: "other \(index)", maxPlayers: 2)
            let connection = PlayerConnection(queueCapacity: 16) { _ in }
            try await other.enter { room throws(RelayError) in
                _ = try room.admit(
                    playerID: "p\(index)", name: "p\(index)", reconnectToken: "t\(index)", connection: connection)
            }
        }

        let (sender, connections) = try await openRoom(
            "sender", recipients: recipients, queueCapacity: 1_024, dispatcher: dispatcher, registry: registry)
        guard let membership = sender.membership else { throw FixtureError(description: "create_room failed") }
        self.dispatcher = dispatcher
        self.sender = sender
        self.recipients = connections
        self.room = membership.room
        self.senderID = membership.playerID
        await self.drain()
    }

    /// Empties every queue, as the connections' writer tasks would.
    func drain() async {
        await drainQueues(of: self.recipients + [self.sender.connection])
    }
}

/// Many two-player rooms set up through the dispatcher, each with its sender's session and its
/// room-mate's queue: the in-place path over many rooms' objects in turn, as a server takes them.
private final class ManyRoomsFixture {
    let dispatcher: MessageDispatcher
    let senders: [ConnectionSession]
    let recipients: [PlayerConnection]

    init(rooms: Int) async throws {
        var limits = RelayLimits()
        limits.maxRooms = rooms
        let registry = RoomRegistry(limits: limits, eventLoopGroup: eventLoopGroup, logger: quietLogger)
        let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all)
        var senders: [ConnectionSession] = []
        var recipients: [PlayerConnection] = []
        for index in 0..<rooms {
            let room = try await openRoom(
                "\(index)", recipients: 1, queueCapacity: 16, dispatcher: dispatcher, registry: registry)
            senders.append(room.sender)
            recipients += room.recipients
        }
        self.dispatcher = dispatcher
        self.senders = senders
        self.recipients = recipients
        await self.drain()
    }

    /// Empties every queue, as the connections' writer tasks would.
    func drain() async {
        await drainQueues(of: self.recipients + self.senders.map(\.connection))
    }
}

/// Relays `playerStateText` in place once from each of `senders`, in one turn of the rooms' loop,
/// measuring only that turn.
private func relayInPlace(
    from senders: some Sequence<ConnectionSession>, _ dispatcher: MessageDispatcher, _ benchmark: Benchmark
) async {
    let senders = LoopHandOff(senders)
    benchmark.startMeasurement()
    let relayed = try? await eventLoopGroup.next().submit {
        var text = playerStateText
        return text.withUTF8 { bytes in senders.value.allSatisfy { dispatcher.dispatchInPlace(bytes, session: $0) } }
    }.get()
    benchmark.stopMeasurement()
    precondition(relayed == true, "player_state was not relayed in place")
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 1_000,
        maxDuration: .seconds(5),
        maxIterations: 100_000
    )

    // a. Envelope decode: JSON text → InboundMessage (type + fields), as every inbound message.
    Benchmark("Decode player_state (MessageDispatcher.decode)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? MessageDispatcher.decode(playerStateText))
        }
    }

    // b. The room's own work on one player_state: update the player, keep the relayed keys
    //    (steady state: the same player, message after message).
    Benchmark(
        "Apply player_state to RoomState",
        closure: { (benchmark: Benchmark, room: RoomStateBox) in
            for _ in benchmark.scaledIterations {
                blackHole(try? room.state.applyPlayerState("p1", relayedFields))
            }
        },
        setup: { RoomStateBox() }
    )

    // b'. The room's own work on one enemy_state: merge into its copy of the enemy, checked
    //     against the entity byte cap (the game's host sends 20 a second per enemy it tracks).
    Benchmark(
        "Apply enemy_state to RoomState",
        closure: { (benchmark: Benchmark, room: RoomStateBox) in
            for _ in benchmark.scaledIterations {
                blackHole(try? room.state.updateEnemy("enemy_1700000000000_abc123", state: enemyStateFields, now: .now))
            }
        },
        setup: { RoomStateBox() }
    )

    // b''. The largest answer one message can buy: an empty sync_entities in a room filled to its
    //      caps, answered with the room's every entity (as SyncEntitiesHandler encodes it). A room
    //      answers 10 syncs a second at most, and a full room's every 2 s (its answer budget of
    //      entities); this is how long each holds the room's event loop.
    for (padding, size) in [(1_800, "~2 KiB"), (0, "the game's size")] {
        Benchmark(
            "entities_sync answer of a room of 1,000 enemies and 1,000 coins (\(size))",
            configuration: .init(
                metrics: [.wallClock, .mallocCountTotal], timeUnits: .milliseconds, maxIterations: 200),
            closure: { (benchmark: Benchmark, room: FullRoomBox) in
                for _ in benchmark.scaledIterations {
                    room.clock = room.clock.advanced(by: .seconds(2))  // past the room's sync budgets
                    guard let visible = try? room.state.sync(enemies: [], coins: [], now: room.clock) else {
                        fatalError("sync refused")
                    }
                    precondition(
                        visible.enemies.count + visible.coins.count == 2 * room.state.limits.maxEntitiesPerRoom)
                    var sync = OutboundMessage(type: "entities_sync", capacity: 1024)
                    sync.add("enemies", .array(visible.enemies), roundingFloats: true)
                    sync.add("coins", .array(visible.coins), roundingFloats: true)
                    blackHole(sync.encoded())
                }
            },
            setup: { FullRoomBox(padding: padding) }
        )
    }

    // b'''. Trimming a name before its length check: a 64 KB `player_name` of 16,000 flag letters
    //       (regional indicators), the worst one frame can carry.
    let flagName = String(repeating: "\u{1F1E6}", count: 16_000)
    Benchmark(
        "Trim a 64 KB name of 16,000 flag letters (String.trimmingWhitespace)",
        configuration: .init(
            timeUnits: .microseconds, warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 1_000)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(flagName.trimmingWhitespace())
        }
    }

    // b''''. The costliest message a client can send: a 64 KB enemy_state whose state holds 8,000
    //        tiny objects, decoded and its update encoded (no recipient, an unknown enemy).
    let tinyObjectsText =
        #"{"type":"enemy_state","enemy_id":"nobody","state":{"k":["#
        + Array(repeating: #"{"a":0}"#, count: 7_990).joined(separator: ",") + "]}}"
    let tinyObjectsState = (try? MessageDispatcher.decode(tinyObjectsText))?.fields["state"] ?? .null
    precondition(tinyObjectsText.utf8.count <= 64 * 1024 && tinyObjectsState != .null)
    Benchmark(
        "Decode a 64 KB enemy_state of 8,000 tiny objects (MessageDispatcher.decode)",
        configuration: .init(timeUnits: .microseconds, maxDuration: .seconds(5), maxIterations: 2_000)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? MessageDispatcher.decode(tinyObjectsText))
        }
    }
    Benchmark(
        "Encode its enemy_state_update, floats rounded (OutboundMessage)",
        configuration: .init(timeUnits: .microseconds, maxDuration: .seconds(5), maxIterations: 2_000)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            var update = OutboundMessage(type: "enemy_state_update")
            update.add("enemy_id", "nobody")
            update.add("state", tinyObjectsState, roundingFloats: true)
            blackHole(update.encoded())
        }
    }

    // c. Encoding the update once per message, floats rounded to 2 decimals.
    Benchmark("Encode player_state_update, floats rounded (OutboundMessage)") { benchmark in
        for _ in benchmark.scaledIterations {
            var update = OutboundMessage(type: "player_state_update")
            update.add("player_id", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff")
            update.add("state", relayedState, roundingFloats: true)
            blackHole(update.encoded())
        }
    }

    // d. The whole room path of one message minus the socket: decode, handler, hop into the room
    //    actor, state update, encode, queue for the room-mate. With 1 and with 1,000 other live
    //    rooms: the malloc count per message must not depend on how many rooms exist.
    for otherRooms in [0, 999] {
        Benchmark(
            "Dispatch player_state into a 2-player room, \(otherRooms + 1) rooms live",
            configuration: .init(timeUnits: .microseconds),
            closure: { (benchmark: Benchmark, fixture: RoomFixture) async in
                await fixture.dispatcher.dispatch(playerStateText, session: fixture.sender)
                benchmark.stopMeasurement()
                await fixture.drain()
            },
            setup: { try await RoomFixture(recipients: 1, otherRooms: otherRooms) }
        )
    }

    // d'. The path a plain player_state from a member takes on a server: read in place from the
    //     frame's bytes on the room's event loop (MessageDispatcher.dispatchInPlace), the state
    //     stored, the update encoded and queued for the room-mate. 100 per loop turn (figures per 100).
    Benchmark(
        "player_state relayed in place into a 2-player room, 100 per loop turn (per 100 messages)",
        configuration: .init(timeUnits: .microseconds),
        closure: { (benchmark: Benchmark, fixture: RoomFixture) async in
            await relayInPlace(from: repeatElement(fixture.sender, count: 100), fixture.dispatcher, benchmark)
            await fixture.drain()
        },
        setup: { try await RoomFixture(recipients: 1) }
    )

    // d''. The same, one message per room in turn over 500 rooms, as a server's 500 rooms take
    //      them (figures per 500). With nothing else running in between, the rooms' objects stay
    //      in the caches; on a server the kernel's and NIO's work between two messages evicts them.
    Benchmark(
        "player_state relayed in place, one per room over 500 rooms (per 500 messages)",
        configuration: .init(timeUnits: .microseconds, maxIterations: 5_000),
        closure: { (benchmark: Benchmark, fixture: ManyRoomsFixture) async in
            await relayInPlace(from: fixture.senders, fixture.dispatcher, benchmark)
            await fixture.drain()
        },
        setup: { try await ManyRoomsFixture(rooms: 500) }
    )

    // e. Broadcast of one encoded frame to P recipients: one hop into the room, then the same
    //    buffer queued P times (no per-recipient copy). The empty hop is the baseline to subtract.
    Benchmark(
        "Room hop only (GameRoom.enter, empty)",
        configuration: .init(timeUnits: .microseconds),
        closure: { (benchmark: Benchmark, fixture: RoomFixture) async in
            await fixture.room.enter { _ in }
        },
        setup: { try await RoomFixture(recipients: 1) }
    )
    for recipients in [1, 7, 31] {
        // The broadcast itself, without the hop: 100 of them inside one `enter` (figures per 100).
        Benchmark(
            "Room broadcast to \(recipients) recipients, 100 per hop (per 100 messages)",
            configuration: .init(timeUnits: .microseconds),
            closure: { (benchmark: Benchmark, fixture: RoomFixture) async in
                let frame = OutboundMessage.make(type: "player_state_update", ["state": relayedState])
                let senderID = fixture.senderID
                benchmark.startMeasurement()
                await fixture.room.enter { room in
                    for _ in 0..<100 { room.broadcast(frame, excluding: senderID) }
                }
                benchmark.stopMeasurement()
                await fixture.drain()
            },
            setup: { try await RoomFixture(recipients: recipients) }
        )
        Benchmark(
            "Room broadcast to \(recipients) recipients (GameRoom.broadcast)",
            configuration: .init(timeUnits: .microseconds),
            closure: { (benchmark: Benchmark, fixture: RoomFixture) async in
                let frame = OutboundMessage.make(type: "player_state_update", ["state": relayedState])
                let senderID = fixture.senderID
                benchmark.startMeasurement()
                await fixture.room.enter { room in room.broadcast(frame, excluding: senderID) }
                benchmark.stopMeasurement()
                await fixture.drain()
            },
            setup: { try await RoomFixture(recipients: recipients) }
        )
    }
}

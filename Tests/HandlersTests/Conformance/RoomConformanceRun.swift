import NIOCore
import NIOPosix
import SeededRandom
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

/// A run of random steps against an in-process server (the built-in handlers, real rooms and
/// registry, no sockets), each checked against ``ModelRoom``: every message every client
/// receives, in order, both room lists, and what each room tells its observers (what plugins
/// hear as room events). The clock decides no outcome the model cannot follow: reconnect windows
/// end when the run ends them (``GameRoom/expireNow(_:)``); what a rate may refuse (a sync, a
/// spawn, a reconnect) is accepted either way, the model following the server's answer; a dead
/// enemy's position may or may not still be kept (for 10 s). Two members' messages sent at once,
/// a member's message and another's drop (``race()``), or a reconnect and a message, the
/// player's old socket closing, a retry or the window's end (``raceAReconnect()``), may be
/// handled in either order, the model following the one that gives what was received. So a seed
/// replays exactly only while no such refusal and no race's order differs.
///
/// With `asTheSocketReads`, clients and the rooms they create live on two event loops, and
/// messages are sent as the server's socket handler reads them
/// (``TestClient/sendAsTheSocketReads(_:)``): the state relays take their raw paths, in place or
/// handed to another loop's room.
final class RoomConformanceRun {
    /// One client: its connection, and what the model knows of it.
    struct Client {
        let connection: TestClient
        let url: String
        var membership: (code: String, playerID: String)?
        var toldNotInRoom = false
        var isOpen = true
        /// Replaced by a reconnect of its player on another client: closed with 4001.
        var wasReplaced = false
    }

    /// A difference between the server and the model.
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    /// Records what each room tells its observers, by room code.
    final class EventRecorder: RoomObserver {
        let events = Mutex<[String: [String]]>([:])

        private func record(_ event: String, in room: isolated GameRoom) {
            self.events.withLock { $0[room.code, default: []].append(event) }
        }
        func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("joined \(player.id)", in: room)
        }
        func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("reconnected \(player.id)", in: room)
        }
        func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) {
            self.record("dropped \(player.id)", in: room)
        }
        func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) { self.record("left \(player.id)", in: room) }
        func roomClosing(_ room: isolated GameRoom) { self.record("closing", in: room) }
    }

    let harness: Harness
    let maxRooms: Int?
    let observer = EventRecorder()
    /// What each room should have told its observers so far, by room code.
    var events: [String: [String]] = [:]
    /// Rooms that may be evicted this step (the vacant ones), and those evicted: the eviction
    /// runs on the room's loop after the `create_room` that caused it.
    var evictable: [String: GameRoom] = [:]
    var evicted: [GameRoom] = []
    /// How often the run took each of the model's rarer branches (a room evicted, a token used
    /// last accepted, …): what a test may require it reached.
    private(set) var branches: [String: Int] = [:]
    /// Event loops for clients and their rooms, in `asTheSocketReads` runs.
    let loops: [any EventLoop]
    var random: SplitMix64
    var clients: [Client] = []
    var rooms: [String: ModelRoom] = [:]
    /// Live rooms in creation order, as the lists show them.
    var roomOrder: [String] = []
    /// Tokens of players who left, expired or were evicted: no longer good.
    var departedTokens: [(code: String, playerID: String, token: String)] = []
    private var counter = 0
    private var vacancies = 0
    private(set) var step = 0
    /// The last steps, for a mismatch's context.
    private(set) var trail: [String] = []
    /// Messages received, by type (errors by code): what the run reached.
    private(set) var seen: [String: Int] = [:]

    static let codeAlphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    /// Two loops for every run that asks (never shut down: they live as long as the process).
    static let socketLoops = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    init(seed: UInt64, maxRooms: Int? = nil, asTheSocketReads: Bool = false) throws {
        var limits = RelayLimits()
        limits.reconnectWindow = .seconds(3_600)  // the run ends windows itself
        limits.roomEntryBurst = 1_000_000  // entries are counted by the clock; RelayFlowTests check it
        if let maxRooms { limits.maxRooms = maxRooms }
        self.loops = asTheSocketReads ? Array(Self.socketLoops.makeIterator()) : []
        self.harness = Harness(
            limits: limits, dispatcher: try MessageDispatcher(handlers: BuiltInHandlers.all),
            rooms: asTheSocketReads ? Self.socketLoops : testEventLoopGroup, observers: [self.observer])
        self.maxRooms = maxRooms
        self.random = SplitMix64(seed: seed)
    }

    // MARK: Steps

    /// Runs `steps` random actions, then has everyone leave or drop and every window end: the
    /// server must be left with no room.
    func run(steps: Int) async throws {
        for _ in 0..<steps {
            self.step += 1
            try await self.randomAction()
            for room in self.evicted { await room.enter { _ in } }  // its eviction runs first, on its loop
            self.evicted = []
            self.noteVacancies()
            try self.checkRoomLists()
            try self.checkEvents()
        }
        try await self.finish()
    }

    func note(_ line: String) {
        self.trail.append("[\(self.step)] \(line)")
        if self.trail.count > 40 { self.trail.removeFirst() }
    }

    func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self.random) < percent }
    func pick<T>(_ elements: [T]) -> T? { elements.randomElement(using: &self.random) }

    func count(_ branch: String) { self.branches[branch, default: 0] += 1 }

    /// Whether `client` was answered `rate_limited`, which a budget the clock refills decides
    /// (README): the model follows the server then, counting it as `what` refused by its rate.
    func refusedByItsRate(_ received: [Int: [JSONValue]], client: Int, _ what: String) -> Bool {
        guard received[client]?.first?["code"]?.stringValue == "rate_limited" else { return false }
        self.count("\(what) refused by its rate")
        return true
    }

    func freshID(_ prefix: String) -> String {
        self.counter += 1
        return "\(prefix)\(self.counter)"
    }

    // MARK: Clients

    func newClient(url: String = "new") -> Int {
        let loop = self.loops.isEmpty ? nil : self.pick(self.loops)
        self.clients.append(Client(connection: self.harness.client(url: url, eventLoop: loop), url: url))
        return self.clients.count - 1
    }

    var openClients: [Int] { self.clients.indices.filter { self.clients[$0].isOpen } }

    /// Half the time an open client in no room, if there is one.
    func maybeIdleClient() -> Int? {
        let idle = self.openClients.filter { self.clients[$0].membership == nil }
        return self.chance(50) ? self.pick(idle) : nil
    }

    /// A random member with an open connection (only a host, or only a non-host, if asked).
    func pickMember(host: Bool? = nil) -> (client: Int, room: ModelRoom, player: ModelPlayer)? {
        let members = self.openClients.compactMap { index -> (Int, ModelRoom, ModelPlayer)? in
            guard let membership = self.clients[index].membership, let room = self.rooms[membership.code],
                let player = room.player(membership.playerID)
            else { return nil }
            if let host, (room.hostID == player.id) != host { return nil }
            return (index, room, player)
        }
        return self.pick(members)
    }

    /// `message` as the game writes it: `type` first (as a raw handler needs it), then the rest sorted.
    static func text(of message: JSONValue) -> String {
        var fields = message.objectValue ?? [:]
        let type = fields.removeValue(forKey: "type") ?? nil
        let rest = JSONValue.object(fields).text.dropFirst()
        return "{\"type\":\(type.text)" + (rest == "}" ? "}" : "," + rest)
    }

    func send(_ message: JSONValue, from client: Int) async throws {
        let text = Self.text(of: message)
        guard !self.loops.isEmpty else { return await self.clients[client].connection.send(text) }
        // Which way the server took it, so that a test can require each was taken.
        let room = self.clients[client].connection.session.membership?.room
        let before = await room?.enter { ($0.messagesHandledInPlace, $0.messagesForwarded) }
        try await self.clients[client].connection.sendAsTheSocketReads(text)
        if let room, let before {
            let after = await room.enter { ($0.messagesHandledInPlace, $0.messagesForwarded) }
            if after.0 > before.0 { self.count("handled in place") }
            if after.1 > before.1 { self.count("handed to the room's loop") }
        }
    }

    // MARK: Checking

    /// What every client was sent since the last step.
    func receiveAll() async -> [Int: [JSONValue]] {
        var received: [Int: [JSONValue]] = [:]
        for index in self.clients.indices {
            let messages = await self.clients[index].connection.received()
            if !messages.isEmpty { received[index] = messages }
            for message in messages {
                let type = message.type ?? "?"
                self.seen[type == "error" ? "error " + (message["code"]?.stringValue ?? "?") : type, default: 0] += 1
            }
        }
        return received
    }

    /// Compares what was received with what the model expects, client by client.
    func compare(_ received: [Int: [JSONValue]], _ expected: [Int: [Expected]]) throws(Mismatch) {
        for index in Set(received.keys).union(expected.keys).sorted() {
            let got = received[index] ?? []
            let wanted = expected[index] ?? []
            for position in 0..<max(got.count, wanted.count) {
                guard position < got.count else {
                    throw self.mismatch("client \(index) missed #\(position): \(wanted[position])", got)
                }
                guard position < wanted.count else {
                    throw self.mismatch("client \(index) got #\(position) unexpected: \(got[position].text)", got)
                }
                if let difference = wanted[position].mismatch(got[position]) {
                    throw self.mismatch("client \(index) #\(position) \(got[position].type ?? "?"): \(difference)", got)
                }
            }
        }
        for index in self.openClients where !self.clients[index].connection.closedWith.isEmpty {
            throw self.mismatch("client \(index) closed with \(self.clients[index].connection.closedWith)", [])
        }
        for index in self.clients.indices where self.clients[index].wasReplaced {
            guard self.clients[index].connection.closedWith.contains(RelayCloseCode.replaced) else {
                throw self.mismatch("client \(index), replaced, was not closed with 4001", received[index] ?? [])
            }
        }
    }

    func mismatch(_ what: String, _ got: [JSONValue]) -> Mismatch {
        Mismatch(
            description: "step \(self.step): \(what)\n  received: \(got.map(\.text))\n  steps:\n    "
                + self.trail.joined(separator: "\n    "))
    }

    /// `GET /api/rooms` lists the rooms neither full nor started, `/api/rooms/all` every room,
    /// each in creation order, a vacant room in neither.
    func checkRoomLists() throws(Mismatch) {
        for joinableOnly in [false, true] {
            let listed = self.roomOrder.compactMap { self.rooms[$0] }.filter { room in
                !room.isVacant && (!joinableOnly || room.acceptsJoiner)
            }
            let actual = JSONValue.array(self.harness.registry.roomInfos(joinableOnly: joinableOnly))
            if let difference = Expected.array(listed.map(\.info)).mismatch(actual) {
                throw self.mismatch("the room list (joinable only: \(joinableOnly)): \(difference)", [actual])
            }
        }
    }

    /// Every room told its observers what the model expects, in order.
    func checkEvents() throws(Mismatch) {
        let told = self.observer.events.withLock(\.self)
        for code in Set(told.keys).union(self.events.keys).sorted() {
            guard told[code, default: []] == self.events[code, default: []] else {
                throw self.mismatch(
                    "room \(code) told its observers \(told[code, default: []]), not \(self.events[code, default: []])",
                    [])
            }
        }
    }

    func tell(_ event: String, about room: ModelRoom) {
        self.events[room.code, default: []].append(event)
    }

    // MARK: The model, saved

    /// What the model knows, to try a race's other order from: what a message's effect may change
    /// (not the clock-free bookkeeping of vacancies, evictions and fresh ids, which no racing
    /// message's effect touches).
    struct SavedModel {
        let rooms: [String: ModelRoom]
        let roomOrder: [String]
        let clients: [Client]
        let events: [String: [String]]
        let departedTokens: [(code: String, playerID: String, token: String)]
        let branches: [String: Int]
    }

    func saveModel() -> SavedModel {
        SavedModel(
            rooms: self.rooms.mapValues { $0.copy() }, roomOrder: self.roomOrder, clients: self.clients,
            events: self.events, departedTokens: self.departedTokens, branches: self.branches)
    }

    /// Back to `saved` (a copy of it: it may be restored again). Rooms and players are new
    /// objects then: look them up again by code and id.
    func restoreModel(_ saved: SavedModel) {
        self.rooms = saved.rooms.mapValues { $0.copy() }
        (self.roomOrder, self.clients, self.events) = (saved.roomOrder, saved.clients, saved.events)
        (self.departedTokens, self.branches) = (saved.departedTokens, saved.branches)
    }

    /// The room and player the model has client `index` speak for, if any.
    func member(_ index: Int) -> (room: ModelRoom, player: ModelPlayer)? {
        guard let membership = self.clients[index].membership, let room = self.rooms[membership.code],
            let player = room.player(membership.playerID)
        else { return nil }
        return (room, player)
    }

    // MARK: The model's changes

    /// Rooms whose every member dropped are vacant from now, in the order they became so.
    func noteVacancies() {
        for room in self.roomOrder.compactMap({ self.rooms[$0] }) {
            if !room.isVacant {
                room.vacantSince = nil
            } else if room.vacantSince == nil {
                self.vacancies += 1
                room.vacantSince = self.vacancies
            }
        }
    }

    /// `player` goes for good: `player_left` to the connected others; a room left empty closes.
    func remove(
        _ player: ModelPlayer, from room: ModelRoom, clearingReadyFlags: Bool, into expected: inout [Int: [Expected]]
    ) {
        room.players.removeAll { $0 === player }
        if !room.isStarted && clearingReadyFlags { room.clearReadyFlags() }
        room.electHost()
        self.retireTokens(of: player, in: room)
        self.toRoom(room, room.departure("player_left", of: player, canReconnect: false), into: &expected)
        self.tell("left \(player.id)", about: room)
        if room.players.isEmpty {
            self.tell("closing", about: room)
            self.forget(room)
        }
    }

    /// A departed player's tokens are good no more.
    func retireTokens(of player: ModelPlayer, in room: ModelRoom) {
        for token in [player.token, player.usedToken].compactMap(\.self) {
            self.departedTokens.append((room.code, player.id, token))
        }
    }

    func forget(_ room: ModelRoom) {
        self.rooms[room.code] = nil
        self.roomOrder.removeAll { $0 == room.code }
    }

    /// Client `index` leaves its room, as `leave_room` does (without its `room_left`).
    func leaveRoom(of index: Int, into expected: inout [Int: [Expected]]) {
        guard let membership = self.clients[index].membership, let room = self.rooms[membership.code],
            let player = room.player(membership.playerID)
        else { return }
        self.clients[index].membership = nil
        player.client = nil
        self.remove(player, from: room, clearingReadyFlags: true, into: &expected)
    }

    /// `not_in_room`, once until the client is in a room again.
    func notInRoom(_ index: Int, into expected: inout [Int: [Expected]]) {
        guard !self.clients[index].toldNotInRoom else { return }
        self.clients[index].toldNotInRoom = true
        expected[index, default: []].append(.error("not_in_room"))
    }

    /// The room's every connected member, but `excluded`, is sent `message`.
    func toRoom(
        _ room: ModelRoom, _ message: Expected, excluding excluded: Int? = nil, into expected: inout [Int: [Expected]]
    ) {
        for member in room.connected where member.client != excluded {
            expected[member.client!, default: []].append(message)
        }
    }

    // MARK: The end

    /// Every member leaves or drops, every window ends: no room, no listing, nothing left behind.
    private func finish() async throws {
        self.step += 1
        self.note("finish")
        for index in self.openClients where self.clients[index].membership != nil {
            if self.chance(50) {
                try await self.leave(index)
            } else {
                try await self.drop(index)
            }
        }
        while let room = self.roomOrder.first.flatMap({ self.rooms[$0] }), let player = room.players.first {
            guard player.client == nil else { throw self.mismatch("\(player.id) still connected at the end", []) }
            try await self.expire(player, of: room)
        }
        try self.checkRoomLists()
        #expect(self.harness.registry.count == 0)
        try await self.harness.eventually { self.observer.events.withLock(\.self) == self.events }
        try self.checkEvents()
    }
}

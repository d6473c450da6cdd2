public import Logging
public import NIOCore
import Synchronization

/// The live rooms by code: creation with unique codes, lookup, removal, and the
/// room list of `/api/rooms`. A `Mutex` rather than an actor so a room can update or
/// remove itself without awaiting.
///
/// A vacant room (every member dropped, only reconnect windows pending) holds no place under
/// `maxRooms`: once the cap is reached, the room vacant longest makes way for a new one.
/// Otherwise a client that creates rooms and hangs up would lock everyone out of creating one.
public final class RoomRegistry: Sendable {
    private struct Entry {
        let room: GameRoom
        /// The room's `room_info`, as JSON text: listings are rare, and kept as a tree of
        /// dictionaries it cost every idle room about 1.5 KB. Nil until the room publishes it
        /// with its first player in: an empty room without a host is not listed.
        var info: [UInt8]?
        var joinable = false
        /// Since when every member has been away, nil while anyone is connected (or before the
        /// first player is in).
        var vacantSince: ContinuousClock.Instant?
        /// Rooms are listed in the order they were made, as the old backend's dictionary kept them.
        let creation: UInt64
        /// Whose limit of rooms (``RelayLimits/maxRoomsPerAddress``) it counts against, if anyone's.
        let creator: RoomCreator?

        /// Sorted, so that a room's listing is the same bytes from run to run (a dictionary's
        /// order is not).
        static func encoded(_ info: JSONValue) -> [UInt8] {
            var writer = JSONWriter()
            writer.writeSorted(info)
            return Array(writer.buffer.readableBytesView)
        }
    }

    /// Room codes use these characters (no 0/O, 1/I).
    public static let codeAlphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let codeLength = 6

    private struct Rooms {
        var entries: [String: Entry] = [:]
        /// Bumped by every change a listing could show (``roomList(joinableOnly:now:)``).
        var version: UInt64 = 0
        /// Rooms made so far: the next one's ``Entry/creation``.
        var created: UInt64 = 0
        /// Vacancies in the order they began, and stale ones (rooms since occupied or gone),
        /// skipped when met: an eviction need not scan 10,000 rooms under the lock.
        var vacancies = CircularBuffer<(code: String, since: ContinuousClock.Instant)>()
        /// The rooms open by who created them.
        var byCreator = RoomsByCreator()
        /// Times a room became vacant, since the start (for tests).
        var vacanciesBegun = 0

        /// Forgets the room under `code`, and gives its creator's place back.
        mutating func removeEntry(_ code: String) -> Entry? {
            guard let entry = self.entries.removeValue(forKey: code) else { return nil }
            if let creator = entry.creator { self.byCreator.closed(by: creator) }
            return entry
        }

        mutating func setVacant(_ code: String, _ vacant: Bool) {
            guard vacant else {
                self.entries[code]?.vacantSince = nil
                return
            }
            guard self.entries[code]?.vacantSince == nil else { return }
            let now = ContinuousClock.now
            self.entries[code]?.vacantSince = now
            self.vacancies.append((code, now))
            self.vacanciesBegun += 1
            if self.vacancies.count > 2 * self.entries.count + 64 {  // rooms that come back often
                let entries = self.entries
                self.vacancies.removeAll { entries[$0.code]?.vacantSince != $0.since }
            }
        }

        /// Forgets the room vacant longest and returns it, if any room is vacant.
        mutating func removeLongestVacant() -> GameRoom? {
            while let vacancy = self.vacancies.popFirst() {
                guard self.entries[vacancy.code]?.vacantSince == vacancy.since else { continue }
                return self.removeEntry(vacancy.code)?.room
            }
            return nil
        }
    }

    private let rooms = Mutex(Rooms())
    /// One warning of an address at its limit of rooms every 10 s.
    private let roomLimitWarnings = Mutex(TokenBucket(rate: 0.1, burst: 1))

    /// A room list as last written, and the rooms' version it shows.
    private struct Listing {
        let json: ByteBuffer
        let version: UInt64
        let writtenAt: ContinuousClock.Instant
    }

    /// The two lists (joinable rooms, all rooms), each kept until rooms change, and then for as
    /// long as it takes ``listingBytesPerSecond`` to write it again.
    private let listings = Mutex<(joinable: Listing?, all: Listing?)>((nil, nil))
    /// How fast room lists are written again while rooms change, at most. Writing one costs
    /// ~3 ms at 5,000 rooms (1.8 MB), and any client may ask as often as it likes: one asking in
    /// a loop kept a core busy. At this rate such a list is ~110 ms old at most, one of a few
    /// rooms is written anew for every request (tens of microseconds), and writing lists costs
    /// ~3 % of a core at most.
    public static let listingBytesPerSecond = 16 << 20
    /// The loops rooms live on, and the server's sockets (``buildApplication``).
    package let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    /// One task executor per loop of the group, shared by the connections on it so that their
    /// jobs run in batches (``EventLoopTaskExecutor``).
    private let taskExecutors: [ObjectIdentifier: EventLoopTaskExecutor]
    /// The limits every room of this server applies.
    public let limits: RelayLimits
    /// The bytes its rooms' enemies, coins and power-ups hold together.
    public let entityMemory: MemoryBudget
    /// The bytes its connections' outbound queues hold together past what each may hold alone
    /// (``RelayLimits/outboundBytesEveryConnectionMayHold``).
    public let outboundMemory: MemoryBudget
    /// Told what happens to the members of every room (``RoomObserver``).
    public let observers: [any RoomObserver]
    /// Where new rooms' codes come from (``randomCode()``; tests make them collide).
    private let newCode: @Sendable () -> String

    public convenience init(
        limits: RelayLimits, eventLoopGroup: any EventLoopGroup, logger: Logger, observers: [any RoomObserver] = []
    ) {
        self.init(
            limits: limits, eventLoopGroup: eventLoopGroup, logger: logger, observers: observers,
            codes: Self.randomCode)
    }

    init(
        limits: RelayLimits, eventLoopGroup: any EventLoopGroup, logger: Logger, observers: [any RoomObserver],
        codes: @escaping @Sendable () -> String
    ) {
        self.newCode = codes
        self.limits = limits
        self.observers = observers
        self.entityMemory = MemoryBudget(limit: limits.maxEntityBytesPerServer)
        self.outboundMemory = MemoryBudget(limit: limits.maxOutboundBytesPerServer)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.taskExecutors = Dictionary(
            uniqueKeysWithValues: eventLoopGroup.makeIterator().map {
                (ObjectIdentifier($0), EventLoopTaskExecutor($0))
            })
    }

    /// The task executor for connections on `eventLoop` (a new one for a loop not of the group).
    package func taskExecutor(for eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        self.taskExecutors[ObjectIdentifier(eventLoop)] ?? EventLoopTaskExecutor(eventLoop)
    }

    /// Creates an empty room with a fresh code (the caller admits its first player). At the cap,
    /// the room vacant longest is evicted for it (if `evictingAVacantRoom`); with none evicted,
    /// the server is full. A `creator` with ``RelayLimits/maxRoomsPerAddress`` rooms open (or
    /// its site with its share) gets `limit_exceeded`, and nothing is evicted; pass the client's
    /// (``ConnectionSession/roomCreator``) for a room a client asked for, `nil` counts nobody's.
    ///
    /// The room lives on `eventLoop` (its creator's, so the creator's messages need no thread
    /// hop), or on the next loop of the group.
    public func createRoom(
        name: String, maxPlayers: Int, eventLoop: (any EventLoop)? = nil, evictingAVacantRoom: Bool = true,
        createdBy creator: RoomCreator? = nil
    ) throws(RelayError)
        -> GameRoom
    {
        let perAddress = self.limits.maxRoomsPerAddress
        var refusedCreator = false
        defer { if refusedCreator, let creator { self.logRoomsPerAddressLimit(creator) } }  // outside the lock
        return try self.rooms.withLock { rooms throws(RelayError) -> GameRoom in
            if let creator, !rooms.byCreator.allows(creator, limit: perAddress) {
                refusedCreator = true
                throw .limitExceeded("rooms open that this address created", limit: perAddress)
            }
            if rooms.entries.count >= self.limits.maxRooms {
                guard evictingAVacantRoom, let evicted = rooms.removeLongestVacant() else { throw .serverFull }
                rooms.version &+= 1
                evicted.executeOnLoop { $0.evict() }
            }
            var code = self.newCode()
            while rooms.entries[code] != nil { code = self.newCode() }
            let state = RoomState(
                roomID: code, roomName: name, hostID: "", maxPlayers: maxPlayers, limits: self.limits,
                seed: Int.random(in: 1...999_999), entityMemory: self.entityMemory)
            let room = GameRoom(
                code: code, state: state, eventLoop: eventLoop ?? self.eventLoopGroup.next(), registry: self,
                observers: self.observers, logger: self.logger)
            rooms.entries[code] = Entry(room: room, creation: rooms.created, creator: creator)
            rooms.created += 1
            if let creator { rooms.byCreator.opened(by: creator) }
            return room
        }
    }

    /// An address met its limit of rooms: a warning at most every 10 s (the rest at debug), so that
    /// an operator learns which address to allow more, or which proxy is not trusted (every client
    /// behind it shares its address).
    private func logRoomsPerAddressLimit(_ creator: RoomCreator) {
        let warns = self.roomLimitWarnings.withLock { $0.take() }
        self.logger.log(
            level: warns ? .warning : .debug, "rooms.per_address_limit",
            metadata: [
                "client.address": "\(creator.address)",
                "max_rooms_per_address": "\(self.limits.maxRoomsPerAddress)",
                "effect": "create_room refused (--max-rooms-per-address)",
            ])
    }

    /// Whether `room` is open and counts against `creator`'s limit of rooms: leaving it empty gives
    /// that place back.
    public func counts(_ room: GameRoom, against creator: RoomCreator) -> Bool {
        self.rooms.withLock { rooms in
            guard let entry = rooms.entries[room.code], entry.room === room else { return false }
            return entry.creator == creator
        }
    }

    /// The live room with this code (case-insensitive), if any.
    public func room(code: String) -> GameRoom? {
        self.rooms.withLock { $0.entries[code.uppercased()]?.room }
    }

    /// Rooms open that were created from `key`, an address's or an IPv6 site's
    /// (``RoomCreator``; for tests).
    package func roomsOpen(createdBy key: String) -> Int {
        self.rooms.withLock { $0.byCreator.count(of: key) }
    }

    /// Live rooms.
    public var count: Int { self.rooms.withLock { $0.entries.count } }

    /// `room_info` of every room, or only of those neither full nor started. A vacant room (every
    /// member dropped) is not listed: the old server had removed such a room at once, and a
    /// client that creates rooms and hangs up would otherwise grow every listing.
    public func roomInfos(joinableOnly: Bool) -> [JSONValue] {
        self.listedInfos(joinableOnly: joinableOnly).infos.map { (try? JSONParser.parse($0)) ?? .null }
    }

    /// ``roomInfos(joinableOnly:)`` as a JSON array, written from the stored text. The same list
    /// is served again until rooms change, and then until ``listingBytesPerSecond`` would write
    /// it again.
    public func roomList(joinableOnly: Bool, now: ContinuousClock.Instant = .now) -> ByteBuffer {
        let version = self.rooms.withLock { $0.version }
        let kept = self.listings.withLock { joinableOnly ? $0.joinable : $0.all }
        if let kept,
            kept.version == version
                || now - kept.writtenAt < .seconds(Double(kept.json.readableBytes) / Double(Self.listingBytesPerSecond))
        {
            return kept.json
        }
        let (infos, listedVersion) = self.listedInfos(joinableOnly: joinableOnly)
        var writer = JSONWriter()
        writer.writeFragment("[")
        for (index, info) in infos.enumerated() {
            if index > 0 { writer.writeFragment(",") }
            info.withUnsafeBufferPointer { writer.writeRaw($0) }
        }
        writer.writeFragment("]")
        let listing = Listing(json: writer.buffer, version: listedVersion, writtenAt: now)
        self.listings.withLock { if joinableOnly { $0.joinable = listing } else { $0.all = listing } }
        return listing.json
    }

    private func listedInfos(joinableOnly: Bool) -> (infos: [[UInt8]], version: UInt64) {
        let (listed, version) = self.rooms.withLock { rooms in
            let listed = rooms.entries.values.compactMap { entry in
                let isListed = (entry.joinable || !joinableOnly) && entry.vacantSince == nil
                return isListed ? entry.info.map { (entry.creation, $0) } : nil
            }
            return (listed, rooms.version)
        }
        return (listed.sorted { $0.0 < $1.0 }.map(\.1), version)  // sorted outside the lock every room's loop takes
    }

    /// Updates the listing of `room` and whether it is vacant (only if its code still names that
    /// room).
    func publish(_ room: GameRoom, info: JSONValue, joinable: Bool, vacant: Bool) {
        let encoded = Entry.encoded(info)  // before the lock, which every room's loop takes
        self.rooms.withLock { rooms in
            guard rooms.entries[room.code]?.room === room else { return }
            rooms.entries[room.code]?.info = encoded
            rooms.entries[room.code]?.joinable = joinable
            rooms.setVacant(room.code, vacant)
            rooms.version &+= 1
        }
    }

    /// Times a room became vacant, since the start (for tests).
    package var vacanciesBegun: Int { self.rooms.withLock { $0.vacanciesBegun } }

    /// Marks vacant `room` occupied before a player comes in; false if it was evicted (and so
    /// can no longer be entered). Under the lock, so a room is never evicted as someone enters.
    func reoccupy(_ room: GameRoom) -> Bool {
        self.rooms.withLock { rooms in
            guard rooms.entries[room.code]?.room === room else { return false }
            rooms.setVacant(room.code, false)
            rooms.version &+= 1
            return true
        }
    }

    /// Forgets `room` (only if its code still names that room, never a newer one).
    func remove(_ room: GameRoom) {
        self.rooms.withLock { rooms in
            if rooms.entries[room.code]?.room === room {
                _ = rooms.removeEntry(room.code)
                rooms.version &+= 1
            }
        }
    }

    static func randomCode() -> String {
        String((0..<Self.codeLength).map { _ in Self.codeAlphabet.randomElement()! })
    }
}

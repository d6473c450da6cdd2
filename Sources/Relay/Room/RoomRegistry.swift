public import Logging
public import NIOCore
import Synchronization

/// The live rooms by code: creation with unique codes, lookup, removal, and the
/// room list of `/api/rooms`. A `Mutex` rather than an actor so a room can update or
/// remove itself without awaiting.
public final class RoomRegistry: Sendable {
    private struct Entry {
        let room: GameRoom
        /// The room's `room_info`, as JSON text: listings are rare, and kept as a tree of
        /// dictionaries it cost every idle room about 1.5 KB. Nil until the room publishes it
        /// with its first player in: an empty room without a host is not listed.
        var info: [UInt8]?
        var joinable = false

        static func encoded(_ info: JSONValue) -> [UInt8] {
            var writer = JSONWriter()
            writer.write(info)
            return Array(writer.buffer.readableBytesView)
        }
    }

    /// Room codes use these characters (no 0/O, 1/I).
    public static let codeAlphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let codeLength = 6

    private let entries = Mutex<[String: Entry]>([:])
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    /// One task executor per loop of the group, shared by the connections on it so that their
    /// jobs run in batches (``EventLoopTaskExecutor``).
    private let taskExecutors: [ObjectIdentifier: EventLoopTaskExecutor]
    /// The limits every room of this server applies.
    public let limits: RelayLimits

    public init(limits: RelayLimits, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.limits = limits
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.taskExecutors = Dictionary(
            uniqueKeysWithValues: eventLoopGroup.makeIterator().map { (ObjectIdentifier($0), EventLoopTaskExecutor($0)) })
    }

    /// The task executor for connections on `eventLoop` (a new one for a loop not of the group).
    package func taskExecutor(for eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        self.taskExecutors[ObjectIdentifier(eventLoop)] ?? EventLoopTaskExecutor(eventLoop)
    }

    /// Creates an empty room with a fresh code (the caller admits its first player).
    ///
    /// The room lives on `eventLoop` (its creator's, so the creator's messages need no thread
    /// hop), or on the next loop of the group.
    public func createRoom(name: String, maxPlayers: Int, eventLoop: (any EventLoop)? = nil) throws(RelayError)
        -> GameRoom
    {
        try self.entries.withLock { entries throws(RelayError) -> GameRoom in
            guard entries.count < self.limits.maxRooms else { throw .serverFull }
            var code = Self.randomCode()
            while entries[code] != nil { code = Self.randomCode() }
            let state = RoomState(
                roomID: code, roomName: name, hostID: "", maxPlayers: maxPlayers, limits: self.limits,
                seed: Int.random(in: 1...999_999))
            let room = GameRoom(
                code: code, state: state, eventLoop: eventLoop ?? self.eventLoopGroup.next(), registry: self,
                logger: self.logger)
            entries[code] = Entry(room: room)
            return room
        }
    }

    /// The live room with this code (case-insensitive), if any.
    public func room(code: String) -> GameRoom? {
        self.entries.withLock { $0[code.uppercased()]?.room }
    }

    /// Live rooms.
    public var count: Int { self.entries.withLock { $0.count } }

    /// `room_info` of every room, or only of those neither full nor started.
    public func roomInfos(joinableOnly: Bool) -> [JSONValue] {
        self.listedInfos(joinableOnly: joinableOnly).map { (try? JSONParser.parse($0)) ?? .null }
    }

    /// ``roomInfos(joinableOnly:)`` as a JSON array, written from the stored text.
    public func roomList(joinableOnly: Bool) -> ByteBuffer {
        var writer = JSONWriter()
        writer.writeFragment("[")
        for (index, info) in self.listedInfos(joinableOnly: joinableOnly).enumerated() {
            if index > 0 { writer.writeFragment(",") }
            info.withUnsafeBufferPointer { writer.writeRaw($0) }
        }
        writer.writeFragment("]")
        return writer.buffer
    }

    private func listedInfos(joinableOnly: Bool) -> [[UInt8]] {
        self.entries.withLock { entries in
            entries.values.compactMap { !joinableOnly || $0.joinable ? $0.info : nil }
        }
    }

    /// Updates the listing of `room` (only if its code still names that room).
    func publish(_ room: GameRoom, info: JSONValue, joinable: Bool) {
        let encoded = Entry.encoded(info)  // before the lock, which every room's loop takes
        self.entries.withLock { entries in
            guard entries[room.code]?.room === room else { return }
            entries[room.code]?.info = encoded
            entries[room.code]?.joinable = joinable
        }
    }

    /// Forgets `room` (only if its code still names that room, never a newer one).
    func remove(_ room: GameRoom) {
        self.entries.withLock { entries in
            if entries[room.code]?.room === room { entries[room.code] = nil }
        }
    }

    static func randomCode() -> String {
        String((0..<Self.codeLength).map { _ in Self.codeAlphabet.randomElement()! })
    }
}

import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One player of a bench room.
struct BenchMember: Sendable {
    let socket: BenchSocket
    /// A slow consumer: never sends, records nothing, and stops reading when told.
    let isSlow: Bool
    /// The id the server gave the player (empty until confirmed).
    var playerID = ""
}

/// A room the bench opened on the server.
struct BenchRoom: Sendable {
    let code: String
    let members: [BenchMember]

    var healthyMembers: [BenchMember] { self.members.filter { !$0.isSlow } }
}

/// How setting up a batch of rooms went.
struct SetupReport: Sendable, Encodable, Equatable {
    var roomsRequested = 0
    var roomsReady = 0
    var roomsFailed = 0
    var players = 0
    var seconds = 0.0
    /// Why rooms failed (the server's message for a refusal), with counts.
    var failures: [String: Int] = [:]

    /// Connect + create/join per second.
    var joinsPerSecond: Double { self.seconds > 0 ? Double(self.players) / self.seconds : 0 }
}

/// The rooms of one run: sets them up through the real protocol (create, then joins with the
/// code), drives their senders in measurement windows, and closes them.
final class RoomFleet: Sendable {
    let connector: BenchConnector
    private let rooms = Mutex<[BenchRoom]>([])
    private let nextRoomIndex = Atomic<Int>(0)

    init(connector: BenchConnector) {
        self.connector = connector
    }

    var allRooms: [BenchRoom] { self.rooms.withLock { $0 } }
    var roomCount: Int { self.rooms.withLock { $0.count } }

    /// Opens `count` rooms of `players`, `concurrency` rooms at a time. The creator asks for
    /// `max_players = players`; the last `slowPlayers(roomIndex)` players of a room are slow
    /// consumers (with `slowReceiveBufferBytes` of socket buffer); the creator never is.
    func addRooms(
        _ count: Int, players: Int, slowPlayers: @escaping @Sendable (Int) -> Int = { _ in 0 },
        slowReceiveBufferBytes: Int? = nil, concurrency: Int
    ) async -> SetupReport {
        var report = SetupReport(roomsRequested: count)
        let started = ContinuousClock.now
        await withTaskGroup(of: Result<BenchRoom, RoomSetupFailure>.self) { group in
            var launched = 0
            func launch() {
                let index = self.nextRoomIndex.wrappingAdd(1, ordering: .relaxed).oldValue
                let slowPerRoom = min(players - 1, max(0, slowPlayers(index)))
                group.addTask {
                    await self.setUpRoom(
                        index: index, players: players, slowPerRoom: slowPerRoom,
                        slowReceiveBufferBytes: slowReceiveBufferBytes)
                }
                launched += 1
            }
            while launched < min(count, max(1, concurrency)) { launch() }
            for await outcome in group {
                switch outcome {
                case .success(let room):
                    report.roomsReady += 1
                    report.players += room.members.count
                    self.rooms.withLock { $0.append(room) }
                case .failure(let failure):
                    report.roomsFailed += 1
                    report.failures[failure.reason, default: 0] += 1
                }
                if launched < count { launch() }
            }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    private func setUpRoom(
        index: Int, players: Int, slowPerRoom: Int, slowReceiveBufferBytes: Int?
    ) async -> Result<BenchRoom, RoomSetupFailure> {
        let connector = self.connector
        var opened: [BenchMember] = []
        do {
            let creator = try await connector.connect(.create(playerName: "b\(index)_0", maxPlayers: players))
            opened.append(BenchMember(socket: creator, isSlow: false))
            let created = try await creator.confirmation()
            let code = created.roomCode
            opened[0].playerID = created.playerID
            let joiners = await withTaskGroup(of: (BenchMember?, (any Error)?).self) { group in
                for number in 1..<players {
                    let isSlow = number >= players - slowPerRoom
                    group.addTask {
                        do {
                            let socket = try await connector.connect(
                                .join(code: code, playerName: "b\(index)_\(number)"),
                                receiveBufferBytes: isSlow ? slowReceiveBufferBytes : nil)
                            if isSlow { socket.stopCounting() }
                            var member = BenchMember(socket: socket, isSlow: isSlow)
                            do {
                                member.playerID = try await socket.confirmation(joining: code).playerID
                                return (member, nil)
                            } catch {
                                return (member, error)
                            }
                        } catch {
                            return (nil, error)
                        }
                    }
                }
                return await group.reduce(into: [(BenchMember?, (any Error)?)]()) { $0.append($1) }
            }
            opened += joiners.compactMap(\.0)
            if let error = joiners.compactMap(\.1).first { throw error }
            return .success(BenchRoom(code: code, members: opened))
        } catch {
            for member in opened { member.socket.leave(grace: .milliseconds(200)) }
            return .failure(RoomSetupFailure(error))
        }
    }

    /// Every slow consumer.
    var slowMembers: [BenchMember] {
        self.allRooms.flatMap { $0.members.filter(\.isSlow) }
    }

    /// Leaves every room and waits (bounded) for the sockets to close.
    func closeAll() async {
        let rooms = self.rooms.withLock { rooms in
            defer { rooms = [] }
            return rooms
        }
        let sockets = rooms.flatMap { $0.members.map(\.socket) }
        for socket in sockets { socket.leave() }
        for socket in sockets { _ = try? await socket.closed.get() }
    }
}

/// Why a room could not be set up, in words that group well in a report.
struct RoomSetupFailure: Error {
    let reason: String

    init(_ error: any Error) {
        switch error {
        case let refusal as ServerRefusal: self.reason = refusal.description
        case let error as JoinedAnotherRoom: self.reason = error.description
        case is ClosedBeforeJoining:
            self.reason = "connection closed before the room was joined (timeout or server hang-up)"
        case let error as BenchError: self.reason = error.description
        case let error as IOError:
            // NIO's own text reads `connection reset (error set): Connection refused) (errno: 111)`
            // for a refused connect, its parenthesis astray.
            let code = error.errnoCode
            self.reason = "connection failed: \(String(cString: strerror(code))) (errno \(code))"
        default: self.reason = "connection failed: \(String(describing: error).prefix(120))"
        }
    }
}

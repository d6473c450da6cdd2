import Synchronization

/// What the bench's connections saw besides latencies: server errors and closes, room sizes the
/// server announced, players it announced as disconnected. Shared by every connection of a run.
final class SocketEvents: Sendable {
    /// Room sizes as the server reported them in `room_info`.
    struct RoomSize: Sendable, Equatable {
        var largestPlayerCount = 0
        var maxPlayers = 0
    }

    /// A player as the server named them: ids need only be unique in their room (PROTOCOL.md), and
    /// a server may number every room's players alike.
    struct PlayerInRoom: Hashable, Sendable {
        var room: String
        var player: String
    }

    private struct State {
        var serverErrors = 0
        var firstServerError: String?
        var serverCloses = 0
        var firstServerCloseCode: UInt16?
        var roomSizes: [String: RoomSize] = [:]
        var disconnectAnnouncements: [PlayerInRoom: Int64] = [:]
    }

    private let state = Mutex(State())

    /// An `error` message after the connection had joined (e.g. `rate_limited`), or a frame the
    /// bench refused from a joined connection (over 1 MiB, a malformed control frame).
    func recordServerError(_ text: String) {
        self.state.withLock { state in
            state.serverErrors += 1
            if state.firstServerError == nil { state.firstServerError = text }
        }
    }

    /// A joined connection that the server closed (`code`, if it sent one) without the bench
    /// asking, in a window or between them.
    func recordServerClose(code: UInt16?) {
        self.state.withLock { state in
            state.serverCloses += 1
            if state.firstServerCloseCode == nil { state.firstServerCloseCode = code }
        }
    }

    /// A `room_info` the server sent: `playerCount` of `maxPlayers` in room `code`.
    func recordRoomInfo(code: String, playerCount: Int, maxPlayers: Int) {
        self.state.withLock { state in
            var size = state.roomSizes[code, default: RoomSize()]
            size.largestPlayerCount = Swift.max(size.largestPlayerCount, playerCount)
            size.maxPlayers = Swift.max(size.maxPlayers, maxPlayers)
            state.roomSizes[code] = size
        }
    }

    /// A `player_disconnected` about `player`, seen by a room-mate at `micros`.
    func recordDisconnectAnnouncement(of player: PlayerInRoom, at micros: Int64) {
        self.state.withLock { state in
            if state.disconnectAnnouncements[player] == nil { state.disconnectAnnouncements[player] = micros }
        }
    }

    var serverErrors: Int { self.state.withLock { $0.serverErrors } }
    /// Joined connections the server closed so far, with the first one's close code.
    var serverCloses: (count: Int, firstCode: UInt16?) {
        self.state.withLock { ($0.serverCloses, $0.firstServerCloseCode) }
    }
    var firstServerError: String? { self.state.withLock { $0.firstServerError } }
    /// Players announced as disconnected, with when the first announcement arrived (``BenchClock``).
    var disconnectAnnouncements: [PlayerInRoom: Int64] { self.state.withLock { $0.disconnectAnnouncements } }

    /// Rooms whose announced player count ever exceeded their `max_players`.
    var roomsOverCapacity: [String: RoomSize] {
        self.state.withLock { $0.roomSizes.filter { $0.value.largestPlayerCount > $0.value.maxPlayers } }
    }
}

/// The rooms whose events a plugin missed while its input was full (``PluginInput``), with how
/// many each, until it is told (`events_missed`, PLUGINS.md "Room events"): in the order of their
/// first miss, at most ``maxRooms`` of them.
struct MissedRoomEvents {
    private var rooms: [String] = []
    private var counts: [String: Int] = [:]

    /// Most rooms remembered at once: the server's default `--max-rooms`. Past it a further room's
    /// misses are only logged (``PluginProcess``); this many notices are some 700 KB.
    static let maxRooms = 10_000

    var isEmpty: Bool { self.rooms.isEmpty }

    /// Whether a miss of `room` waits to be told.
    func contains(_ room: String) -> Bool { !self.rooms.isEmpty && self.counts[room] != nil }

    /// An event of `room` was missed.
    mutating func add(_ room: String) {
        if let count = self.counts[room] {
            self.counts[room] = count + 1
        } else if self.rooms.count < Self.maxRooms {
            self.rooms.append(room)
            self.counts[room] = 1
        }
    }

    /// Takes the notices, oldest first, while each fits in what is left of `room` bytes: each line
    /// with its room.
    mutating func takeNotices(fitting room: Int) -> [(line: [UInt8], room: String)] {
        var left = room
        var notices: [(line: [UInt8], room: String)] = []
        for room in self.rooms {
            let line = PluginEvent.missedLine(roomID: room, count: self.counts[room] ?? 0)
            guard line.count <= left else { break }
            left -= line.count
            notices.append((line, room))
            self.counts[room] = nil
        }
        self.rooms.removeFirst(notices.count)
        return notices
    }
}

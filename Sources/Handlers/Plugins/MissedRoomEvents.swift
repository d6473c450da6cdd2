import Relay

/// The rooms whose events a plugin missed while its input was full (``PluginInput``), with how
/// many each, until it is told (`events_missed`, PLUGINS.md "Room events"): in the order of their
/// first miss, at most ``maxRooms`` of them.
struct MissedRoomEvents {
    /// Rooms in the order of their first miss; those before `head` have been told.
    private var order: [String] = []
    private var head = 0
    private var counts: [String: Int] = [:]

    /// Most rooms remembered at once: the server's default `--max-rooms`. Past it a further room's
    /// misses are only logged (``PluginProcess``); this many notices are some 700 KB.
    static let maxRooms = 10_000

    var isEmpty: Bool { self.counts.isEmpty }

    /// Whether a miss of `room` waits to be told.
    func contains(_ room: String) -> Bool { !self.counts.isEmpty && self.counts[room] != nil }

    /// An event of `room` was missed.
    mutating func add(_ room: String) {
        if let count = self.counts[room] {
            self.counts[room] = count + 1
        } else if self.counts.count < Self.maxRooms {
            self.order.append(room)
            self.counts[room] = 1
        }
    }

    /// Takes the notices, oldest first, while each fits in what is left of `room` bytes: each line
    /// with its room. A notice that does not fit is only measured, not written.
    mutating func takeNotices(fitting room: Int) -> [(line: [UInt8], room: String)] {
        var left = room
        var notices: [(line: [UInt8], room: String)] = []
        while self.head < self.order.count {
            let roomID = self.order[self.head]
            let count = self.counts[roomID] ?? 0
            guard Self.noticeSize(roomID: roomID, count: count) <= left else { break }
            let line = PluginEvent.missedLine(roomID: roomID, count: count)
            left -= line.count
            notices.append((line, roomID))
            self.counts[roomID] = nil
            self.head += 1
        }
        // The told rooms go once they are most of the list: each is moved at most once.
        if self.head == self.order.count || self.head * 2 > self.order.count {
            self.order.removeFirst(self.head)
            self.head = 0
        }
        return notices
    }

    /// The bytes of ``PluginEvent/missedLine(roomID:count:)``'s line.
    static func noticeSize(roomID: String, count: Int) -> Int {
        let fixed = #"{"kind":"event","event":"events_missed","room_id":,"count":}"#.utf8.count + 1
        return fixed + JSONValue.string(roomID).writtenSizeBound() + JSONValue.integer(Int64(count)).writtenSizeBound()
    }
}

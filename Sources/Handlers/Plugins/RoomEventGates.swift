/// The room events waiting in a plugin's input (``PluginInput``), each for the requests of its
/// room queued before it: the plugin hears each room's events in order, each after the room's
/// requests queued before it and before those queued after it. Other rooms' requests, and those
/// of senders in no room, do not wait for it.
///
/// A request queued while its room has an event waiting is gated by that event (its number) and
/// may not be written before it; an event holds back the requests of its room queued since the
/// room's previous event, which count down as they leave the queue (written, dropped as late, or
/// forgotten).
struct RoomEventGates {
    private struct Event {
        let number: UInt64
        let bytes: [UInt8]
        /// Requests of its room queued before it, since the room's previous event, still queued.
        var requestsBefore: Int
    }

    /// Each room's events not yet written, in order.
    private var rooms: [String: [Event]] = [:]
    private var eventsQueued: UInt64 = 0

    var isEmpty: Bool { self.rooms.isEmpty }

    /// Whether some event waits for no request any more (``takeReady(into:budget:from:)`` would take it).
    var hasReady: Bool { self.rooms.values.contains { $0.first?.requestsBefore == 0 } }

    /// The event a request of `room` queued now must follow: its room's last one waiting, if any.
    func gate(forRequestIn room: String) -> UInt64? {
        self.rooms[room]?.last?.number
    }

    /// Queues event `bytes` of `room` behind `requestsBefore` requests; returns its number, which
    /// those requests hold.
    mutating func queue(_ bytes: [UInt8], room: String, requestsBefore: Int) -> UInt64 {
        self.eventsQueued += 1
        self.rooms[room, default: []].append(
            Event(number: self.eventsQueued, bytes: bytes, requestsBefore: requestsBefore))
        return self.eventsQueued
    }

    /// A request that event `number` of `room` holds back has left the queue.
    mutating func requestLeft(heldBy number: UInt64, room: String) {
        guard let index = self.rooms[room]?.firstIndex(where: { $0.number == number }) else { return }
        self.rooms[room]?[index].requestsBefore -= 1
    }

    /// Appends to `bytes` the events that no request holds back any more (each room's first, then
    /// its next, …), until `budget` bytes are appended, and returns their numbers: the requests
    /// they gated may go. Rooms are taken from `start` on, round the rooms; `start` is left at the
    /// room after the one the budget ran out in, so that a busy room does not keep the others
    /// waiting.
    mutating func takeReady(into bytes: inout [UInt8], budget: Int = .max, from start: inout String?) -> Set<UInt64> {
        var released: Set<UInt64> = []
        let rooms = self.rooms
        let first = start.flatMap { rooms.index(forKey: $0) } ?? rooms.startIndex
        let order = Array(rooms.indices[first...]) + rooms.indices[..<first]
        start = nil
        var appended = 0
        for (position, index) in order.enumerated() {
            let (room, events) = rooms[index]
            guard appended < budget else {
                start = room
                break
            }
            var taken = 0
            for event in events {
                guard event.requestsBefore == 0, appended < budget else { break }
                bytes += event.bytes
                appended += event.bytes.count
                released.insert(event.number)
                taken += 1
            }
            if taken > 0 { self.rooms[room] = taken == events.count ? nil : Array(events.dropFirst(taken)) }
            if taken < events.count, events[taken].requestsBefore == 0 {  // the budget ran out in it
                start = rooms[order[(position + 1) % order.count]].key
                break
            }
        }
        return released
    }
}

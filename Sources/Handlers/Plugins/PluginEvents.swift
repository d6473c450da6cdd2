import Relay

/// What a plugin may ask to hear of the rooms (its hello's `events`; PLUGINS.md, "Events").
public enum PluginEvent: String, Sendable, CaseIterable {
    case memberJoined = "member_joined"
    case memberReconnected = "member_reconnected"
    case memberDropped = "member_dropped"
    case memberLeft = "member_left"
    case roomClosed = "room_closed"
    /// Not a room's event but news of lost ones: events of a room the plugin missed, its input
    /// being full (``PluginInput``), told in their place once it reads again.
    case eventsMissed = "events_missed"

    /// `{"kind":"event","event":…,"room_id":…,"player_id":…,"room":{…}}` and a newline; the last
    /// two for a member's event only.
    func line(roomID: String, playerID: String?, room: JSONValue?) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.writeFragment("{\"kind\":\"event\",\"event\":")
        writer.writeString(self.rawValue)
        writer.writeFragment(",\"room_id\":")
        writer.writeString(roomID)
        if let playerID {
            writer.writeFragment(",\"player_id\":")
            writer.writeString(playerID)
        }
        if let room {
            writer.writeFragment(",\"room\":")
            writer.write(room)
        }
        writer.writeFragment("}\n")
        return Array(writer.buffer.readableBytesView)
    }

    /// `{"kind":"event","event":"events_missed","room_id":…,"count":…}` and a newline.
    static func missedLine(roomID: String, count: Int) -> [UInt8] {
        var writer = JSONWriter(capacity: 96)
        writer.writeFragment("{\"kind\":\"event\",\"event\":\"events_missed\",\"room_id\":")
        writer.writeString(roomID)
        writer.writeFragment(",\"count\":")
        writer.writeInteger(Int64(count))
        writer.writeFragment("}\n")
        return Array(writer.buffer.readableBytesView)
    }
}

/// Tells each plugin the room events its hello asked for. Told inside the room, after the room's
/// own announcements, as every observer; the line is queued there too, as a member's requests
/// are, so the plugin hears each room's events in their place among the room's requests.
struct PluginEventObserver: RoomObserver {
    struct Listener: Sendable {
        let plugin: PluginProcess
        let events: Set<PluginEvent>
    }

    let listeners: [Listener]

    func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {
        self.tell(.memberJoined, of: player, in: room)
    }

    func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) {
        self.tell(.memberReconnected, of: player, in: room)
    }

    func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) {
        self.tell(.memberDropped, of: player, in: room)
    }

    func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) {
        self.tell(.memberLeft, of: player, in: room)
    }

    func roomClosing(_ room: isolated GameRoom) {
        self.tell(.roomClosed, of: nil, in: room)
    }

    private func tell(_ event: PluginEvent, of player: RoomPlayer?, in room: isolated GameRoom) {
        let listening = self.listeners.filter { $0.events.contains(event) }
        guard !listening.isEmpty else { return }
        // Not `player == nil ? nil : …`: that `nil` is JSON's null (`JSONValue` takes the literal),
        // and a `room_closed` would carry `"room":null`.
        let info: JSONValue? = player.map { _ in room.state.roomInfo }
        let line = event.line(roomID: room.state.roomID, playerID: player?.id, room: info)
        for listener in listening { listener.plugin.tell(event: line, room: room.state.roomID) }
    }
}

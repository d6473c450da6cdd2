public import Relay

/// One request to a plugin: a message for it to handle, or to judge as a filter.
public struct PluginRequest: Sendable {
    public enum Kind: String, Sendable {
        case message, filter
    }

    public let kind: Kind
    /// The sender's player id, when the sender is in a room.
    public let playerID: String?
    /// The sender's room as `room_info`, when the sender is in a room.
    public let room: JSONValue?
    /// The client's message as it arrived.
    public let message: InboundMessage
    /// `room`'s `room_id`: the room's events keep their place among its requests.
    let roomID: String?

    /// `message`'s fields as JSON, encoded once the request is made: a member's request is
    /// queued inside its room, which should not spend its time on a large message.
    private let encodedMessage: [UInt8]

    public init(kind: Kind, playerID: String?, room: JSONValue?, message: InboundMessage) {
        self.init(kind: kind, playerID: playerID, room: room, message: message, encoded: Self.encode(message))
    }

    /// A request whose message ``encode(_:)`` has encoded already.
    init(kind: Kind, playerID: String?, room: JSONValue?, message: InboundMessage, encoded: [UInt8]) {
        self.kind = kind
        self.playerID = playerID
        self.room = room
        self.roomID = room?.objectValue?["room_id"]?.stringValue
        self.message = message
        self.encodedMessage = encoded
    }

    /// `message`'s fields as a JSON object.
    static func encode(_ message: InboundMessage) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.write(.object(message.fields))
        return Array(writer.buffer.readableBytesView)
    }

    /// `message`'s fields as a JSON object, refused with `too_long` if longer than `limit` bytes.
    static func encode(_ message: InboundMessage, within limit: Int?) throws(RelayError) -> [UInt8] {
        let encoded = Self.encode(message)
        if let limit, encoded.count > limit { throw .messageTooLong(message.type, limit: limit) }
        return encoded
    }

    /// `{"kind":…,"id":…,"type":…,"player_id":…,"room":…,"message":{…}}` and a newline.
    func line(id: UInt64) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + self.encodedMessage.count)
        writer.writeFragment("{\"kind\":")
        writer.writeString(self.kind.rawValue)
        writer.writeFragment(",\"id\":")
        writer.writeInteger(Int64(id))
        writer.writeFragment(",\"type\":")
        writer.writeString(self.message.type)
        writer.writeFragment(",\"player_id\":")
        writer.write(self.playerID.map(JSONValue.string) ?? .null)
        writer.writeFragment(",\"room\":")
        writer.write(self.room ?? .null)
        writer.writeFragment(",\"message\":")
        self.encodedMessage.withUnsafeBufferPointer { writer.writeRaw($0) }
        writer.writeFragment("}\n")
        return Array(writer.buffer.readableBytesView)
    }
}

/// How a request to a plugin ended.
public enum PluginOutcome: Sendable, Equatable {
    case answered(PluginAnswer)
    /// The plugin did not answer within the request timeout.
    case timedOut
    /// The plugin is not running (starting, restarting, stopped) or has too many requests waiting.
    case unavailable
    /// The plugin answered, but not in the protocol.
    case invalidAnswer(String)
    /// The sender's connection closed and the plugin did not answer within
    /// ``PluginSettings/closedConnectionGrace`` of that: nobody is waiting for the answer. Not
    /// judged, so a filter drops the message whatever its `filter_failure`.
    case abandoned
}

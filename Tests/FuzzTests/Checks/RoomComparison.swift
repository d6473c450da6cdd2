import NIOCore

@testable import Handlers
@testable import Relay

/// Compares what a room with the raw paths sent a client with what a room without them sent it,
/// message by message, for ``RoomCheck``.
///
/// Frames must be the same JSON values (``same(_:_:)``), but for what two rooms differ in
/// whatever their messages: the room code (its value, and where a text names it), reconnect
/// tokens, the seed and wall-clock times. Not byte for byte: the usual path writes an object it
/// decoded (a relayed `state`, say) in its dictionary's order, where a raw path keeps the order
/// as sent.
struct RoomComparison {
    /// Keys whose values are random or read from the clock.
    static let varyingKeys: Set<String> = [
        "room_id", "reconnect_token", "seed", "timestamp", "server_time", "server_timestamp", "game_start_timestamp",
    ]

    /// The room codes of the room with raw paths, each mapped to the other room's.
    private var codes: [String: String]

    init(code: String, usualCode: String) {
        self.codes = [code: usualCode]
    }

    /// How `frames` (sent with the raw paths) differ from `usualFrames`, if they do.
    mutating func difference(_ frames: [ByteBuffer], _ usualFrames: [ByteBuffer]) -> String? {
        guard frames.count == usualFrames.count else {
            return "was sent \(Self.listed(frames)) with the raw paths, \(Self.listed(usualFrames)) without"
        }
        for (frame, usualFrame) in zip(frames, usualFrames) {
            let bytes = Array(frame.readableBytesView)
            let usualBytes = Array(usualFrame.readableBytesView)
            if bytes == usualBytes { continue }
            guard let value = try? JSONParser.parse(bytes, maxDepth: 200),
                let usualValue = try? JSONParser.parse(usualBytes, maxDepth: 200)
            else { return "was sent \(shown(bytes)) with the raw paths, \(shown(usualBytes)) without" }
            self.learnCodes(value, usualValue)
            guard Self.same(self.withoutVarying(value), self.withoutVarying(usualValue, renaming: false)) else {
                return "was sent \(shown(bytes)) with the raw paths, \(shown(usualBytes)) without"
            }
        }
        return nil
    }

    /// A room made later (a `create_room` after a `leave_room`) has a code of its own in each.
    private mutating func learnCodes(_ value: JSONValue, _ usualValue: JSONValue) {
        if let code = value.objectValue?["room_id"]?.stringValue,
            let usualCode = usualValue.objectValue?["room_id"]?.stringValue
        {
            self.codes[code] = usualCode
        }
    }

    /// `value` with the varying keys' values null, and (unless `renaming` is false) the room codes
    /// in its texts renamed to the other room's.
    private func withoutVarying(_ value: JSONValue, renaming: Bool = true) -> JSONValue {
        switch value {
        case .object(let fields):
            var kept: [String: JSONValue] = [:]
            for (key, field) in fields {
                kept[key] = Self.varyingKeys.contains(key) ? .null : self.withoutVarying(field, renaming: renaming)
            }
            return .object(kept)
        case .array(let elements):
            return .array(elements.map { self.withoutVarying($0, renaming: renaming) })
        case .string(var text) where renaming:
            for (code, usualCode) in self.codes { text = text.replacing(code, with: usualCode) }
            return .string(text)
        default:
            return value
        }
    }

    /// Whether two values are the same to a client comparing code points: not as `==` compares them,
    /// which takes canonically equivalent strings (U+212A, the Kelvin sign, and K) as equal, and 0
    /// as -0.
    static func same(_ value: JSONValue, _ other: JSONValue) -> Bool {
        switch (value, other) {
        case (.string(let text), .string(let otherText)): text.unicodeScalars.elementsEqual(otherText.unicodeScalars)
        case (.number(let number), .number(let otherNumber)): number.bitPattern == otherNumber.bitPattern
        case (.array(let elements), .array(let otherElements)):
            elements.count == otherElements.count && zip(elements, otherElements).allSatisfy(Self.same)
        case (.object(let fields), .object(let otherFields)):
            Self.sameMembers(fields, otherFields)
        default: value == other
        }
    }

    /// Members compared key by key in the keys' code point order, spellings included.
    private static func sameMembers(_ fields: [String: JSONValue], _ otherFields: [String: JSONValue]) -> Bool {
        func sorted(_ fields: [String: JSONValue]) -> [(key: [Unicode.Scalar], value: JSONValue)] {
            fields.map { (Array($0.key.unicodeScalars), $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        }
        let (members, otherMembers) = (sorted(fields), sorted(otherFields))
        return members.count == otherMembers.count
            && zip(members, otherMembers).allSatisfy { $0.key == $1.key && Self.same($0.value, $1.value) }
    }

    private static func listed(_ frames: [ByteBuffer]) -> String {
        frames.isEmpty ? "nothing" : frames.map { shown($0.readableBytesView) }.joined(separator: ", ")
    }
}

/// A room handler with its raw path hidden, so that a dispatcher decodes every message of its type.
struct UsualPathOnly: RoomMessageHandler {
    let handler: any RoomMessageHandler

    var messageType: String { self.handler.messageType }

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        try self.handler.handle(message, from: playerID, in: room)
    }

    /// `handler`, or, if it has a raw path, `handler` without it.
    static func hidingRawPath(_ handler: any MessageHandler) -> any MessageHandler {
        guard let raw = handler as? any RawRoomMessageHandler else { return handler }
        return UsualPathOnly(handler: raw)
    }
}

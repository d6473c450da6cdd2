import NIOCore

@testable import Handlers
@testable import Relay

/// Compares what a room with the raw paths sent its clients with what a room without them sent
/// them, message by message, for ``RoomCheck``.
///
/// Frames must be the same JSON values (``same(_:_:)``), but for what two rooms differ in
/// whatever their messages: what the server made up, room codes, the ids of players who gave
/// none and reconnect tokens (renamed, in texts and keys, to the other room's, learned as they
/// are made; a token is also left out where the protocol puts it); the seed and wall-clock
/// readings, each left out where the protocol puts it
/// (``varyingKeys``). Not byte for byte: the usual path writes
/// an object it decoded (a relayed `state`, say) in its dictionary's order, where a raw path
/// keeps the order as sent.
struct RoomComparison {
    /// Where a value is random or read from the clock: keys of the top level, and of objects
    /// under a key (arrays looked through).
    static let varyingKeys: [[String]: Set<String>] = [
        []: ["reconnect_token", "server_time", "timestamp"],
        ["game_state"]: ["seed", "server_timestamp", "game_start_timestamp"],
        ["game_state", "chat_history"]: ["timestamp"],
    ]

    /// What comparing one message's frames found.
    enum Verdict: Equatable {
        case same
        case different(String)
        /// Different, and the rooms refused a client with `rate_limited` a different number of
        /// times: budgets the clock refills decide (the rooms read it microseconds apart), so the
        /// rooms may part ways from here. (A raw path that refuses wrongly so goes unseen.)
        case inconclusive
    }

    /// What the server made up in the room with raw paths (room codes, the ids of players who
    /// gave none), each mapped to the other room's.
    private var madeUp: [String: String]

    /// The rooms' codes, and the tokens each room gave its clients (in the same order) when it was made.
    init(code: String, usualCode: String, tokens: [String?], usualTokens: [String?]) {
        self.madeUp = [code: usualCode]
        for case (let token?, let usualToken?) in zip(tokens, usualTokens) { self.madeUp[token] = usualToken }
    }

    /// How the frames each client was sent with the raw paths (`sent`, by client, named in
    /// `clients`) differ from those sent without (`usualSent`), if they do.
    mutating func compare(_ sent: [[ByteBuffer]], _ usualSent: [[ByteBuffer]], clients: [String]) -> Verdict {
        for (client, (frames, usualFrames)) in zip(clients, zip(sent, usualSent)) {
            if let difference = self.difference(frames, usualFrames) {
                let refusedApart = zip(sent, usualSent).contains { Self.rateRefusals($0) != Self.rateRefusals($1) }
                return refusedApart ? .inconclusive : .different("\(client) \(difference)")
            }
        }
        return .same
    }

    /// How many of `frames` are `rate_limited` errors.
    private static func rateRefusals(_ frames: [ByteBuffer]) -> Int {
        frames.count { frame in
            guard case .object(let fields)? = try? JSONParser.parse(Array(frame.readableBytesView), maxDepth: 200)
            else { return false }
            return fields["type"] == "error" && fields["code"] == "rate_limited"
        }
    }

    /// How `frames` (sent with the raw paths) differ from `usualFrames`, if they do.
    private mutating func difference(_ frames: [ByteBuffer], _ usualFrames: [ByteBuffer]) -> String? {
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
            self.learnMadeUpNames(value, usualValue)
            guard Self.same(self.withoutVarying(value), self.withoutVarying(usualValue, renaming: false)) else {
                return "was sent \(shown(bytes)) with the raw paths, \(shown(usualBytes)) without"
            }
        }
        return nil
    }

    /// A room made later (a `create_room` after a `leave_room`) has a code of its own in each, and
    /// a player who joins without a `player_id` an id of its own: first seen in `player_joined`,
    /// then `room_created` or `room_joined`, messages no raw path sends. Each room hands its
    /// players tokens of its own too (`room_created`, `room_joined`, `reconnected`), which a client
    /// may echo anywhere: in a message type an `unknown_type` error quotes, say.
    private mutating func learnMadeUpNames(_ value: JSONValue, _ usualValue: JSONValue) {
        guard let type = value.objectValue?["type"], type == usualValue.objectValue?["type"],
            type == "player_joined" || type == "room_created" || type == "room_joined" || type == "reconnected"
        else { return }
        for path in [["room_id"], ["room_info", "room_id"], ["player_id"], ["reconnect_token"]] {
            if let name = Self.string(at: path, in: value), let usualName = Self.string(at: path, in: usualValue),
                name != usualName
            {
                self.madeUp[name] = usualName
            }
        }
    }

    private static func string(at path: [String], in value: JSONValue) -> String? {
        path.reduce(Optional(value)) { $0?.objectValue?[$1] }?.stringValue
    }

    /// `value` with the varying keys' values null (``varyingKeys``; `path` is where `value` is),
    /// and (unless `renaming` is false) the made-up names in its texts and keys renamed to the
    /// other room's.
    private func withoutVarying(_ value: JSONValue, at path: [String] = [], renaming: Bool = true) -> JSONValue {
        switch value {
        case .object(let fields):
            let varying = Self.varyingKeys[path] ?? []
            var kept: [String: JSONValue] = [:]
            for (key, field) in fields {
                let name = renaming ? self.renamed(key) : key
                kept[name] =
                    varying.contains(key) ? .null : self.withoutVarying(field, at: path + [key], renaming: renaming)
            }
            return .object(kept)
        case .array(let elements):
            return .array(elements.map { self.withoutVarying($0, at: path, renaming: renaming) })
        case .string(let text) where renaming:
            return .string(self.renamed(text))
        default:
            return value
        }
    }

    private func renamed(_ text: String) -> String {
        var text = text
        for (name, usualName) in self.madeUp where text.contains(name) {
            text = text.replacing(name, with: usualName)
        }
        return text
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

public import NIOCore
public import Relay

/// The plugin protocol's lines (PLUGINS.md): what a plugin says, decoded and checked.
public enum PluginLine: Sendable, Equatable {
    /// The first line: who the plugin is and which types it handles and filters.
    case hello(PluginHello)
    /// The answer to request `id`.
    case answer(id: UInt64, PluginAnswer)
    /// An answer to request `id` that breaks the protocol; the sender gets `plugin_error`.
    case invalidAnswer(id: UInt64, reason: String)
    /// A hello that breaks the rules (another protocol version, a bad name or type list).
    case badHello(reason: String)
    /// A line that is not a protocol message at all.
    case garbage(reason: String)

    /// The protocol version this server speaks.
    public static let protocolVersion: Int64 = 1

    /// How deep a line may nest: an answer carries a client's message (itself up to
    /// ``JSONParser/maxDepth`` deep) a few levels down (answer → actions → action → message),
    /// and must not be refused for echoing what the server accepted.
    public static let maxDepth = JSONParser.maxDepth + 8

    /// Decodes one line (without its newline).
    public static func decode(_ bytes: some Collection<UInt8>) -> PluginLine {
        let fields: [String: JSONValue]
        do throws(JSONParser.Failure) {
            guard case .object(let object) = try JSONParser.parse(bytes, maxDepth: Self.maxDepth) else {
                return .garbage(reason: "not a JSON object")
            }
            fields = object
        } catch {
            let reason = "not valid JSON: \(error.reason) at byte \(error.offset)"
            guard let id = UnparsableAnswer.id(bytes) else { return .garbage(reason: reason) }
            return .invalidAnswer(id: id, reason: reason)
        }
        switch fields["kind"]?.stringValue {
        case "hello":
            do throws(PluginProtocolError) {
                return .hello(try PluginHello(fields))
            } catch {
                return .badHello(reason: error.reason)
            }
        case "answer":
            guard case .integer(let rawID) = fields["id"], rawID >= 0 else {
                return .garbage(reason: "answer without an integer id")
            }
            let id = UInt64(rawID)
            do throws(PluginProtocolError) {
                return .answer(id: id, try PluginAnswer(fields))
            } catch {
                return .invalidAnswer(id: id, reason: error.reason)
            }
        default:
            return .garbage(reason: "no known 'kind'")
        }
    }
}

/// Why a plugin's line was refused.
public struct PluginProtocolError: Error, Equatable, Sendable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// `{"kind":"hello","protocol":1,"name":…,"handles":[…],"filters":[…],"filter_failure":…,"events":[…],`
/// `"max_message_bytes":…}`.
public struct PluginHello: Sendable, Equatable {
    /// The plugin's name, for logs.
    public let name: String
    /// Message types the plugin answers.
    public let handles: [String]
    /// Message types the plugin sees before their handler.
    public let filters: [String]
    /// What happens to a filtered message when the plugin cannot judge it (down, late).
    public let failOpen: Bool
    /// What the plugin is told of the rooms.
    public let events: Set<PluginEvent>
    /// The longest message, as the plugin would read it (`message`'s JSON), that the plugin takes
    /// of the types it handles or filters; longer ones are refused with `too_long` before they
    /// reach it. Nil: only the frame cap bounds them. A plugin's time is shared by every sender of
    /// its types: this keeps one sender's large messages from taking it (PLUGINS.md §1).
    public let maxMessageBytes: Int?

    init(_ fields: [String: JSONValue]) throws(PluginProtocolError) {
        guard case .integer(let version) = fields["protocol"] else {
            throw PluginProtocolError("no integer 'protocol'")
        }
        guard version == PluginLine.protocolVersion else {
            throw PluginProtocolError(
                "protocol \(version) is not supported (this server speaks \(PluginLine.protocolVersion))")
        }
        // Printable only: the name goes into the server's log lines, where a newline or an escape
        // sequence could forge lines of its own.
        guard let name = fields["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 64,
            !name.unicodeScalars.contains(where: \.isControlOrFormat)
        else {
            throw PluginProtocolError("'name' must be a string of 1–64 bytes without control characters")
        }
        self.name = name
        self.handles = try Self.types(fields["handles"], field: "handles")
        self.filters = try Self.types(fields["filters"], field: "filters")
        self.events = try Self.events(fields["events"])
        guard !self.handles.isEmpty || !self.filters.isEmpty || !self.events.isEmpty else {
            throw PluginProtocolError("it neither handles nor filters a type, nor asks for events")
        }
        guard self.events != [.eventsMissed] else {
            throw PluginProtocolError("'events_missed' tells of missed events: it needs others in 'events'")
        }
        self.maxMessageBytes = try Self.maxMessageBytes(fields["max_message_bytes"])
        switch fields["filter_failure"] {
        case nil, .null, .string("reject"): self.failOpen = false
        case .string("pass"): self.failOpen = true
        default: throw PluginProtocolError("'filter_failure' must be \"reject\" or \"pass\"")
        }
    }

    /// Whether `other` announces what this does: the name, the failure rule and the same types,
    /// in any order (a Python plugin listing a set of types may list them in another order each
    /// run; order within one hello changes nothing).
    func announcesTheSame(as other: PluginHello) -> Bool {
        self.fieldsDiffering(from: other).isEmpty
    }

    /// The hello's fields in which `other` announces something else, as ``announcesTheSame(as:)``
    /// compares them: for the log, which names them.
    func fieldsDiffering(from other: PluginHello) -> [String] {
        let comparisons: [(String, Bool)] = [
            ("name", self.name == other.name), ("handles", Set(self.handles) == Set(other.handles)),
            ("filters", Set(self.filters) == Set(other.filters)), ("filter_failure", self.failOpen == other.failOpen),
            ("events", self.events == other.events),
            ("max_message_bytes", self.maxMessageBytes == other.maxMessageBytes),
        ]
        return comparisons.filter { !$0.1 }.map(\.0)
    }

    /// The largest `max_message_bytes` a hello may give: far past any use (4 MiB of requests
    /// waiting for a plugin already make it unavailable).
    static let maxMessageBytesLimit = 16 << 20

    private static func maxMessageBytes(_ value: JSONValue?) throws(PluginProtocolError) -> Int? {
        switch value {
        case nil, .null: return nil
        case .integer(let bytes) where (2...Int64(Self.maxMessageBytesLimit)).contains(bytes): return Int(bytes)
        default:
            throw PluginProtocolError("'max_message_bytes' must be an integer from 2 to \(Self.maxMessageBytesLimit)")
        }
    }

    private static func events(_ value: JSONValue?) throws(PluginProtocolError) -> Set<PluginEvent> {
        let known = PluginEvent.allCases.map(\.rawValue).joined(separator: ", ")
        switch value {
        case nil, .null: return []
        case .array(let elements):
            var events: Set<PluginEvent> = []
            for element in elements {
                guard let event = element.stringValue.flatMap(PluginEvent.init(rawValue:)) else {
                    throw PluginProtocolError("'events' must list events of these: \(known)")
                }
                events.insert(event)
            }
            return events
        default: throw PluginProtocolError("'events' must be an array of strings (of these: \(known))")
        }
    }

    /// Most types one hello may list in each of `handles` and `filters`.
    static let maxTypes = 256

    private static func types(_ value: JSONValue?, field: String) throws(PluginProtocolError) -> [String] {
        switch value {
        case nil, .null: return []
        case .array(let elements):
            guard elements.count <= Self.maxTypes else {
                throw PluginProtocolError("'\(field)' lists more than \(Self.maxTypes) types")
            }
            var types: [String] = []
            var seen: Set<String> = []
            for element in elements {
                guard let type = element.stringValue, PluginAnswer.isIdentifier(type) else {
                    throw PluginProtocolError("'\(field)' must list types of 1–64 letters, digits and _")
                }
                if seen.insert(type).inserted { types.append(type) }
            }
            return types
        default: throw PluginProtocolError("'\(field)' must be an array of strings")
        }
    }
}

/// What a plugin answered: actions for a message request, a verdict for a filter request.
public enum PluginAnswer: Sendable, Equatable {
    case actions([PluginAction])
    case verdict(PluginVerdict)

    /// Most actions one answer may carry.
    static let maxActions = 64
    /// Most bytes an answer's messages may come to, encoded: half a client's default outbound
    /// queue (1 MiB), so that one answer cannot overflow the queue of a player who reads at once
    /// and get them dropped as too slow. The line's own limit is not enough: `"\b"` in a line
    /// is two bytes, and six (`\u0008`) once encoded for the client.
    static let maxMessageBytes = 512 * 1024

    init(_ fields: [String: JSONValue]) throws(PluginProtocolError) {
        switch (fields["actions"], fields["verdict"]) {
        case (.array(let actions), nil):
            guard actions.count <= Self.maxActions else {
                throw PluginProtocolError("more than \(Self.maxActions) actions")
            }
            var decoded: [PluginAction] = []
            var messageBytes = 0
            for action in actions {
                let action = try PluginAction(action)
                switch action {
                case .send(_, let frame): messageBytes += frame.readableBytes
                case .error(let error): messageBytes += OutboundMessage.error(error).readableBytes
                }
                decoded.append(action)
            }
            guard messageBytes <= Self.maxMessageBytes else {
                throw PluginProtocolError("its messages come to \(messageBytes) bytes, over \(Self.maxMessageBytes)")
            }
            self = .actions(decoded)
        case (nil, .string(let verdict)):
            self = .verdict(try PluginVerdict(verdict, fields: fields))
        default:
            throw PluginProtocolError("an answer carries either 'actions' (an array) or 'verdict' (a string)")
        }
    }

    /// Type names and error codes: 1–64 ASCII letters, digits and `_`.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            }
    }

    /// `{"code":…,"message":…}` from a plugin, checked so a client sees a sane error.
    static func error(_ value: JSONValue?) throws(PluginProtocolError) -> RelayError {
        guard let code = value?["code"]?.stringValue, Self.isIdentifier(code) else {
            throw PluginProtocolError("an error needs a 'code' of 1–64 letters, digits and _")
        }
        // Code points, as chat counts: a character (a letter with any number of accents) has no size.
        guard let message = value?["message"]?.stringValue, !message.isEmpty, message.unicodeScalars.count <= 500
        else {
            throw PluginProtocolError("an error needs a 'message' of 1–500 code points")
        }
        return RelayError(code: code, message: message)
    }

    /// A message a plugin wants sent: an object with a string `type`, encoded once, `type`
    /// first like every server message.
    static func message(_ value: JSONValue?) throws(PluginProtocolError) -> ByteBuffer {
        guard case .object(let fields) = value, let type = fields["type"]?.stringValue else {
            throw PluginProtocolError("'message' must be an object with a string 'type'")
        }
        var message = OutboundMessage(type: type)
        for (key, field) in fields where key != "type" { message.add(key, field) }
        return message.encoded()
    }
}

/// One thing a plugin asks the server to do for a message.
public enum PluginAction: Sendable, Equatable {
    /// `{"send":"sender"|"room"|"others"|"player","player_id":…,"message":{…}}`.
    case send(PluginRecipients, ByteBuffer)
    /// `{"error":{"code":…,"message":…}}`: an `error` message to the sender.
    case error(RelayError)

    init(_ value: JSONValue) throws(PluginProtocolError) {
        if let error = value["error"] {
            self = .error(try PluginAnswer.error(error))
            return
        }
        let recipients: PluginRecipients
        switch value["send"]?.stringValue {
        case "sender": recipients = .sender
        case "room": recipients = .room
        case "others": recipients = .others
        case "player":
            guard let playerID = value["player_id"]?.stringValue else {
                throw PluginProtocolError("'send':'player' needs a 'player_id'")
            }
            recipients = .player(playerID)
        default: throw PluginProtocolError("an action is {\"send\":\"sender|room|others|player\",…} or {\"error\":{…}}")
        }
        self = .send(recipients, try PluginAnswer.message(value["message"]))
    }
}

/// Who gets a message a plugin sends.
public enum PluginRecipients: Sendable, Equatable {
    case sender, room, others
    case player(String)
}

/// A filter plugin's judgement of one message.
public enum PluginVerdict: Sendable, Equatable {
    case pass
    /// Hand on this message instead (same `type`).
    case rewrite([String: JSONValue])
    /// Discard the message without a word.
    case drop
    case reject(RelayError)

    init(_ verdict: String, fields: [String: JSONValue]) throws(PluginProtocolError) {
        switch verdict {
        case "pass": self = .pass
        case "drop": self = .drop
        case "reject": self = .reject(try PluginAnswer.error(fields["error"]))
        case "rewrite":
            guard case .object(let message) = fields["message"] else {
                throw PluginProtocolError("'rewrite' needs a 'message' object")
            }
            // Relayed to the room as it is, it must fit what an answer's messages may come to:
            // counted, not written (the count stops once past the cap).
            let limit = PluginAnswer.maxMessageBytes
            guard JSONValue.object(message).writtenSizeBound(upTo: limit) <= limit else {
                throw PluginProtocolError("the rewritten message comes to over \(limit) bytes encoded")
            }
            self = .rewrite(message)
        default: throw PluginProtocolError("'verdict' must be pass, rewrite, drop or reject")
        }
    }
}

extension JSONValue {
    fileprivate subscript(key: String) -> JSONValue? { self.objectValue?[key] }
}

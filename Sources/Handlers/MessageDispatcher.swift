public import Relay

/// Routes each inbound text message to the handler registered for its `type`.
///
/// Decodes the envelope once; bad input gets an `error` with a stable code and the
/// connection stays open.
public struct MessageDispatcher: Sendable {
    private let handlers: [String: any MessageHandler]

    /// Two handlers claiming one type.
    public struct DuplicateTypeError: Error, CustomStringConvertible {
        public let messageType: String
        public var description: String { "two handlers are registered for message type '\(self.messageType)'" }
    }

    /// - Throws: ``DuplicateTypeError`` when two handlers claim the same type.
    public init(handlers: [any MessageHandler]) throws(DuplicateTypeError) {
        var table: [String: any MessageHandler] = [:]
        for handler in handlers {
            guard table[handler.messageType] == nil else { throw DuplicateTypeError(messageType: handler.messageType) }
            table[handler.messageType] = handler
        }
        self.handlers = table
    }

    /// The registered types, sorted.
    public var messageTypes: [String] { self.handlers.keys.sorted() }

    /// Decodes one text message and runs its handler; problems become `error` replies.
    public func dispatch(_ text: String, session: ConnectionSession) async {
        do throws(RelayError) {
            let message = try Self.decode(text)
            guard let handler = self.handlers[message.type] else { throw .unknownType(message.type) }
            try await handler.handle(message, session: session)
        } catch {
            session.reply(error)
        }
    }

    /// Parses the envelope: a JSON object with a string `type`.
    public static func decode(_ text: String) throws(RelayError) -> InboundMessage {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw error.reason == "lone surrogate escape" ? .invalidField("text", expected: "valid Unicode") : .invalidJSON
        }
        guard case .object(let fields) = value else { throw .notAnObject }
        guard case .string(let type) = fields["type"] else { throw .missingType }
        return InboundMessage(type: type, fields: fields)
    }
}

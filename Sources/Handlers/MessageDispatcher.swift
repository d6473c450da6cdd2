public import Relay

/// Routes each inbound text message to the handler registered for its `type`, through
/// the filters registered for that type.
///
/// Decodes the envelope once; bad input gets an `error` with a stable code and the
/// connection stays open.
public struct MessageDispatcher: Sendable {
    private let handlers: [String: any MessageHandler]
    private let filters: [String: [any MessageFilter]]
    /// Handlers with a raw path, for types without filters (a filter needs the decoded message).
    private let rawHandlers: [(type: [UInt8], handler: any RawRoomMessageHandler)]

    /// A registration that cannot work, found at start-up.
    public enum RegistrationError: Error, Equatable, CustomStringConvertible {
        /// Two handlers claim one type (or two canonically equivalent spellings of it, which the
        /// table cannot keep apart).
        case duplicateType(String)
        /// A filter for a type no handler answers (most likely a typo).
        case filterWithoutHandler(String)

        public var description: String {
            switch self {
            case .duplicateType(let type): "two handlers are registered for message type '\(type)'"
            case .filterWithoutHandler(let type):
                "a filter is registered for message type '\(type)', which no handler answers"
            }
        }
    }

    /// - Throws: ``RegistrationError`` when two handlers claim the same type, or a filter's
    ///   type has no handler.
    public init(handlers: [any MessageHandler], filters: [any MessageFilter] = []) throws(RegistrationError) {
        var table: [String: any MessageHandler] = [:]
        for handler in handlers {
            guard table[handler.messageType] == nil else { throw .duplicateType(handler.messageType) }
            table[handler.messageType] = handler
        }
        var filterTable: [String: [any MessageFilter]] = [:]
        for filter in filters {
            // Spelled as its handler's type, as dispatch compares: a filter for another spelling
            // would run on the handler's messages, never on its own.
            guard let handler = table[filter.messageType], handler.messageType.isSpelled(as: filter.messageType) else {
                throw .filterWithoutHandler(filter.messageType)
            }
            filterTable[filter.messageType, default: []].append(filter)
        }
        self.handlers = table
        self.filters = filterTable
        self.rawHandlers = table.values.compactMap { handler in
            guard let raw = handler as? any RawRoomMessageHandler, filterTable[handler.messageType] == nil else {
                return nil
            }
            return (Array(raw.messageType.utf8), raw)
        }
    }

    /// The registered types, sorted.
    public var messageTypes: [String] { self.handlers.keys.sorted() }

    /// Decodes one text message and runs its filters and handler; problems become `error` replies.
    ///
    /// A connection the server is closing (replaced by a reconnect, too slow, flooding) speaks for
    /// nobody: messages it sent before the close but not yet handled are dropped, so a replaced
    /// connection cannot, say, join another room as a player nobody can reach.
    ///
    /// Returns how many JSON values the message was decoded into (0 when it was not): the work
    /// it bought, which the caller may charge to the sender (``JSONParser/parse(_:maxDepth:valueCount:)``).
    @discardableResult
    public func dispatch(_ text: String, session: ConnectionSession) async -> Int {
        guard session.connection.closeCode == nil else { return 0 }
        var valueCount = 0
        do throws(RelayError) {
            if let raw = self.rawHandler(for: text), await raw.handleRaw(text, session: session) { return 0 }
            var message = try Self.decode(text, valueCount: &valueCount)
            // Another spelling of a type, though canonically equal, is another type, as the old
            // server and plugins see it.
            guard let handler = self.handlers[message.type], handler.messageType.isSpelled(as: message.type) else {
                throw .unknownType(message.type)
            }
            if !self.filters.isEmpty, let filters = self.filters[message.type] {
                for filter in filters {
                    guard let passed = try await filter.filter(message, session: session) else { return valueCount }
                    message = passed
                }
            }
            try await handler.handle(message, session: session)
        } catch {
            session.reply(error)
        }
        return valueCount
    }

    /// Handles a message as its frame arrives (a NIO channel handler reading it), when a raw
    /// handler takes it and the sender is in a room: at once when the room lives on the current
    /// event loop; else handed to the room's loop without waiting, if the handler can read it
    /// here (``RawRoomMessageHandler/prepareForwarding(_:from:)``) and fewer than
    /// ``ForwardedMessages/limit`` of the sender's are on their way. Returns false, having done
    /// nothing, otherwise — the caller then dispatches it the usual way, through a reader that
    /// calls ``ConnectionSession/settleForwarded()`` first. A refused message is answered with its
    /// error, as ``dispatch(_:session:)`` would.
    ///
    /// `bytes` are the frame's payload, not yet checked to be UTF-8 (the raw handler accepts
    /// only what it fully understands). Messages of one session must come one at a time, in order.
    /// A connection the server is closing gets false, as ``dispatch(_:session:)`` drops its messages.
    public func dispatchInPlace(_ bytes: UnsafeBufferPointer<UInt8>, session: ConnectionSession) -> Bool {
        // Last, a connection being closed: ``dispatch(_:session:)`` drops what it sends.
        guard let raw = self.rawHandler(for: bytes), let membership = session.membership,
            !session.connection.isClosing
        else { return false }
        guard membership.room.isOnCurrentLoop else {
            return Self.forward(bytes, to: raw, membership: membership, session: session)
        }
        // On its loop, code is isolated to the room: the cast `assumeIsolated` makes after its own
        // check. Made on a function without a context, it allocates nothing (`assumeIsolated`'s
        // closure, made escaping for the cast, cost two allocations per message).
        typealias Plain = (GameRoom, any RawRoomMessageHandler, UnsafeBufferPointer<UInt8>, String, PlayerConnection)
            throws(RelayError) -> Bool
        let handle = unsafeBitCast(handleInPlace as InPlaceCall, to: Plain.self)
        do throws(RelayError) {
            return try handle(membership.room, raw, bytes, membership.playerID, session.connection)
        } catch {
            session.reply(error)
            return true
        }
    }

    /// Reads a message here and hands it to its room on the room's event loop, without waiting.
    private static func forward(
        _ bytes: UnsafeBufferPointer<UInt8>, to raw: any RawRoomMessageHandler,
        membership: ConnectionSession.Membership,
        session: ConnectionSession
    ) -> Bool {
        let forwarded = session.forwarded
        guard forwarded.begin() else { return false }
        guard let apply = raw.prepareForwarding(bytes, from: membership.playerID) else {
            forwarded.end()
            return false
        }
        let playerID = membership.playerID
        let connection = session.connection
        membership.room.executeOnLoop { room in
            // Closed by the server since it was read (a flood, a slow consumer, a stop): dropped,
            // as ``dispatch(_:session:)`` drops what such a connection sends.
            guard !connection.isClosing else { return forwarded.end() }
            // As ``RoomMessageHandler/handle(_:session:)``: a sender no longer a current member
            // (before this message, or by it) is told `not_in_room`, once; the reader then forgets
            // the membership (``ConnectionSession/settleForwarded()``).
            guard room.isCurrent(playerID, connection: connection) else {
                return Self.refuseStale(forwarded: forwarded, connection: connection)
            }
            do throws(RelayError) {
                try apply(room)
                room.messagesForwarded += 1
            } catch {
                connection.send(OutboundMessage.error(error))
                guard room.isCurrent(playerID, connection: connection) else {
                    return Self.refuseStale(forwarded: forwarded, connection: connection)
                }
            }
            forwarded.end()
        }
        return true
    }

    /// Ends a forwarded message that found its sender no longer a member, saying `not_in_room`
    /// for the first such message, before the reader can hear of it.
    private static func refuseStale(forwarded: ForwardedMessages, connection: PlayerConnection) {
        if forwarded.markStale() { connection.send(OutboundMessage.error(.notInRoom)) }
        forwarded.end()
    }

    /// ``dispatchInPlace(_:session:)`` for a message already in a `String`.
    public func dispatchInPlace(_ text: String, session: ConnectionSession) -> Bool {
        var text = text
        return text.withUTF8 { self.dispatchInPlace($0, session: session) }
    }

    /// The raw handler for a message, if it starts `{"type":"…"` with a raw handler's type.
    private func rawHandler(for bytes: UnsafeBufferPointer<UInt8>) -> (any RawRoomMessageHandler)? {
        guard !self.rawHandlers.isEmpty else { return nil }
        var scanner = PlainJSONScanner(bytes)
        guard scanner.take(UInt8(ascii: "{")), let key = scanner.string(),
            bytes[key].elementsEqual("type".utf8), scanner.take(UInt8(ascii: ":")), let type = scanner.string()
        else { return nil }
        return self.rawHandlers.first { $0.type.elementsEqual(bytes[type]) }?.handler
    }

    /// The raw handler for `text`'s type.
    private func rawHandler(for text: String) -> (any RawRoomMessageHandler)? {
        guard !self.rawHandlers.isEmpty else { return nil }
        var text = text
        return text.withUTF8 { self.rawHandler(for: $0) }
    }

    /// Parses the envelope: a JSON object with a string `type`.
    public static func decode(_ text: String) throws(RelayError) -> InboundMessage {
        var valueCount = 0
        return try self.decode(text, valueCount: &valueCount)
    }

    /// ``decode(_:)``, counting the values parsed into `valueCount`, also when the message is then
    /// refused (``JSONParser/parse(_:maxDepth:valueCount:)``).
    static func decode(_ text: String, valueCount: inout Int) throws(RelayError) -> InboundMessage {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text.utf8, valueCount: &valueCount)
        } catch {
            switch error.textProblem {
            case .loneSurrogate: throw .loneSurrogate(atByte: error.offset)
            case .longCombiningRun: throw .longCombiningRun(atByte: error.offset)
            case nil: throw .invalidJSON(error.reason, atByte: error.offset)
            }
        }
        guard case .object(let fields) = value else { throw .notAnObject }
        guard case .string(let type) = fields["type"] else { throw .missingType }
        return InboundMessage(type: type, fields: fields)
    }
}

private typealias InPlaceCall = (
    isolated GameRoom, any RawRoomMessageHandler, UnsafeBufferPointer<UInt8>, String, PlayerConnection
) throws(RelayError) -> Bool

/// A raw handler's in-place call (``MessageDispatcher/dispatchInPlace(_:session:)``): a plain
/// function, so that the cast to a nonisolated one needs no closure context.
private func handleInPlace(
    in room: isolated GameRoom, raw: any RawRoomMessageHandler, bytes: UnsafeBufferPointer<UInt8>, playerID: String,
    connection: PlayerConnection
) throws(RelayError) -> Bool {
    let handled = try raw.handleRaw(bytes, from: playerID, connection: connection, in: room)
    if handled { room.messagesHandledInPlace += 1 }
    return handled
}

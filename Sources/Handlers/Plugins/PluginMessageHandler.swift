import Relay

/// Answers a message type a plugin announced: asks the plugin, then does what it says.
struct PluginMessageHandler: MessageHandler {
    let messageType: String
    let plugin: PluginProcess
    /// The plugin's `max_message_bytes`, if it gave one.
    var maxMessageBytes: Int? = nil

    func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
        let encoded = try PluginRequest.encode(message, within: self.maxMessageBytes)
        let (ticket, context) = await self.plugin.ask(.message, message, encoded: encoded, from: session)
        switch await self.plugin.outcome(of: ticket) {
        case .answered(.actions(let actions)):
            await self.perform(actions, for: session, in: context)
        case .answered(.verdict), .invalidAnswer:  // a verdict is refused, and logged, as its line is read
            throw .pluginError(self.messageType)
        case .timedOut: throw .pluginTimeout(self.messageType)
        case .unavailable: throw .pluginUnavailable(self.messageType)
        case .abandoned: return  // the sender has gone
        }
    }

    /// Sends what the plugin asked for, in its order. Room-wide sends happen inside the room,
    /// and only while the sender is still a member of it; what is for the sender alone (its own
    /// messages, errors) reaches it in a room or not, as when it sent the message outside one.
    private func perform(_ actions: [PluginAction], for session: ConnectionSession, in context: PluginContext?) async {
        let connection = session.connection
        if let context, actions.contains(where: \.needsRoom) {
            let playerID = context.playerID
            let wasMember = await context.room.enter { room -> Bool in
                guard room.isCurrent(playerID, connection: connection) else { return false }
                for action in actions {
                    switch action {
                    case .error(let error): connection.send(OutboundMessage.error(error))
                    case .send(.sender, let frame): connection.send(frame)
                    case .send(.room, let frame): room.broadcast(frame)
                    case .send(.others, let frame): room.broadcast(frame, excluding: playerID)
                    case .send(.player(let recipient), let frame): room.send(frame, to: recipient)
                    }
                }
                return true
            }
            if wasMember { return }
            session.membership = nil  // removed while the plugin answered
        }
        for action in actions {
            switch action {
            case .error(let error): connection.send(OutboundMessage.error(error))
            case .send(.sender, let frame): connection.send(frame)
            case .send: session.reply(.notInRoom)  // once, as for built-in types
            }
        }
    }
}

/// Judges a built-in (or plugin) message type before its handler, for a filter plugin.
struct PluginMessageFilter: MessageFilter {
    let messageType: String
    let plugin: PluginProcess
    /// Whether messages pass when the plugin cannot judge them (down, late, confused).
    let failOpen: Bool
    /// The plugin's `max_message_bytes`, if it gave one: a longer message is refused, whatever
    /// `failOpen` says (the plugin can judge it; it declined to read it).
    var maxMessageBytes: Int? = nil

    func filter(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) -> InboundMessage? {
        let encoded = try PluginRequest.encode(message, within: self.maxMessageBytes)
        let asked = await self.plugin.ask(.filter, message, encoded: encoded, from: session)
        let failure: RelayError
        switch await self.plugin.outcome(of: asked.ticket) {
        case .answered(.verdict(.pass)): return message
        case .answered(.verdict(.drop)): return nil
        case .answered(.verdict(.reject(let error))): throw error
        case .answered(.verdict(.rewrite(let fields))):
            // A rewrite of another type, or actions, are refused (and logged) as their line is read.
            guard fields["type"]?.stringValue?.isSpelled(as: self.messageType) == true else {
                failure = .pluginError(self.messageType)
                break
            }
            return InboundMessage(type: self.messageType, fields: fields)
        case .answered(.actions), .invalidAnswer: failure = .pluginError(self.messageType)
        case .timedOut: failure = .pluginTimeout(self.messageType)
        case .unavailable: failure = .pluginUnavailable(self.messageType)
        case .abandoned: return nil  // never passed unjudged, whatever `failOpen` says
        }
        if self.failOpen { return message }
        throw failure
    }
}

/// The sender of a plugin's message, a room member when it was queued.
struct PluginContext: Sendable {
    let room: GameRoom
    let playerID: String
}

extension PluginProcess {
    /// Queues `message` (its fields `encoded` already) as a request of `kind`, with its sender's
    /// player id and room as they are now: a member's inside the room, so that the plugin hears it
    /// in its place among the room's events (``PluginInput``). The context is the sender's room, if
    /// they are (still) a member.
    fileprivate func ask(
        _ kind: PluginRequest.Kind, _ message: InboundMessage, encoded: [UInt8], from session: ConnectionSession
    ) async -> (ticket: PluginTicket, context: PluginContext?) {
        if let membership = session.membership {
            let connection = session.connection
            let closing = session.closing
            let ticket = await membership.room.enter { room -> PluginTicket? in
                guard room.isCurrent(membership.playerID, connection: connection) else { return nil }
                let request = PluginRequest(
                    kind: kind, playerID: membership.playerID, room: room.state.roomInfo, message: message,
                    encoded: encoded)
                return self.enqueue(request, from: closing)
            }
            if let ticket { return (ticket, PluginContext(room: membership.room, playerID: membership.playerID)) }
            session.membership = nil  // dropped, left or replaced meanwhile
        }
        let request = PluginRequest(kind: kind, playerID: nil, room: nil, message: message, encoded: encoded)
        return (self.enqueue(request, from: session.closing), nil)
    }
}

extension PluginAction {
    /// Whether the action addresses anyone but the sender.
    fileprivate var needsRoom: Bool {
        if case .send(let recipients, _) = self, recipients != .sender { return true }
        return false
    }
}

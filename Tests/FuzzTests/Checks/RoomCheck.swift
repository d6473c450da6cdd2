import Logging
import NIOCore
import NIOPosix

@testable import Handlers
@testable import Relay

/// Whole text frames through MessageDispatcher (decode, route, the handlers, the in-place
/// relays) in real rooms, without sockets; and the raw paths against the usual one.
///
/// Per input: two fresh registries, each with a room of a host and a guest, and the input's
/// messages (split at 0xFF bytes, at most 64) sent to both. A message's first byte says how: bit 0
/// by the host or the guest, bit 1 through the in-place path (`dispatchInPlace`, raw bytes) before
/// the usual dispatch, bit 2 that call made on the room's event loop, bit 3 the sender dropping
/// first (its socket gone) and sending on a new connection. In a message's JSON strings, `$CODE`
/// is the room's code and `$TOKEN` the sender's latest reconnect token, so that a reconnect can
/// succeed (outside a string, the rooms' different letters and digits would parse differently). The
/// first room's dispatcher
/// has the handlers as given (its usual dispatch tries their raw paths too); the second's has
/// their raw paths hidden, so it decodes every message. Every frame a client is sent must be a
/// JSON object with a string `type`, an `error` with a code of the protocol's and a message; and
/// both rooms must send each client the same frames, but for what two rooms differ in anyway
/// (``RoomComparison``), until a rate limit may have parted them.
final class RoomCheck: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let dispatcher: MessageDispatcher
    private let usualDispatcher: MessageDispatcher
    private static let quiet = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Rooms served by `handlers` (a seam: the tests add a broken one).
    init(handlers: [any MessageHandler] = BuiltInHandlers.all) throws {
        self.dispatcher = try MessageDispatcher(handlers: handlers)
        self.usualDispatcher = try MessageDispatcher(handlers: handlers.map(UsualPathOnly.hidingRawPath))
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    func shutdown() async throws {
        try await self.group.shutdownGracefully()
    }

    /// A client's two ends: the session the dispatcher handles its messages in, and its queue.
    private struct Client: @unchecked Sendable {
        let connection: PlayerConnection
        let session: ConnectionSession

        init(_ registry: RoomRegistry, url: String) {
            self.connection = PlayerConnection(queueCapacity: 4096) { _ in }
            self.session = ConnectionSession(
                connection: self.connection, urlRoomID: url, registry: registry, logger: RoomCheck.quiet)
        }

        func drain() async -> [ByteBuffer] {
            var frames: [ByteBuffer] = []
            while self.connection.outbound.count > 0, let frame = await self.connection.outbound.next() {
                frames.append(frame)
            }
            return frames
        }
    }

    /// A registry with one room, its host and its guest, served by one dispatcher.
    private struct Table: Sendable {
        let dispatcher: MessageDispatcher
        let registry: RoomRegistry
        private(set) var clients: [Client]
        /// Each client's latest reconnect token, from what it was sent.
        private(set) var tokens: [String?] = [nil, nil]
        let code: String

        /// Throws if the room was not made: without one, every message would be answered
        /// `not_in_room` in both registries alike, and any input would pass.
        init(_ dispatcher: MessageDispatcher, group: any EventLoopGroup) async throws(FuzzViolation) {
            let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: group, logger: RoomCheck.quiet)
            let host = Client(registry, url: "new")
            let create =
                #"{"type":"create_room","room_name":"r","player_name":"H","player_id":"host","max_players":3}"#
            _ = await dispatcher.dispatch(create, session: host.session)
            let created = await host.drain()
            let code = created.lazy.compactMap { Self.field("room_id", of: $0, typed: "room_created") }.first ?? "new"
            let guest = Client(registry, url: code)
            let join = #"{"type":"join_room","player_name":"G","player_id":"guest"}"#
            _ = await dispatcher.dispatch(join, session: guest.session)
            let sent = [created + (await host.drain()), await guest.drain()]
            try require(
                host.session.membership != nil && guest.session.membership != nil,
                "no room of a host and a guest to send to (room \(code))")
            (self.dispatcher, self.registry, self.clients, self.code) = (dispatcher, registry, [host, guest], code)
            self.learnTokens(from: sent)
        }

        /// The string `key` of `frame`, a JSON object (of `type`, if given).
        private static func field(_ key: String, of frame: ByteBuffer, typed type: String? = nil) -> String? {
            guard case .object(let fields)? = try? JSONParser.parse(Array(frame.readableBytesView), maxDepth: 200),
                type == nil || fields["type"]?.stringValue == type
            else { return nil }
            return fields[key]?.stringValue
        }

        private mutating func learnTokens(from sent: [[ByteBuffer]]) {
            for (index, frames) in sent.enumerated() {
                for frame in frames {
                    if let token = Self.field("reconnect_token", of: frame) { self.tokens[index] = token }
                }
            }
        }

        /// The client at `index` drops, as its socket closing does, and comes back on a new
        /// connection that is in no room yet.
        private mutating func dropAndComeBack(_ index: Int) async {
            let client = self.clients[index]
            if let membership = client.session.membership {
                await membership.room.drop(playerID: membership.playerID, connection: client.connection)
            }
            self.clients[index] = Client(self.registry, url: self.code)
        }

        /// `body` with `$CODE` and `$TOKEN` inside its JSON strings replaced by this room's code and
        /// the client's token.
        private func substituting(_ body: [UInt8], for index: Int) -> [UInt8] {
            let values = [(Array("$CODE".utf8), self.code), (Array("$TOKEN".utf8), self.tokens[index] ?? "")]
            var (result, position) = ([UInt8](), 0)
            var (inString, escaped) = (false, false)
            while position < body.count {
                if inString, let (name, value) = values.first(where: { body[position...].starts(with: $0.0) }) {
                    result += Array(value.utf8)
                    position += name.count
                    continue
                }
                let byte = body[position]
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = inString
                } else if byte == UInt8(ascii: "\"") {
                    inString.toggle()
                }
                result.append(byte)
                position += 1
            }
            return result
        }

        /// Sends `message` (its first byte says how, as ``RoomCheck`` describes), and returns what
        /// each client was sent.
        mutating func send(_ message: [UInt8], group: any EventLoopGroup) async -> [[ByteBuffer]] {
            let index = Int(message[0] & 1)
            if message[0] & 8 != 0 { await self.dropAndComeBack(index) }
            let sender = self.clients[index]
            let body = self.substituting(Array(message.dropFirst()), for: index)
            var handled = false
            if message[0] & 2 != 0 {
                let inPlace: @Sendable () -> Bool = { [dispatcher] in
                    let handled = try? withExactCopy(of: body) { bytes in
                        dispatcher.dispatchInPlace(bytes, session: sender.session)
                    }
                    return handled ?? false
                }
                // Bit 2: on the room's own event loop (handled there at once), else forwarded to it.
                handled = message[0] & 4 != 0 ? (try? await group.next().submit(inPlace).get()) ?? false : inPlace()
                if handled { await sender.session.settleForwarded() }
            }
            // A text frame is UTF-8 (the server refuses others before dispatch).
            if !handled, let text = String(validating: body, as: UTF8.self) {
                _ = await self.dispatcher.dispatch(text, session: sender.session)
            }
            var sent: [[ByteBuffer]] = []
            for client in self.clients { sent.append(await client.drain()) }
            self.learnTokens(from: sent)
            return sent
        }

        /// Both drop, then their rooms end their reconnect windows at once, as an eviction does: a
        /// room left waiting for them would outlive the run, and libFuzzer then runs LeakSanitizer
        /// after every input (7 times slower).
        func close() async {
            let memberships = self.clients.map(\.session.membership)
            for case (let client, let membership?) in zip(self.clients, memberships) {
                await membership.room.drop(playerID: membership.playerID, connection: client.connection)
            }
            for case let membership? in memberships { await membership.room.enter { $0.evict() } }
            for client in self.clients { _ = await client.drain() }
        }
    }

    func run(_ input: [UInt8]) async throws(FuzzViolation) {
        let messages = input.split(separator: 0xFF).prefix(64).map(Array.init)
        var table = try await Table(self.dispatcher, group: self.group)
        var usualTable = try await Table(self.usualDispatcher, group: self.group)
        var comparison: RoomComparison? = RoomComparison(
            code: table.code, usualCode: usualTable.code, tokens: table.tokens, usualTokens: usualTable.tokens)
        var violation: FuzzViolation?
        for message in messages where violation == nil {
            let sent = await table.send(message, group: self.group)
            let sentTheUsualWay = await usualTable.send(message, group: self.group)
            for frame in (sent + sentTheUsualWay).joined() where violation == nil {
                violation = Self.inspect(frame, after: message.dropFirst())
            }
            switch comparison?.compare(sent, sentTheUsualWay, clients: ["host", "guest"]) {
            case .different(let difference)?: violation = FuzzViolation("\(difference), after \(shown(message))")
            case .inconclusive?: comparison = nil  // the rooms may part ways from here
            case .same?, nil: break
            }
        }
        await table.close()
        await usualTable.close()
        if let violation { throw violation }
    }

    /// What is wrong with a frame a client was sent, if anything.
    private static func inspect(_ frame: ByteBuffer, after message: ArraySlice<UInt8>) -> FuzzViolation? {
        let bytes = Array(frame.readableBytesView)
        guard case .object(let fields)? = try? JSONParser.parse(bytes, maxDepth: 200),
            let type = fields["type"]?.stringValue
        else { return FuzzViolation("sent \(shown(bytes)), no JSON object with a type, after \(shown(message))") }
        guard type == "error" else { return nil }
        guard let code = fields["code"]?.stringValue, Self.roomErrorCodes.contains(code),
            fields["message"]?.stringValue?.isEmpty == false
        else { return FuzzViolation("sent \(shown(bytes)), not an error of the protocol's, after \(shown(message))") }
        return nil
    }

    /// The codes of `RelayError` a room's built-in handlers may answer with (the plugins' aside).
    static let roomErrorCodes: Set<String> = [
        "already_in_room", "duplicate_player_id", "game_already_started", "invalid_field", "invalid_json",
        "invalid_message", "join_failed", "limit_exceeded", "missing_type", "not_host", "not_in_room",
        "rate_limited", "reconnect_failed", "server_full", "start_failed", "too_long", "unknown_type",
    ]
}

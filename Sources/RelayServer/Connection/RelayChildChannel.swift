import HTTPTypes
import Handlers
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Relay

/// The server's connections: HTTP/1.1 for the API, or, upgraded on `/ws/room/{room_id}`, a
/// room WebSocket (``RoomSocket``).
///
/// The HTTP side is hummingbird's. The upgrade follows hummingbird-websocket's
/// `HTTP1WebSocketUpgradeChannel`; what differs is what an upgraded connection becomes: NIO's
/// frame encoder and a ``RoomSocketHandler`` on the event loop, with a shallow reader and a
/// writer task, in place of hummingbird-websocket's handler with its own tasks and deep async
/// stack. That stack was more than half of an idle connection's memory.
struct RelayChildChannel: ServerChildChannel, HTTPChannelHandler {
    /// What a new connection turned out to be.
    enum Connection: Sendable {
        case webSocket(RoomSocket)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// It asked for a room socket the server refuses (a foreign Origin, or a proxied client over
        /// its per-address connection limit or opening rate), with why. (Indirect: the connection's task holds this
        /// value for its whole life; a WebSocket need not pay for it.)
        indirect case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, APIError)
    }

    struct Value: ServerChildChannelValue {
        let connection: EventLoopFuture<Connection>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let sockets: RoomSocketRoutes
    let settings: RoomSocketHandler.Settings
    let http1: HTTP1Channel.Configuration
    /// The largest request head, its target and headers together (larger: 400): what the old
    /// backend's server (uvicorn's h11) allowed. NIO's default, 80 KiB, let one request's query or
    /// path cost the parsers ~5–130 ms; the game's heads are a few hundred bytes.
    static let maxRequestHeadBytes = 16 * 1024
    /// How long a request may take to arrive (``HTTPDeadlines``).
    private let requestTimeout: TimeAmount
    /// How an answer must keep moving (``HTTPDeadlines``); a stall is timed by the same HTTP timeout.
    private let answerRules: AnswerTransfer.Rules
    /// Where a room socket through a trusted proxy is counted, at its upgrade.
    private let connections: ConnectionsPerAddress
    private let clients: ClientAddressPolicy
    /// The byte budgets room sockets share with the others of their client address.
    private let inboundBytes: InboundBytesPerAddress
    /// The caps on room sockets of loops that fall behind.
    private let busyLoops: BusyLoops
    /// Each client address's budget of HTTP requests.
    private let requestBudget: HTTPRequestBudget
    /// How often the closes a client can repeat are logged at their level.
    private let closeLogs: ClientCloseLogs

    init(
        responder: @escaping HTTPChannelHandler.Responder, sockets: RoomSocketRoutes,
        settings: RoomSocketHandler.Settings,
        limits: HTTPLimits, connections: ConnectionsPerAddress, clients: ClientAddressPolicy,
        inboundBytes: InboundBytesPerAddress, busyLoops: BusyLoops, requestBudget: HTTPRequestBudget,
        closeLogs: ClientCloseLogs
    ) {
        (self.connections, self.clients, self.inboundBytes) = (connections, clients, inboundBytes)
        (self.busyLoops, self.requestBudget, self.closeLogs) = (busyLoops, requestBudget, closeLogs)
        self.requestTimeout = TimeAmount(limits.idleTimeout)
        self.answerRules = AnswerTransfer.Rules(
            stallTimeout: TimeAmount(limits.idleTimeout), grace: TimeAmount(limits.slowAnswerGrace),
            minBytesPerSecond: limits.minAnswerBytesPerSecond)
        // No idle timeout of hummingbird's: it starts at an answer's last write and would close a
        // connection whose client is still downloading it; ``HTTPDeadlines`` times idle connections.
        self.http1 = HTTP1Channel.Configuration(
            idleTimeout: nil,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: Self.maxRequestHeadBytes, maxHeaderListSize: Self.maxRequestHeadBytes))
        self.responder = Self.closingOnLateUpgrades(to: ExpectContinue.answering(to: responder))
        self.sockets = sockets
        self.settings = settings
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let upgradeRefusal = NIOLoopBoundBox(APIError?.none, eventLoop: channel.eventLoop)
            let upgrader = RoomSocketUpgrader<Connection>(
                shouldUpgrade: { channel, head in
                    upgradeRefusal.value =
                        self.sockets.refusal(ofUpgrade: head)
                        ?? self.admitForwardedClient(on: channel, head, logger: logger)
                    return channel.eventLoop.makeSucceededFuture(upgradeRefusal.value == nil ? HTTPHeaders() : nil)
                },
                open: { channel, head in
                    DrainBeforeClose.remove(from: channel)  // room sockets close their own way
                    UndecodedBytesLimit.remove(from: channel)  // and bound their reads their own way
                    let client = self.clients.key(
                        ofPeer: channel.remoteAddress, forwardedFor: head.headers["X-Forwarded-For"])
                    return .webSocket(
                        try RoomSocket.open(
                            on: channel, roomID: RoomSocketRoutes.keptRoomID(inPath: head.uri),
                            dispatcher: self.sockets.dispatcher, registry: self.sockets.registry,
                            settings: self.settings, addressBudget: self.inboundBytes.share(for: client),
                            busyLoops: self.busyLoops, roomCreator: client.map(ClientAddress.roomCreator(ofLimitKey:)),
                            logger: logger))
                }
            )
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(upgraders: [upgrader]) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let asyncChannel = try self.startHTTP(on: channel, logger: logger)
                    return upgradeRefusal.value.map { .refusedUpgrade(asyncChannel, $0) } ?? .http(asyncChannel)
                }
            }
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Connection>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            configuration.enableErrorHandling = false  // hummingbird handles errors
            configuration.enableResponseHeaderValidation = false  // Swift HTTP Types validate already
            configuration.decoderConfiguration.maxHeaderFieldSize = self.http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = self.http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = self.http1.httpDecoder.maxHeaderFieldCount
            let connection = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: configuration)
            let undecodedBytes = UndecodedBytesLimit.handlers(logs: self.closeLogs.undecodedBytes, logger: logger)
            try channel.pipeline.syncOperations.addHandler(undecodedBytes.reads, position: .first)
            try channel.pipeline.syncOperations.addHandler(DrainBeforeClose(), position: .first)
            let upgradeHandler = try channel.pipeline.syncOperations.handler(
                type: NIOTypedHTTPServerUpgradeHandler<Connection>.self)
            let pacer = self.requestBudget.pacer(forPeer: channel.remoteAddress, logger: logger)
            // The pipeline, socket side first: DrainBeforeClose, UndecodedBytesLimit.reads, NIO's
            // HTTP decoder and encoder, then UndecodedBytesLimit.parts, HTTPRequestPacer (clients
            // that are counted), RequestHeadRules, AnswerConnectionHeader, FirstRequestGuard,
            // BodyPartCoalescer, HTTPDeadlines, EarlyAnswerEndsConnection, and NIO's upgrade handler.
            try channel.pipeline.syncOperations.addHandlers(
                [undecodedBytes.parts] + (pacer.map { [$0] } ?? [])
                    + [
                        RequestHeadRules(), AnswerConnectionHeader(), FirstRequestGuard(), BodyPartCoalescer(),
                        HTTPDeadlines(
                            requestTimeout: self.requestTimeout, answers: self.answerRules,
                            cutOffLogs: self.closeLogs.answerCutOff, logger: logger),
                        EarlyAnswerEndsConnection(),
                    ] as [any ChannelHandler],
                position: .before(upgradeHandler))
            return Value(connection: connection, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        let connection: Connection
        do {
            connection = try await value.connection.get()
        } catch let error as ChannelError where error == .inputClosed {
            return logger.trace("relay.connection.closed_before_request")
        } catch {
            // Neither an HTTP request nor an upgrade came whole: an unreadable head, or one cut
            // off by the request timeout (not only a failed upgrade: any first request goes
            // through the upgrade handler).
            logger.debug(
                "relay.connection.no_first_request", metadata: ["error": "\(Self.describe(firstRequestFailure: error))"]
            )
            return value.channel.close(promise: nil)
        }
        switch connection {
        case .webSocket(let socket): await socket.run()
        case .http(let http): await self.serveHTTP(http, logger: logger)
        case .refusedUpgrade(let http, let refusal): await Self.refuseUpgrade(on: http, with: refusal, logger: logger)
        }
    }

    /// NIO's upgrade handler fails with "Inappropriate operation for state" whenever the
    /// connection closes before a whole first request: a timeout, a reset or a close.
    private static func describe(firstRequestFailure error: any Error) -> String {
        guard let error = error as? ChannelError, error == .inappropriateOperationForState else { return "\(error)" }
        return "closed before a whole request came"
    }

    /// A room socket from a trusted proxy counts against the connections of the client the proxy
    /// names (the proxy's own connection was not counted as it was accepted); the refusal when
    /// that client has the most allowed.
    private func admitForwardedClient(on channel: any Channel, _ head: HTTPRequestHead, logger: Logger) -> APIError? {
        guard self.clients.isTrustedProxy(channel.remoteAddress) else {
            if head.headers.contains(name: "X-Forwarded-For") {
                self.clients.warnIfLoopbackProxyUnlisted(peer: channel.remoteAddress, logger: logger)
            }
            return nil
        }
        let forwardedFor = head.headers["X-Forwarded-For"]
        self.clients.warnIfProxyNamedNoClient(peer: channel.remoteAddress, forwardedFor: forwardedFor, logger: logger)
        let key = self.clients.key(ofPeer: channel.remoteAddress, forwardedFor: forwardedFor)
        return self.connections.admit(channel, key: key, logger: logger) ? nil : .tooManyConnections
    }

    /// hummingbird's HTTP handling, kept out of line: inlined, its async frame would be part of
    /// every WebSocket connection's, held for the connection's whole life.
    @inline(never)
    private func serveHTTP(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger) async {
        await self.handleHTTP(asyncChannel: http, logger: logger)
    }

    /// NIO upgrades only a connection's first request. A WebSocket upgrade asked for later on a
    /// kept-alive connection is not answered: the connection is closed, and the client, which
    /// reused a connection, retries on a fresh one. Reverse proxies with a pool of upstream
    /// connections do this (nginx with `keepalive`, Go's transport): they send a browser's
    /// upgrade on a pooled connection, and retry a request that fails there before any answer.
    /// A 307, as hummingbird-websocket answers, went back to the browser instead, whose
    /// WebSocket failed. Other requests go to `responder`; one that asks for another protocol
    /// (`h2c`) is answered, then its connection closed: NIO's parser reads nothing after a
    /// request that asks to upgrade, and the client's next request waited for the timeout.
    static func closingOnLateUpgrades(
        to responder: @escaping HTTPChannelHandler.Responder
    ) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            guard let upgrade = request.headers[.upgrade] else { return try await responder(request, writer, channel) }
            guard upgrade.lowercased() != "websocket" else { try await endAfterAnswersSent(on: channel) }
            try await responder(request, writer, channel)
            let connection = request.headers[values: .connection].flatMap { $0.split(separator: ",") }
            if connection.contains(where: { $0.withoutOptionalWhitespace.lowercased() == "upgrade" }) {
                try await endAfterAnswersSent(on: channel)
            }
        }
    }

    /// Ends the HTTP connection once the answers written so far have left for the socket, then
    /// throws to have hummingbird stop. It closes a connection at once on an error, which drops
    /// what is still queued: an 8 MB image pipelined before a late upgrade arrived as 270 KB. A
    /// half-close waits for the queued writes (``DrainBeforeClose`` sees to it when the client has
    /// half-closed too); ``HTTPDeadlines`` cuts a client that stopped reading, and a stop waits for
    /// one at most 5 s.
    private static func endAfterAnswersSent(on channel: any Channel) async throws -> Never {
        try? await channel.close(mode: .output).get()
        throw UpgradeOnKeptAliveConnection()
    }

    /// Ends the HTTP connection (hummingbird closes it on an error).
    struct UpgradeOnKeptAliveConnection: Error {}

    /// The HTTP/1.1 handlers hummingbird's own HTTP channel would add.
    private func startHTTP(
        on channel: any Channel, logger: Logger
    ) throws -> NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart> {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try pipeline.addHandlers(self.http1.additionalChannelHandlers())
        try pipeline.addHandler(HTTPConnectionStateHandler(logger: logger))
        // Reading stops at 3 request parts waiting (NIO's default: 10), and a body's parts are of
        // 16 KiB or one socket read (``BodyPartCoalescer``): a client streaming a body behind an
        // answer it did not read had the server hold 1.5–2.6 MiB of it per connection, now 0.1–0.2 MiB. A
        // request that is only a head and an end never waits for a read.
        return try NIOAsyncChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(
                backPressureStrategy: .init(lowWatermark: 1, highWatermark: 3), isOutboundHalfClosureEnabled: true))
    }

    /// Answers a refused upgrade as the API answers errors (JSON `detail`, the security headers:
    /// 403 for a foreign Origin, 429 for a proxied client over its connection limit or rate) and closes the
    /// connection. Written here, not by the router: NIO hands on a refused upgrade's request
    /// without its head. (Upgrades on other paths do not get here: ``FirstRequestGuard`` has them
    /// served as plain requests.)
    @inline(never)
    private static func refuseUpgrade(
        on http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, with refusal: APIError, logger: Logger
    ) async {
        do {
            let body = JSONResponse.encode(refusal.body)
            let headers = JSONResponse.closingRefusalHeaders(
                length: body.readableBytes, path: RoomSocketRoutes.pathPrefix)  // only room-socket paths get here
            try await http.executeThenClose { _, outbound in
                try await outbound.write(contentsOf: [
                    .head(HTTPResponse(status: refusal.status, headerFields: headers)), .body(body), .end(nil),
                ])
            }
        } catch {
            logger.trace("relay.connection.refusal_not_written", metadata: ["error": "\(error)"])
        }
    }
}

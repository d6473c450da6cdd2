import Handlers
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Persistence
import Relay
import ServiceLifecycle

/// Builds the HTTP application over already-opened stores.
///
/// `services` run beside the server and are shut down after it, so the store can
/// commit its last batch once no request can add to it. `busyLoops` measures the room sockets'
/// loops (made from the configuration's limits unless given).
func buildApplication(
    configuration: ServerConfiguration,
    scores: any ScoreStore,
    savedGames: any SavedGameStore,
    bosses: any BossCatalog,
    rooms: RoomRegistry,
    dispatcher: MessageDispatcher,
    services: [any Service],
    logger: Logger,
    busyLoops: BusyLoops? = nil,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let sockets = RoomSocketRoutes(dispatcher: dispatcher, registry: rooms, cors: configuration.cors)
    let requestBudget = HTTPRequestBudget(
        configuration.limits.requestsPerAddress, clients: configuration.clientAddresses,
        maxBodyBytes: configuration.limits.maxBodyBytes)
    let router = buildRouter(
        configuration: configuration, scores: scores, savedGames: savedGames, bosses: bosses, rooms: rooms,
        requestBudget: requestBudget)
    sockets.register(on: router)
    router.add(middleware: WrongMethodMiddleware(routes: router.routes))  // last: wraps only unrouted requests
    let closeLogs = ClientCloseLogs(interval: configuration.repeatedCloseLogInterval)
    let settings = RoomSocketHandler.Settings(
        maxMessageBytes: configuration.relay.maxFrameBytes, pingInterval: TimeAmount(configuration.relay.pingInterval),
        floodNotices: closeLogs.flooding, slowClientNotices: closeLogs.tooSlow,
        pingTimeoutNotices: closeLogs.pingUnanswered,
        messageAgeChecks: MessageAgeChecks(limit: configuration.relay.outboundQueueAgeLimit))
    let connectionsPerAddress = ConnectionsPerAddress(configuration.connectionsPerAddress)
    let inboundBytesPerAddress = InboundBytesPerAddress(limits: configuration.relay)
    let busyLoops = busyLoops ?? BusyLoops(limits: configuration.relay, logger: logger)
    let connectionCap = configuration.maxConnections.map {
        ConnectionCap(maximum: $0, knownToFit: configuration.connectionsKnownToFit, logger: logger)
    }
    let acceptFilter = PerAddressAcceptFilter(
        connections: connectionsPerAddress, clients: configuration.clientAddresses, logger: logger)
    return Application(
        router: router,
        server: HTTPServerBuilder { responder in
            PerAddressLimitChannel(
                base: SmallReadBufferChannel(
                    base: RelayChildChannel(
                        responder: responder, sockets: sockets, settings: settings, limits: configuration.limits,
                        connections: connectionsPerAddress, clients: configuration.clientAddresses,
                        inboundBytes: inboundBytesPerAddress, busyLoops: busyLoops,
                        requestBudget: requestBudget, closeLogs: closeLogs)),
                connections: connectionsPerAddress, clients: configuration.clientAddresses)
        },
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: nil,
            availableConnectionsDelegate: connectionCap),
        services: services,
        onServerRunning: { serverChannel in
            if let connectionCap {
                connectionCap.listening.take(serverChannel, perWakeUp: connectionCap.acceptsPerWakeUp)
            }
            await acceptFilter.install(on: serverChannel)
            await onServerRunning(serverChannel)
        },
        eventLoopGroupProvider: .shared(rooms.eventLoopGroup),  // the rooms' loops
        logger: logger
    )
}

/// The routes and middleware of PROTOCOL.md §1.
func buildRouter(
    configuration: ServerConfiguration,
    scores: any ScoreStore,
    savedGames: any SavedGameStore,
    bosses: any BossCatalog,
    rooms: RoomRegistry,
    requestBudget: HTTPRequestBudget
) -> Router<RelayRequestContext> {
    // FastAPI (Starlette) answers HEAD wherever it answers GET: the same status and headers (NIO
    // sends no body for a HEAD, whatever answers it).
    let router = Router(context: RelayRequestContext.self, options: .autoGenerateHeadEndpoints)
    // Outermost first: every answer, errors and preflights included, gets the headers.
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: CORSPolicyMiddleware(policy: configuration.cors))
    router.add(middleware: JSONErrorMiddleware())
    // Before the guards and preflights, which answer without going further: they are counted too.
    router.add(
        middleware: ProxiedRequestBudgetMiddleware(
            requests: requestBudget.requests, clients: configuration.clientAddresses))
    router.add(middleware: CORSPreflightMiddleware(policy: configuration.cors))
    router.add(middleware: EmptyPathSegmentGuard())
    router.add(middleware: FetchMetadataGuard())
    // FastAPI redirects in its router, once its middleware has run.
    router.add(middleware: TrailingSlashRedirect(clients: configuration.clientAddresses))

    router.get("/") { _, _ in try JSONResponse.message("JumpJumpJump API is running!") }

    let keyed = router.group()
        .add(middleware: APIKeyMiddleware(apiKey: configuration.apiKey))
        .add(
            middleware: WriteBudgetMiddleware(
                writes: RatePerAddress(configuration.limits.writesPerAddress), clients: configuration.clientAddresses))
    ScoreRoutes(store: scores, limits: configuration.limits).register(on: keyed)
    SavedGameRoutes(store: savedGames, limits: configuration.limits).register(on: keyed)
    BossRoutes(catalog: bosses, images: BossImages(directory: configuration.bossImagesDirectory))
        .register(keyed: keyed, open: router)
    RoomListRoutes(
        registry: rooms, budget: RatePerAddress(configuration.limits.roomListsPerAddress),
        clients: configuration.clientAddresses
    ).register(on: router)
    return router
}

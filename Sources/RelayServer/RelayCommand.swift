import ArgumentParser
import Foundation
import Handlers
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Persistence
import Relay
import ServiceLifecycle

/// `relay`: the JumpJumpJump game backend (HTTP API + WebSocket rooms) on one port.
/// Started through ``RelayServerBuilder``, which adds the in-process message handlers.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "JumpJumpJump game backend: leaderboard, save games, boss gallery and online rooms.",
        discussion: """
            Environment (a flag wins over its variable):
              API_KEY            key for the X-API-Key routes (generated and printed when unset)
              HOST, PORT         address and port (127.0.0.1, 8000)
              DATA_DIR           folder of game.db (./data)
              BOSS_IMAGES_DIR    folder of boss_NN.png (./assets/bosses)
              ALLOWED_ORIGINS    comma list of browser origins (http://localhost:3000,http://localhost:5173)
              ALLOW_ALL_ORIGINS  true: any origin, without credentials
              PLUGINS_DIR        folder of plugin executables (./plugins)
              LOG_LEVEL          trace, debug, info (default), notice, warning, error, critical
              FORWARDED_ALLOW_IPS  proxies trusted to name the client (127.0.0.0/8,::1)
              NIO_SINGLETON_GROUP_LOOP_COUNT  event loops, 1–1024 (one per CPU the process may use)
            A number outside its option's range stops the server at start, naming the range.
            """
    )

    @Option(help: "Address to bind (env HOST). Use 0.0.0.0 to accept other machines.")
    var host: String?

    @Option(help: "Port for HTTP and WebSocket (env PORT).")
    var port: Int?

    @Option(help: "Folder holding game.db (env DATA_DIR).")
    var dataDir: String?

    @Option(help: "Folder holding boss_NN.png (env BOSS_IMAGES_DIR).")
    var bossImagesDir: String?

    @Option(help: "Commit a batch of writes once it holds this many.")
    var batchSize: Int = 256

    @Option(help: "…or this many milliseconds after its first write; 0 commits as soon as the writer is free.")
    var batchWindowMs: Int = 0

    @Option(help: "Writes waiting beyond this many are refused with 503.")
    var writeQueueCapacity: Int = 10_000

    @Option(help: "Game modes whose leaderboards are kept in memory; the others are read from SQLite.")
    var gameModesInMemory: Int = 1_000

    @Option(help: "SQLite synchronous mode: full (survives a power loss) or normal (a crash only; faster).")
    var sync: String = "full"

    @Option(help: "Largest accepted HTTP request body in bytes (larger gets 413).")
    var maxBodyBytes: Int = 16 * 1024

    @Option(
        help:
            "Seconds a request's head may take to arrive, counted from when the server waits for it (also the HTTP keep-alive idle time), then its body as long again; and an answer may go without a byte taken by the client."
    )
    var httpIdleTimeoutSeconds: Int = 30

    @Option(
        help: "Seconds an HTTP answer may take before its average rate is held to --http-min-answer-bytes-per-second.")
    var httpAnswerGraceSeconds: Int = 10

    @Option(
        help:
            "Lowest average rate, in bytes per second, of an HTTP answer still being sent after the grace period; a slower client is disconnected (0: no minimum)."
    )
    var httpMinAnswerBytesPerSecond: Int = 4 * 1024

    @Option(
        help:
            "Most open connections, HTTP and WebSocket; more wait to be accepted. Default: the open-file limit less 128, 5 an event loop and 8 a plugin, at least a quarter of it."
    )
    var maxConnections: Int?

    @Option(
        help:
            "Most open connections from one client address, loopback aside; more are closed at once (room sockets through a trusted proxy: 429). 0: no limit."
    )
    var maxConnectionsPerAddress: Int = 256

    // The three rates are read as decimals (``decimalNumber(_:)``); the help of an option read
    // through a transform shows no default, so theirs are written in.
    @Option(
        help:
            "New connections a second each client address may open, in bursts of 16 seconds' worth; more are closed at once (room sockets through a trusted proxy: 429). Loopback not counted; 0: no limit. (default: 16)",
        transform: Self.decimalNumber
    )
    var newConnectionsPerSecondPerAddress: Double = 16

    @Option(
        help:
            "Writes (scores, saves, deletes) a second each client address may make, in bursts of six seconds' worth; more get 429. Loopback not counted; 0: no limit. (default: 10)",
        transform: Self.decimalNumber
    )
    var writesPerSecondPerAddress: Double = 10

    @Option(
        help:
            "HTTP requests a second each client address may make, in bursts of a minute's worth; more wait their turn, and the address's connections are not read meanwhile (a client behind a trusted proxy gets 429 instead). Loopback not counted; 0: no limit. (default: 100)",
        transform: Self.decimalNumber
    )
    var httpRequestsPerSecondPerAddress: Double = 100

    @Flag(
        help:
            "Count loopback clients for the per-address limits too, to load-test them from this machine. Loopback peers stay trusted proxies unless --forwarded-allow-ips says otherwise."
    )
    var countLoopback = false

    @Option(
        help:
            "Reverse proxies whose X-Forwarded-For names the client for the per-address limits, as uvicorn's option: comma-separated addresses and networks (10.0.0.0/8), * for every peer, '' for none. Default (also FORWARDED_ALLOW_IPS): 127.0.0.0/8,::1."
    )
    var forwardedAllowIps: String?

    @Option(help: "Most players a room may ask for with max_players (rooms default to 2).")
    var maxPlayersPerRoom: Int = 8

    @Option(help: "Most live rooms on this server.")
    var maxRooms: Int = 10_000

    @Option(
        help:
            "Rooms one client address may have open that it created; create_room past it gets limit_exceeded. Loopback not counted; 0: no limit."
    )
    var maxRoomsPerAddress: Int = 128

    @Option(
        help:
            "Bytes of JSON every room's enemies, coins and power-ups may hold together; past it spawns get limit_exceeded."
    )
    var maxEntityBytesPerServer: Int = 1 << 30

    @Option(help: "Seconds a dropped player may take to reconnect.")
    var reconnectWindowSeconds: Int = 60

    @Option(
        help:
            "Sustained WebSocket messages per second per connection, state relays aside (burst: twice this; ten times this refused within 10 s closes with 1008)."
    )
    var messagesPerSecond: Int = 2_000

    @Option(
        help:
            "Sustained player_state and enemy_state messages per second per connection, a budget of their own: past it they are shed without an error (burst: twice this; ten times this shed within 10 s closes with 1008)."
    )
    var stateMessagesPerSecond: Int = 10_000

    @Option(
        help:
            "Sustained bytes per second read from each WebSocket connection, frames of every kind together (burst: a quarter of this, and at least one largest message); past it the server reads nothing more from that connection until its budget refills, so its client's sends wait in TCP, and nothing is refused."
    )
    var inboundBytesPerSecond: Int = 2 << 20

    @Option(
        help:
            "Sustained bytes per second read from all the WebSocket connections of one client address together, each frame counting 256 bytes more (burst: a quarter of this, and at least one largest message); past it none of them reads more until the budget refills. Loopback not counted; 0: no limit."
    )
    var inboundBytesPerSecondPerAddress: Int = 16 << 20

    @Option(
        help:
            "While an event loop falls behind, each WebSocket connection on it is capped, the cap halving until the loop catches up: the least it goes down to, in bytes per second, counted as the per-address budget is. Only connections sending more are slowed. 0: never capped."
    )
    var busyLoopInboundBytesPerSecond: Int = 64 << 10

    @Option(help: "Largest WebSocket message in bytes (larger closes with 1009).")
    var maxFrameBytes: Int = 64 * 1024

    @Option(help: "Outbound messages queued for a slow client before it is disconnected (close 4000).")
    var outboundQueueFrames: Int = 4_096

    @Option(help: "Outbound bytes queued for a slow client before it is disconnected (close 4000); at least 65536.")
    var outboundQueueBytes: Int = 1 << 20

    @Option(
        help:
            "Seconds a message may wait for a slow client, queued or unacknowledged, before the client is disconnected (close 4000). 0: no limit."
    )
    var outboundQueueSeconds: Int = 10

    @Option(
        help:
            "Seconds between checks of the memory the allocator keeps once freed (a burst's, slow clients' queues); 16 MiB or more is given back to the system. 0: never."
    )
    var memoryTrimSeconds: Int = 10

    @Option(
        help:
            "Outbound bytes all slow clients' queues may hold together past 128 KiB each; past it, one past its 128 KiB that would grow is disconnected (close 4000)."
    )
    var maxOutboundBytesPerServer: Int = 1 << 30

    @Option(
        help:
            "Seconds between the server's WebSocket pings; a client that has not answered one by the next is closed with 1001."
    )
    var pingIntervalSeconds: Int = 30

    @Option(help: "Longest chat message, in Unicode code points (an emoji with a skin tone is two).")
    var maxChatLength: Int = 500

    @Option(help: "Folder whose executable files are started as plugins (env PLUGINS_DIR).")
    var pluginsDir: String?

    @Option(help: "A plugin executable to start, besides those of the plugins folder (repeatable).")
    var plugin: [String] = []

    @Option(help: "Milliseconds a plugin may take to answer a message (then plugin_timeout).")
    var pluginTimeoutMs: Int = 100

    @Option(help: "Seconds a starting plugin may take to send its hello line (then the start fails).")
    var pluginStartupTimeoutSeconds: Int = 5

    func run() async throws {
        EventLoopThreads.configure()
        try await self.run(handlers: BuiltInHandlers.all, filters: [])
    }

    /// Runs the server with these in-process `handlers` and `filters` beside the plugins'.
    func run(
        handlers: [any MessageHandler], filters: [any MessageFilter], observers: [any RoomObserver] = []
    ) async throws {
        // Before the first line is logged: a log on a pipe whose reader has gone (`relay | tee`,
        // the tee stopped) must cost lost lines, not the process. NIO ignores SIGPIPE only once
        // it opens its first socket (on Linux; never on Darwin), and the start logs before that.
        signal(SIGPIPE, SIG_IGN)
        let environment = ProcessInfo.processInfo.environment
        try Self.checkLoopCount(environment: environment)
        let openFileLimit = OpenFileLimit.raiseSoftLimitToHard()
        // swift-log's format, written by a thread of its own: a log nobody reads must not hold up
        // what logs (an event loop, and every room on it).
        var logger = Logger(label: "relay") { StreamLogHandler(label: $0, stream: QueuedStandardError.shared) }
        logger.handler = OneLineLogHandler(wrapping: logger.handler)
        logger.logLevel = try Self.logLevel(environment: environment)
        // Two in-process handlers of one type stop the start before anything opens (status 3, as
        // for the plugins' claims).
        do {
            _ = try MessageDispatcher(handlers: handlers)
        } catch {
            logger.critical("relay.startup.failed", metadata: ["error": "\(error)"])
            throw ExitCode(3)
        }

        var configuration = try self.configuration(environment: environment, openFileLimit: openFileLimit)
        let uncounted = configuration.clientAddresses.loopbackAddressesCountedOnlyThroughProxyHeaders
        if !uncounted.isEmpty {
            logger.warning(
                "relay.count_loopback.loopback_is_a_trusted_proxy",
                metadata: [
                    "effect":
                        "a client on \(uncounted.joined(separator: " or ")) without X-Forwarded-For is not counted",
                    "fix": "add --forwarded-allow-ips '' to count loopback clients by their own address",
                ])
        }
        // From here on a SIGINT, SIGTERM or SIGHUP (the terminal closed) stops the server in
        // order, also while it starts.
        let stopSignals = StopSignals(Self.stopSignalNumbers(), logger: logger)
        defer { stopSignals.cancel() }
        // Found now, as the default connection cap keeps descriptors for each plugin; started
        // later. (After the signals: a folder on a slow mount must not leave a stop uncaught.)
        let pluginExecutables = configuration.pluginExecutables(logger: logger)
        // Read once the entry point has sized the group (`EventLoopThreads`): reading fixes it.
        let eventLoops = NIOSingletons.groupLoopCountSuggestion
        let fewestFiles = ConnectionCap.minimumOpenFileLimit(plugins: pluginExecutables.count, eventLoops: eventLoops)
        if let openFileLimit, openFileLimit < fewestFiles {
            logger.critical(
                "relay.failed",
                metadata: [
                    "error": .string(
                        "the open-file limit is \(openFileLimit) (ulimit -n, its hard limit), below the \(fewestFiles) "
                            + "this relay needs to start with \(Self.count(eventLoops, "event loop")) and "
                            + "\(Self.count(pluginExecutables.count, "plugin")): raise it")
                ])
            throw ExitCode(1)
        }
        if let shortage = ThreadHeadroom.check() {
            logger.critical(
                "relay.failed",
                metadata: [
                    "error": .string(
                        "the process could run only \(shortage.running + shortage.started) threads (errno "
                            + "\(shortage.error) starting one more): a process limit (ulimit -u for a user other than "
                            + "root, a container's pids.max, systemd's TasksMax) leaves fewer than the "
                            + "\(ThreadHeadroom.required()) this relay needs room for: raise it")
                ])
            throw ExitCode(1)
        }
        ThreadHeadroom.startThreadsUsedLater(limits: configuration.relay)
        if let openFileLimit {
            let fits = ConnectionCap.defaultMaximum(
                openFileLimit: openFileLimit, plugins: pluginExecutables.count, eventLoops: eventLoops)
            configuration.connectionsKnownToFit = fits
            configuration.maxConnections = self.maxConnections ?? fits
        }
        if let warning = self.connectionCapWarning(
            openFileLimit: openFileLimit, plugins: pluginExecutables.count, eventLoops: eventLoops)
        {
            logger.warning("relay.connections.max_above_file_limit", metadata: warning)
        }
        do {
            try ListeningProbe.check(host: configuration.host, port: configuration.port)
        } catch {
            logger.critical("relay.failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let store: SQLiteGameStore
        do {
            store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
        } catch {
            logger.critical("relay.startup.failed", metadata: ["error": "\(error)"])
            throw ExitCode(2)
        }
        // A signal that came while the store opened (a migration, a lock) waited for it: the start
        // ends here, before a key is printed or a plugin started, nothing written.
        if let signal = stopSignals.waitingSignal {
            logger.notice("relay.startup.interrupted", metadata: ["signal": "\(signal)"])
            await store.close()
            return
        }
        configuration.warnOfAPublicAPIKey(logger: logger)
        if configuration.apiKeyWasGenerated {
            // Once the store is open: a relay that cannot start (another one uses the data
            // directory) printed a key that worked nowhere. Written at once: through `print`, a
            // piped or redirected stdout (a container, systemd) would hold the key in its buffer
            // until the server exits, and lose it to a SIGKILL. A key nobody could read would
            // leave a server that takes no writes: it does not start. (`write(_:)` trapped on the
            // error, and a closed pipe's SIGPIPE killed it silently before it was ignored at the
            // top of `run`; now the write fails, and the start ends below with status 1.)
            do {
                try FileHandle.standardOutput.write(
                    contentsOf: Data("API_KEY is not set; this run's generated key is: \(configuration.apiKey)\n".utf8))
            } catch {
                logger.critical(
                    "relay.startup.failed",
                    metadata: ["error": "the generated API key cannot be printed (\(error)); set API_KEY"])
                await store.close()
                throw ExitCode(1)
            }
        }
        do {
            try await PluginHost.withPlugins(
                pluginExecutables, settings: configuration.pluginSettings,
                builtIns: handlers,
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger, stopSignals: stopSignals
            ) { plugins in
                let dispatcher = try MessageDispatcher(
                    handlers: handlers + plugins.handlers, filters: filters + plugins.filters)
                // The plugins hear a room's events after the in-process observers have acted on them.
                let rooms = RoomRegistry(
                    limits: configuration.relay, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
                    observers: observers + plugins.observers)
                let app = buildApplication(
                    configuration: configuration, scores: store, savedGames: store, bosses: store,
                    rooms: rooms, dispatcher: dispatcher, services: [store] + configuration.memoryTrim(logger: logger),
                    logger: logger
                )
                logger.info("relay.starting", metadata: configuration.startingMetadata(openFileLimit: openFileLimit))
                configuration.warnIfBossImagesAreMissing(logger: logger)
                // The server's graceful shutdown on a stop signal, from the sources caught since
                // the start (hummingbird's own would install new ones, leaving a moment uncaught).
                let server = ServiceGroup(
                    configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
                // A task bridges the signal's callback to the group's async trigger. (A later
                // signal ends the process at once: ``StopEscalation``.)
                stopSignals.onSignal { _ in
                    // The server waits for the answers of writes waiting out `--batch-window-ms`.
                    Task { await store.stopBatching() }
                    Task { await server.triggerGracefulShutdown() }
                }
                try await server.run()
            }
        } catch let error as PluginStartupInterrupted {
            // Asked to stop before serving: the plugins are stopped, nothing was written.
            logger.notice("relay.startup.interrupted", metadata: ["signal": "\(error.signal)"])
            await store.close()
        } catch let error as PluginStartupError {
            try await Self.abandon(store, because: "\(error)", logger: logger)
        } catch let error as PluginConflictError {
            try await Self.abandon(store, because: "\(error)", logger: logger)
        } catch let error as MessageDispatcher.RegistrationError {
            // An in-process filter for a type that neither a handler nor a plugin answers.
            try await Self.abandon(store, because: "\(error)", logger: logger)
        } catch {
            // The server could not start (a port in use, for which hummingbird has closed the store
            // already) or failed: the store commits what it has and closes in order before the exit.
            logger.critical("relay.failed", metadata: ["error": "\(error)"])
            await store.close()
            throw error
        }
    }

    /// SIGINT, SIGTERM, and SIGHUP unless the relay was started ignoring it (`nohup`, a shell's
    /// `trap "" HUP`): a Dispatch source for it installs a handler, which would undo the ignore,
    /// and the relay would stop when its terminal closed.
    static func stopSignalNumbers() -> [Int32] {
        var hangUp = sigaction()
        sigaction(SIGHUP, nil, &hangUp)
        #if canImport(Glibc)
            let handler = hangUp.__sigaction_handler.sa_handler
        #else
            let handler = hangUp.__sigaction_u.__sa_handler
        #endif
        // Compares the two function pointers' addresses, which is all C's `==` would do.
        let ignored = unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
        return ignored ? [SIGINT, SIGTERM] : [SIGINT, SIGTERM, SIGHUP]
    }

    /// Stops at start-up: closes the store and exits with status 3.
    private static func abandon(_ store: SQLiteGameStore, because reason: String, logger: Logger) async throws -> Never
    {
        logger.critical("relay.startup.failed", metadata: ["error": "\(reason)"])
        await store.close()
        throw ExitCode(3)
    }
}

import ArgumentParser
import Foundation
import Handlers
import Hummingbird
import Logging
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

    @Option(help: "SQLite synchronous mode: normal (survives a crash) or full (also power loss).")
    var sync: String = "normal"

    @Option(help: "Largest accepted HTTP request body in bytes (larger gets 413).")
    var maxBodyBytes: Int = 16 * 1024

    @Option(
        help:
            "Seconds a request (head and body) may take to arrive whole, counted from when the server waits for it (also the HTTP keep-alive idle time), and an answer may go without a byte taken by the client."
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
            "Most open connections, HTTP and WebSocket; more wait to be accepted. Default: the open-file limit less 128, at least a quarter of it."
    )
    var maxConnections: Int?

    @Option(
        help:
            "Most open connections from one client address, loopback aside; more are closed at once (room sockets through a trusted proxy: 429). 0: no limit."
    )
    var maxConnectionsPerAddress: Int = 256

    @Option(
        help:
            "New connections a second each client address may open, in bursts of 16 seconds' worth; more are closed at once (room sockets through a trusted proxy: 429). Loopback not counted; 0: no limit."
    )
    var newConnectionsPerSecondPerAddress: Double = 16

    @Option(
        help:
            "Writes (scores, saves, deletes) a second each client address may make, in bursts of six seconds' worth; more get 429. Loopback not counted; 0: no limit."
    )
    var writesPerSecondPerAddress: Double = 10

    @Option(
        help:
            "HTTP requests a second each client address may make, in bursts of a minute's worth; more wait their turn, and the address's connections are not read meanwhile (a client behind a trusted proxy gets 429 instead). Loopback not counted; 0: no limit."
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
            "Seconds between the server's WebSocket pings; a client that has not answered one by the next is closed with 1001."
    )
    var pingIntervalSeconds: Int = 30

    @Option(help: "Longest chat message in characters.")
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
        try await self.run(handlers: BuiltInHandlers.all, filters: [])
    }

    /// Runs the server with these in-process `handlers` and `filters` beside the plugins'.
    func run(handlers: [any MessageHandler], filters: [any MessageFilter]) async throws {
        // Two in-process handlers of one type stop the start before anything opens.
        _ = try MessageDispatcher(handlers: handlers)
        EventLoopThreads.configure()
        let openFileLimit = OpenFileLimit.raiseSoftLimitToHard()
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "relay")
        logger.logLevel = try Self.logLevel(environment: environment)

        let configuration = try self.configuration(environment: environment, openFileLimit: openFileLimit)
        if configuration.apiKeyWasGenerated {
            // Written at once: through `print`, a piped or redirected stdout (a container, systemd)
            // would hold the key in its buffer until the server exits, and lose it to a SIGKILL.
            FileHandle.standardOutput.write(
                Data("API_KEY is not set; this run's generated key is: \(configuration.apiKey)\n".utf8))
        }
        if let warning = self.connectionCapWarning(openFileLimit: openFileLimit) {
            logger.warning("relay.connections.max_above_file_limit", metadata: warning)
        }
        // From here on a SIGINT, SIGTERM or SIGHUP (the terminal closed) stops the server in
        // order, also while it starts.
        let stopSignals = StopSignals(Self.stopSignalNumbers(), logger: logger)
        defer { stopSignals.cancel() }
        let store: SQLiteGameStore
        do {
            store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
        } catch {
            logger.critical("relay.startup.failed", metadata: ["error": "\(error)"])
            throw ExitCode(2)
        }
        let rooms = RoomRegistry(
            limits: configuration.relay, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        do {
            try await PluginHost.withPlugins(
                configuration.pluginExecutables(logger: logger), settings: configuration.pluginSettings,
                builtIns: handlers,
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger, stopSignals: stopSignals
            ) { plugins in
                let dispatcher = try MessageDispatcher(
                    handlers: handlers + plugins.handlers, filters: filters + plugins.filters)
                let app = buildApplication(
                    configuration: configuration, scores: store, savedGames: store, bosses: store,
                    rooms: rooms, dispatcher: dispatcher, services: [store], logger: logger
                )
                logger.info("relay.starting", metadata: configuration.startingMetadata(openFileLimit: openFileLimit))
                configuration.warnIfBossImagesAreMissing(logger: logger)
                // The server's graceful shutdown on SIGINT/SIGTERM, from the sources caught since
                // the start (hummingbird's own would install new ones, leaving a moment uncaught).
                let server = ServiceGroup(
                    configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
                // A task bridges the signal's callback to the group's async trigger. (A later
                // signal ends the process at once: ``StopEscalation``.)
                stopSignals.onSignal { _ in Task { await server.triggerGracefulShutdown() } }
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
        } catch {
            // The server could not start (a filter for a type nobody handles; a port in use, for
            // which hummingbird has closed the store already) or failed: the store commits what it
            // has and closes in order before the exit.
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

    /// `LOG_LEVEL`, `info` when unset; a value that is not a level is refused rather than ignored.
    static func logLevel(environment: [String: String]) throws -> Logger.Level {
        guard let text = environment["LOG_LEVEL"] else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("LOG_LEVEL must be one of \(levels), not '\(text)'")
        }
        return level
    }

    /// What to warn of when `--max-connections` leaves fewer descriptors below the open-file limit
    /// than ``ConnectionCap/reservedFileDescriptors``: at the cap, SQLite, plugin restarts and boss
    /// images would fail for want of one (EMFILE), with nothing saying why. Nil when it fits, or
    /// when the cap is the default (a quarter of a tiny limit is not the operator's to change).
    func connectionCapWarning(openFileLimit: Int?) -> Logger.Metadata? {
        guard let maxConnections = self.maxConnections, let openFileLimit,
            maxConnections > openFileLimit - ConnectionCap.reservedFileDescriptors
        else { return nil }
        return [
            "connections.max": "\(maxConnections)", "files.limit": "\(openFileLimit)",
            "hint": .string(
                "keep --max-connections \(ConnectionCap.reservedFileDescriptors) below the open-file limit "
                    + "(ulimit -n), or raise that limit"),
        ]
    }

    /// A folder or address from its flag, else its variable; nil when neither is given. An empty one
    /// is refused: `DATA_DIR=${DATA_DIR}` in a compose file with nothing to fill in put `game.db` in
    /// the current folder, a fresh leaderboard, and `PLUGINS_DIR=` would start its executables.
    /// Nor is one with a space, a line break or a byte-order mark at either end (`DATA_DIR=" "`
    /// made a folder named by a space, and a fresh leaderboard in it; a secret file's last line
    /// break comes along), nor one starting with `~`, which no shell expanded (systemd's
    /// `Environment=`, a compose file): `DATA_DIR=~/relay` opened a fresh `./~/relay/game.db`.
    static func nonEmpty(
        _ flag: String?, _ option: String, or variable: String, in environment: [String: String]
    ) throws -> String? {
        if let flag {
            guard !flag.isEmpty else { throw ValidationError("--\(option) must not be empty") }
            guard !flag.hasWhitespaceAtAnEnd else {
                throw ValidationError("--\(option) '\(flag)' has a space or a line break at its start or end")
            }
            guard !flag.hasPrefix("~") else {
                throw ValidationError(
                    "--\(option) '\(flag)' starts with ~, which is not expanded here: give the full path")
            }
            return flag
        }
        guard let value = environment[variable] else { return nil }
        guard !value.isEmpty else {
            throw ValidationError("\(variable) is set but empty: unset it for the default, or give it a value")
        }
        guard !value.hasWhitespaceAtAnEnd else {
            throw ValidationError("\(variable) '\(value)' has a space or a line break at its start or end")
        }
        guard !value.hasPrefix("~") else {
            throw ValidationError(
                "\(variable) '\(value)' starts with ~, which is not expanded here: give the full path")
        }
        return value
    }

    /// `API_KEY`, if set: printable ASCII with no space at either end. The game could never send
    /// another (header values lose the spaces at their ends, and a browser sends other characters
    /// as Latin-1): `API_KEY` from a secret file with its last line break refused every request,
    /// with nothing logged. The message does not show the key.
    static func apiKey(in environment: [String: String]) throws -> String? {
        guard let key = environment["API_KEY"], !key.isEmpty else { return nil }
        guard key.utf8.allSatisfy({ (0x20...0x7E).contains($0) }), !key.hasWhitespaceAtAnEnd else {
            throw ValidationError(
                "API_KEY must be printable ASCII with no space at either end (a line break at its end, from a "
                    + "secret file? a browser could not send it)")
        }
        return key
    }

    /// Merges flags over environment over defaults. `openFileLimit` (the process's, when known)
    /// sets the default connection cap. The numbers are in their ranges (``validate()``).
    func configuration(environment: [String: String], openFileLimit: Int? = nil) throws -> ServerConfiguration {
        let dataDirectory = try Self.nonEmpty(self.dataDir, "data-dir", or: "DATA_DIR", in: environment) ?? "./data"
        let providedKey = try Self.apiKey(in: environment)
        var configuration = ServerConfiguration(apiKey: providedKey ?? generateAPIKey(), dataDirectory: dataDirectory)
        configuration.apiKeyWasGenerated = providedKey == nil
        try self.applyServing(to: &configuration, environment: environment)
        try self.applyHTTPLimits(to: &configuration, environment: environment, openFileLimit: openFileLimit)
        configuration.persistence = try self.persistence(in: dataDirectory)
        self.applyRelayLimits(to: &configuration.relay)
        try self.applyPlugins(to: &configuration, environment: environment)
        return configuration
    }

    /// Where the server listens, its boss images, and the browser origins it answers.
    private func applyServing(to configuration: inout ServerConfiguration, environment: [String: String]) throws {
        configuration.host = try Self.nonEmpty(self.host, "host", or: "HOST", in: environment) ?? configuration.host
        if let port = try self.port
            ?? environment["PORT"].map({ text in
                // A typo must not start the server on another port than the operator meant.
                guard let port = Int(text) else {
                    throw ValidationError("PORT must be an integer 0…65535, not '\(text)'")
                }
                return port
            })
        {
            configuration.port = port
        }
        guard (0...65_535).contains(configuration.port) else {
            throw ValidationError("\(self.port == nil ? "PORT" : "--port") must be 0…65535, not \(configuration.port)")
        }
        if let named = try Self.nonEmpty(self.bossImagesDir, "boss-images-dir", or: "BOSS_IMAGES_DIR", in: environment)
        {
            configuration.bossImagesDirectory = named
            configuration.bossImagesDirectoryWasNamed = true
        }
        // Read as the old backend read it (`true` in any case), but a value that is neither `true`
        // nor `false` is a typo to report, not a quiet `false` that leaves the game's page refused.
        if let text = environment["ALLOW_ALL_ORIGINS"], !text.isEmpty, !["true", "false"].contains(text.lowercased()) {
            throw ValidationError("ALLOW_ALL_ORIGINS must be true or false, not '\(text)'")
        }
        configuration.cors = try CORSPolicy(environment: environment)
    }

    /// The connection caps, the per-address limits and whom they count, and the HTTP bounds.
    private func applyHTTPLimits(
        to configuration: inout ServerConfiguration, environment: [String: String], openFileLimit: Int?
    ) throws {
        configuration.maxConnections =
            self.maxConnections ?? openFileLimit.map(ConnectionCap.defaultMaximum(openFileLimit:))
        configuration.connectionsPerAddress.maximum =
            self.maxConnectionsPerAddress > 0 ? self.maxConnectionsPerAddress : .max
        configuration.connectionsPerAddress.openings = .connections(perSecond: self.newConnectionsPerSecondPerAddress)
        configuration.limits.maxBodyBytes = self.maxBodyBytes
        configuration.limits.writesPerAddress = .writes(perSecond: self.writesPerSecondPerAddress)
        configuration.limits.requestsPerAddress = .requests(perSecond: self.httpRequestsPerSecondPerAddress)
        configuration.clientAddresses.countsLoopback = self.countLoopback
        if let proxies = self.forwardedAllowIps ?? environment["FORWARDED_ALLOW_IPS"] {
            do {
                configuration.clientAddresses.trustedProxies = try TrustedProxies(parsing: proxies)
            } catch {
                throw ValidationError(
                    "\(self.forwardedAllowIps == nil ? "FORWARDED_ALLOW_IPS" : "--forwarded-allow-ips"): \(error)")
            }
        }
        configuration.limits.idleTimeout = .seconds(self.httpIdleTimeoutSeconds)
        configuration.limits.slowAnswerGrace = .seconds(self.httpAnswerGraceSeconds)
        configuration.limits.minAnswerBytesPerSecond = self.httpMinAnswerBytesPerSecond
    }

    /// The SQLite store in `dataDirectory`, batched and synchronous as asked.
    private func persistence(in dataDirectory: String) throws -> PersistenceConfiguration {
        guard let synchronous = PersistenceConfiguration.SynchronousMode(rawValue: self.sync.uppercased()) else {
            throw ValidationError("--sync must be normal or full")
        }
        return PersistenceConfiguration(
            databasePath: ServerConfiguration.databasePath(in: dataDirectory),
            maxBatchSize: self.batchSize,
            flushInterval: .milliseconds(self.batchWindowMs),
            writeQueueCapacity: self.writeQueueCapacity,
            synchronous: synchronous,
            gameModesInMemory: self.gameModesInMemory
        )
    }

    /// Rooms, message rates and queues of the relay; bursts and flood thresholds follow the rates.
    private func applyRelayLimits(to relay: inout RelayLimits) {
        relay.maxPlayersPerRoom = self.maxPlayersPerRoom
        relay.maxRooms = self.maxRooms
        relay.maxEntityBytesPerServer = self.maxEntityBytesPerServer
        relay.reconnectWindow = .seconds(self.reconnectWindowSeconds)
        relay.messagesPerSecond = Double(self.messagesPerSecond)
        relay.messageBurst = Double(self.messagesPerSecond * 2)
        relay.floodCloseThreshold = self.messagesPerSecond * 10
        relay.stateMessagesPerSecond = Double(self.stateMessagesPerSecond)
        relay.stateMessageBurst = Double(self.stateMessagesPerSecond * 2)
        relay.stateFloodCloseThreshold = self.stateMessagesPerSecond * 10
        relay.inboundBytesPerSecond = self.inboundBytesPerSecond
        relay.inboundByteBurst = self.inboundBytesPerSecond / 4
        relay.inboundBytesPerSecondPerAddress = self.inboundBytesPerSecondPerAddress
        relay.busyLoopInboundBytesPerSecond = self.busyLoopInboundBytesPerSecond
        relay.maxFrameBytes = self.maxFrameBytes
        relay.outboundQueueFrames = self.outboundQueueFrames
        relay.outboundQueueBytes = self.outboundQueueBytes
        relay.maxChatLength = self.maxChatLength
        relay.pingInterval = .seconds(self.pingIntervalSeconds)
    }

    /// The plugin folder, the plugins named one by one, and their timeouts.
    private func applyPlugins(to configuration: inout ServerConfiguration, environment: [String: String]) throws {
        if let named = try Self.nonEmpty(self.pluginsDir, "plugins-dir", or: "PLUGINS_DIR", in: environment) {
            configuration.pluginsDirectory = named
            configuration.pluginsDirectoryWasNamed = true
        }
        configuration.plugins = self.plugin.map { PluginExecutable(path: $0) }
        configuration.pluginSettings.requestTimeout = .milliseconds(self.pluginTimeoutMs)
        configuration.pluginSettings.startupTimeout = .seconds(self.pluginStartupTimeoutSeconds)
    }
}

extension String {
    /// Whether it starts or ends with a space, a tab, a line break or a byte-order mark (an env
    /// file saved by a Windows editor).
    fileprivate var hasWhitespaceAtAnEnd: Bool {
        [self.first, self.last].contains { $0.map { $0.isWhitespace || $0 == "\u{FEFF}" } == true }
    }
}

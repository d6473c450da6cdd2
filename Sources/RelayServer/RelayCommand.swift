import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Persistence

/// `relay`: the JumpJumpJump game backend (HTTP API + WebSocket rooms) on one port.
@main
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
              LOG_LEVEL          trace, debug, info (default), notice, warning, error, critical
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

    @Option(help: "SQLite synchronous mode: normal (survives a crash) or full (also power loss).")
    var sync: String = "normal"

    @Option(help: "Largest accepted HTTP request body in bytes (larger gets 413).")
    var maxBodyBytes: Int = 16 * 1024

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "relay")
        logger.logLevel = environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        let configuration = try self.configuration(environment: environment)
        if configuration.apiKeyWasGenerated {
            print("API_KEY is not set; this run's generated key is: \(configuration.apiKey)")
        }
        let store: SQLiteGameStore
        do {
            store = try await SQLiteGameStore.open(configuration.persistence, logger: logger)
        } catch {
            logger.critical("relay.startup.failed", metadata: ["error": "\(error)"])
            throw ExitCode(2)
        }
        let app = buildApplication(
            configuration: configuration, scores: store, savedGames: store, bosses: store,
            services: [store], logger: logger
        )
        logger.info(
            "relay.starting",
            metadata: ["http.host": "\(configuration.host)", "http.port": "\(configuration.port)"]
        )
        try await app.runService()
    }

    /// Merges flags over environment over defaults.
    func configuration(environment: [String: String]) throws -> ServerConfiguration {
        let dataDirectory = self.dataDir ?? environment["DATA_DIR"] ?? "./data"
        let providedKey = environment["API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        var configuration = ServerConfiguration(apiKey: providedKey ?? generateAPIKey(), dataDirectory: dataDirectory)
        configuration.apiKeyWasGenerated = providedKey == nil
        configuration.host = self.host ?? environment["HOST"] ?? configuration.host
        if let port = self.port ?? environment["PORT"].flatMap(Int.init) {
            configuration.port = port
        }
        guard (0...65_535).contains(configuration.port) else {
            throw ValidationError("port must be 0…65535")
        }
        configuration.bossImagesDirectory =
            self.bossImagesDir ?? environment["BOSS_IMAGES_DIR"] ?? configuration.bossImagesDirectory
        configuration.cors = CORSPolicy(environment: environment)
        configuration.limits.maxBodyBytes = self.maxBodyBytes
        guard let synchronous = PersistenceConfiguration.SynchronousMode(rawValue: self.sync.uppercased()) else {
            throw ValidationError("--sync must be normal or full")
        }
        configuration.persistence = PersistenceConfiguration(
            databasePath: ServerConfiguration.databasePath(in: dataDirectory),
            maxBatchSize: self.batchSize,
            flushInterval: .milliseconds(self.batchWindowMs),
            writeQueueCapacity: self.writeQueueCapacity,
            synchronous: synchronous
        )
        return configuration
    }
}

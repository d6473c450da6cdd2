import ArgumentParser
import Foundation
import Handlers
import Logging
import Persistence
import Relay

/// The configuration the server runs with: flags over environment over defaults, each value
/// checked before anything starts.
extension RelayCommand {
    /// `LOG_LEVEL`, `info` when unset; a value that is not a level is refused rather than ignored.
    static func logLevel(environment: [String: String]) throws -> Logger.Level {
        guard let text = try Self.setValue("LOG_LEVEL", in: environment) else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("LOG_LEVEL must be one of \(levels), not '\(text)'")
        }
        return level
    }

    /// `NIO_SINGLETON_GROUP_LOOP_COUNT`, which NIO reads itself, when set: NIO takes a value that
    /// is not a number for none (one loop per CPU) and moves others into 1…1024, so a typo went
    /// unnoticed. Refused here instead, as any other value that cannot be read.
    static func checkLoopCount(environment: [String: String]) throws {
        guard let text = try Self.setValue("NIO_SINGLETON_GROUP_LOOP_COUNT", in: environment) else { return }
        guard let count = Int(text), (1...1024).contains(count) else {
            throw ValidationError("NIO_SINGLETON_GROUP_LOOP_COUNT must be a whole number from 1 to 1024, not '\(text)'")
        }
    }

    /// What to warn of when `--max-connections` leaves fewer descriptors below the open-file limit
    /// than ``ConnectionCap/reserve(plugins:eventLoops:)``: at the cap, SQLite, plugin
    /// restarts and boss images would fail for want of one (EMFILE), with nothing saying why. Nil
    /// when it fits, or when the cap is the default (a quarter of a tiny limit is not the
    /// operator's to change).
    func connectionCapWarning(openFileLimit: Int?, plugins: Int = 0, eventLoops: Int) -> Logger.Metadata? {
        let reserve = ConnectionCap.reserve(plugins: plugins, eventLoops: eventLoops)
        guard let maxConnections = self.maxConnections, let openFileLimit, maxConnections > openFileLimit - reserve
        else { return nil }
        let lower = openFileLimit > reserve ? ", or lower --max-connections to \(openFileLimit - reserve)" : ""
        return [
            "connections.max": "\(maxConnections)", "files.limit": "\(openFileLimit)",
            "hint": .string(
                "the relay keeps \(reserve) descriptors beside its connections "
                    + "(\(ConnectionCap.reservedFileDescriptors), \(ConnectionCap.reservedPerEventLoop) an event loop "
                    + "and \(ConnectionCap.reservedPerPlugin) a plugin): raise the open-file limit to "
                    + "\(maxConnections + reserve) (ulimit -n)\(lower); past the default cap new connections wait "
                    + "while fewer than \(ConnectionCap.freeDescriptorsToAccept) descriptors are free"),
        ]
    }

    /// `count` and `noun`, in the plural unless there is one (`1 event loop`, `3 plugins`).
    static func count(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    /// A folder or address from its flag, else its variable; nil when neither is given. Refused:
    /// an empty one (`DATA_DIR=${DATA_DIR}` in a compose file with nothing to fill in would put
    /// `game.db` in the current folder), one with a space, a line break or a byte-order mark at
    /// either end (a secret file's last line break), and one starting with `~`, which nothing
    /// expands here (systemd's `Environment=`): each would open a fresh database somewhere else.
    static func nonEmpty(
        _ flag: String?, _ option: String, or variable: String, in environment: [String: String]
    ) throws -> String? {
        if let flag {
            guard !flag.isEmpty else { throw ValidationError("--\(option) must not be empty") }
            try Self.checkEnds(of: flag, named: "--\(option)")
            return flag
        }
        guard let value = try Self.setValue(variable, in: environment) else { return nil }
        try Self.checkEnds(of: value, named: variable)
        return value
    }

    /// `variable`'s value, nil when unset. Empty is refused, with a message saying so, for the
    /// variables without a meaning for empty: a number, a level, a folder or a host
    /// (``nonEmpty(_:_:or:in:)``). (An empty `API_KEY` or `ALLOW_ALL_ORIGINS` is unset, an empty
    /// list none.)
    static func setValue(_ variable: String, in environment: [String: String]) throws -> String? {
        guard let value = environment[variable] else { return nil }
        guard !value.isEmpty else {
            throw ValidationError("\(variable) is set but empty: unset it for the default, or give it a value")
        }
        return value
    }

    /// Refuses a path or host padded with whitespace, or starting with `~` (``nonEmpty(_:_:or:in:)``).
    private static func checkEnds(of value: String, named name: String) throws {
        guard !value.hasWhitespaceAtAnEnd else {
            throw ValidationError(
                "\(name) '\(value)' has a space, a line break or a byte-order mark at its start or end")
        }
        guard !value.hasPrefix("~") else {
            throw ValidationError("\(name) '\(value)' starts with ~, which is not expanded here: write it out in full")
        }
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
        configuration.memoryTrimInterval = .seconds(self.memoryTrimSeconds)
        try self.applyPlugins(to: &configuration, environment: environment)
        return configuration
    }

    /// Where the server listens, its boss images, and the browser origins it answers.
    private func applyServing(to configuration: inout ServerConfiguration, environment: [String: String]) throws {
        configuration.host = try Self.nonEmpty(self.host, "host", or: "HOST", in: environment) ?? configuration.host
        if let port = try self.port
            ?? Self.setValue("PORT", in: environment).map({ text in
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
        // The default for no plugins and one event loop: `run` lowers it by the reserve of the
        // plugins it finds and the loops it runs.
        configuration.maxConnections =
            self.maxConnections ?? openFileLimit.map { ConnectionCap.defaultMaximum(openFileLimit: $0, eventLoops: 1) }
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
            throw ValidationError("--sync must be normal or full, not '\(self.sync)'")
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
        relay.maxRoomsPerAddress = self.maxRoomsPerAddress > 0 ? self.maxRoomsPerAddress : .max
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
        relay.outboundQueueAgeLimit = .seconds(self.outboundQueueSeconds)
        relay.maxOutboundBytesPerServer = self.maxOutboundBytesPerServer
        relay.maxChatLength = self.maxChatLength
        relay.pingInterval = .seconds(self.pingIntervalSeconds)
    }

    /// The plugin folder, the plugins named one by one, and their timeouts.
    private func applyPlugins(to configuration: inout ServerConfiguration, environment: [String: String]) throws {
        if let named = try Self.nonEmpty(self.pluginsDir, "plugins-dir", or: "PLUGINS_DIR", in: environment) {
            configuration.pluginsDirectory = named
            configuration.pluginsDirectoryWasNamed = true
        }
        // Checked as the folder is: a mistake stops the start at once, not after the store opens.
        configuration.plugins = try self.plugin.map { path in
            guard !path.isEmpty else { throw ValidationError("--plugin must not be empty") }
            try Self.checkEnds(of: path, named: "--plugin")
            return PluginExecutable(path: path)
        }
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

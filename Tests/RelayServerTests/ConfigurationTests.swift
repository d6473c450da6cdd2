import ArgumentParser
import Foundation
import Logging
import RecordedLogs
import Relay
import Testing

@testable import RelayServer

@Suite("Configuration from flags and environment")
struct ConfigurationTests {
    @Test("Defaults: 127.0.0.1:8000, ./data/game.db, ./assets/bosses, generated key")
    func defaults() throws {
        let command = try RelayCommand.parse([])
        let configuration = try command.configuration(environment: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8000)
        #expect(configuration.persistence.databasePath == "./data/game.db")
        #expect(configuration.bossImagesDirectory == "./assets/bosses")
        #expect(configuration.apiKeyWasGenerated)
        #expect(configuration.apiKey.count == 64)
        #expect(configuration.apiKey.allSatisfy { $0.isHexDigit })
        #expect(configuration.cors == CORSPolicy(allowedOrigins: CORSPolicy.defaultOrigins, allowAllOrigins: false))
        #expect(configuration.persistence.maxBatchSize == 256)
        #expect(configuration.persistence.synchronous == .full)
        #expect(configuration.relay.pingInterval == .seconds(30))
    }

    @Test("Relay limits default to the documented values, in RelayLimits() and from the command line")
    func relayDefaults() throws {
        let fromFlags = try RelayCommand.parse([]).configuration(environment: [:]).relay
        for limits in [RelayLimits(), fromFlags] {
            // PROTOCOL.md: 60 s reconnect window, 64 KiB frames, 2 players, 500-character chat, 100 coins a kill.
            #expect(limits.reconnectWindow == .seconds(60))
            #expect(limits.maxFrameBytes == 65_536)
            #expect(limits.defaultPlayersPerRoom == 2)
            #expect(limits.maxChatLength == 500)
            #expect(limits.maxCoinReward == 100)
            // README's flag table.
            #expect(limits.maxPlayersPerRoom == 8)
            #expect(limits.maxRooms == 10_000)
            #expect(limits.maxRoomsPerAddress == 128)
            #expect(limits.maxEntityBytesPerServer == 1_073_741_824)
            #expect(limits.maxEntityBytesPerRoom == 1_048_576)
            #expect(limits.messagesPerSecond == 2_000)
            #expect(limits.messageBurst == 4_000)
            #expect(limits.floodCloseThreshold == 20_000)
            #expect(limits.stateMessagesPerSecond == 10_000)
            #expect(limits.stateMessageBurst == 20_000)
            #expect(limits.stateFloodCloseThreshold == 100_000)
            #expect(limits.inboundBytesPerSecond == 2_097_152 && limits.inboundByteBurst == 524_288)
            #expect(limits.inboundBytesPerSecondPerAddress == 16_777_216)
            #expect(limits.busyLoopInboundBytesPerSecond == 65_536)
            #expect(limits.outboundQueueFrames == 4_096)
            #expect(limits.outboundQueueBytes == 1_048_576)
            #expect(limits.maxOutboundBytesPerServer == 1_073_741_824)
            #expect(limits.outboundBytesEveryConnectionMayHold == 131_072)
            #expect(limits.pingInterval == .seconds(30))
        }
    }

    @Test("--max-entity-bytes-per-server reaches the relay's limits")
    func entityBytesFlag() throws {
        let relay = try RelayCommand.parse(["--max-entity-bytes-per-server", "100000"]).configuration(environment: [:])
            .relay
        #expect(relay.maxEntityBytesPerServer == 100_000)
    }

    @Test("Generated keys differ between runs")
    func generatedKeysDiffer() {
        #expect(generateAPIKey() != generateAPIKey())
    }

    @Test("The environment is read with the old backend's names")
    func environment() throws {
        let configuration = try RelayCommand.parse([]).configuration(environment: [
            "API_KEY": "secret", "PORT": "9001", "DATA_DIR": "/srv/game", "BOSS_IMAGES_DIR": "/srv/art",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example", "HOST": "0.0.0.0",
        ])
        #expect(configuration.apiKey == "secret")
        #expect(!configuration.apiKeyWasGenerated)
        #expect(configuration.port == 9001)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.persistence.databasePath == "/srv/game/game.db")
        #expect(configuration.bossImagesDirectory == "/srv/art")
        #expect(configuration.cors.allowedOrigins == ["https://a.example", "https://b.example"])
        #expect(!configuration.cors.allowAllOrigins)
    }

    @Test("Flags win over the environment")
    func flagsWin() throws {
        let command = try RelayCommand.parse([
            "--host", "127.0.0.2", "--port", "8100", "--data-dir", "/tmp/x", "--batch-size", "32",
            "--batch-window-ms", "5", "--sync", "normal", "--max-body-bytes", "2000", "--ping-interval-seconds", "5",
            "--http-idle-timeout-seconds", "7", "--game-modes-in-memory", "12",
        ])
        let configuration = try command.configuration(environment: ["PORT": "9001", "DATA_DIR": "/srv/game"])
        #expect(configuration.host == "127.0.0.2")
        #expect(configuration.port == 8100)
        #expect(configuration.persistence.databasePath == "/tmp/x/game.db")
        #expect(configuration.persistence.maxBatchSize == 32)
        #expect(configuration.persistence.flushInterval == .milliseconds(5))
        #expect(configuration.persistence.synchronous == .normal)
        #expect(configuration.persistence.gameModesInMemory == 12)
        #expect(try RelayCommand.parse([]).configuration(environment: [:]).persistence.gameModesInMemory == 1_000)
        #expect(configuration.limits.maxBodyBytes == 2000)
        #expect(configuration.relay.pingInterval == .seconds(5))
        #expect(configuration.limits.idleTimeout == .seconds(7))
        #expect(try RelayCommand.parse([]).configuration(environment: [:]).limits.idleTimeout == .seconds(30))
    }

    /// Each numeric option, set to a value no default has, read back from where the server takes
    /// it. The table must name every option ``RelayCommand/numericRanges`` knows, so a new option
    /// whose value goes nowhere fails here.
    @Test("Every numeric option reaches the configuration the server runs with")
    func everyNumericOptionIsApplied() throws {
        let applied: [String: (value: String, isApplied: (ServerConfiguration) -> Bool)] = [
            "batch-size": ("77", { $0.persistence.maxBatchSize == 77 }),
            "batch-window-ms": ("9", { $0.persistence.flushInterval == .milliseconds(9) }),
            "write-queue-capacity": ("123", { $0.persistence.writeQueueCapacity == 123 }),
            "game-modes-in-memory": ("12", { $0.persistence.gameModesInMemory == 12 }),
            "max-body-bytes": ("2000", { $0.limits.maxBodyBytes == 2_000 }),
            "http-idle-timeout-seconds": ("7", { $0.limits.idleTimeout == .seconds(7) }),
            "http-answer-grace-seconds": ("3", { $0.limits.slowAnswerGrace == .seconds(3) }),
            "http-min-answer-bytes-per-second": ("1000", { $0.limits.minAnswerBytesPerSecond == 1_000 }),
            "max-connections": ("50", { $0.maxConnections == 50 }),
            "max-connections-per-address": ("9", { $0.connectionsPerAddress.maximum == 9 }),
            "new-connections-per-second-per-address": ("2.5", { $0.connectionsPerAddress.openings.perSecond == 2.5 }),
            "writes-per-second-per-address": ("3.5", { $0.limits.writesPerAddress.perSecond == 3.5 }),
            "http-requests-per-second-per-address": ("7.5", { $0.limits.requestsPerAddress.perSecond == 7.5 }),
            "max-players-per-room": ("5", { $0.relay.maxPlayersPerRoom == 5 }),
            "max-rooms": ("33", { $0.relay.maxRooms == 33 }),
            "max-rooms-per-address": ("5", { $0.relay.maxRoomsPerAddress == 5 }),
            "max-entity-bytes-per-server": ("100000", { $0.relay.maxEntityBytesPerServer == 100_000 }),
            "reconnect-window-seconds": ("17", { $0.relay.reconnectWindow == .seconds(17) }),
            "messages-per-second": (
                "40",
                {
                    $0.relay.messagesPerSecond == 40 && $0.relay.messageBurst == 80
                        && $0.relay.floodCloseThreshold == 400
                }
            ),
            "state-messages-per-second": (
                "50",
                {
                    $0.relay.stateMessagesPerSecond == 50 && $0.relay.stateMessageBurst == 100
                        && $0.relay.stateFloodCloseThreshold == 500
                }
            ),
            "inbound-bytes-per-second": (
                "4096", { $0.relay.inboundBytesPerSecond == 4_096 && $0.relay.inboundByteBurst == 1_024 }
            ),
            "inbound-bytes-per-second-per-address": ("5000", { $0.relay.inboundBytesPerSecondPerAddress == 5_000 }),
            "busy-loop-inbound-bytes-per-second": ("3000", { $0.relay.busyLoopInboundBytesPerSecond == 3_000 }),
            "max-frame-bytes": ("2048", { $0.relay.maxFrameBytes == 2_048 }),
            "outbound-queue-frames": ("64", { $0.relay.outboundQueueFrames == 64 }),
            "outbound-queue-bytes": ("70000", { $0.relay.outboundQueueBytes == 70_000 }),
            "outbound-queue-seconds": ("3", { $0.relay.outboundQueueAgeLimit == .seconds(3) }),
            "memory-trim-seconds": ("4", { $0.memoryTrimInterval == .seconds(4) }),
            "max-outbound-bytes-per-server": ("100000", { $0.relay.maxOutboundBytesPerServer == 100_000 }),
            "ping-interval-seconds": ("5", { $0.relay.pingInterval == .seconds(5) }),
            "max-chat-length": ("42", { $0.relay.maxChatLength == 42 }),
            "plugin-timeout-ms": ("250", { $0.pluginSettings.requestTimeout == .milliseconds(250) }),
            "plugin-startup-timeout-seconds": ("9", { $0.pluginSettings.startupTimeout == .seconds(9) }),
        ]
        let known = try RelayCommand.parse(["--max-connections", "50"]).numericRanges.map(\.option)
        #expect(Set(applied.keys) == Set(known))
        let defaults = try RelayCommand.parse([]).configuration(environment: [:], openFileLimit: 1_024)
        for (option, (value, isApplied)) in applied {
            let configuration = try RelayCommand.parse(["--\(option)", value]).configuration(environment: [:])
            // (Read outside `#expect`, which would print the whole configuration.)
            let (set, byDefault) = (isApplied(configuration), isApplied(defaults))
            #expect(set, "--\(option) \(value) is not applied")
            #expect(!byDefault, "--\(option)'s test value must differ from its default")
        }
    }

    @Test("--max-rooms-per-address 0 sets no limit")
    func roomsPerAddressOff() throws {
        let relay = try RelayCommand.parse(["--max-rooms-per-address", "0"]).configuration(environment: [:]).relay
        #expect(relay.maxRoomsPerAddress == .max)
    }

    /// At the cap, SQLite, plugins and boss images would find no descriptor left, with nothing saying why.
    @Test("A connection cap leaving under 128 descriptors below the file limit, 5 a loop, 8 a plugin, is warned of")
    func connectionCapAboveTheFileLimit() throws {
        func warning(
            _ arguments: [String], openFileLimit: Int?, plugins: Int = 0, eventLoops: Int = 0
        ) throws -> Logger.Metadata? {
            try RelayCommand.parse(arguments).connectionCapWarning(
                openFileLimit: openFileLimit, plugins: plugins, eventLoops: eventLoops)
        }
        #expect(try warning(["--max-connections", "5000"], openFileLimit: 1_024) != nil)
        #expect(try warning(["--max-connections", "897"], openFileLimit: 1_024) != nil)
        #expect(try warning(["--max-connections", "896"], openFileLimit: 1_024) == nil)
        #expect(try warning(["--max-connections", "896"], openFileLimit: 1_024, plugins: 2) != nil, "8 a plugin")
        #expect(try warning(["--max-connections", "880"], openFileLimit: 1_024, plugins: 2) == nil)
        #expect(try warning(["--max-connections", "880"], openFileLimit: 1_024, eventLoops: 4) != nil, "5 a loop")
        #expect(try warning(["--max-connections", "876"], openFileLimit: 1_024, eventLoops: 4) == nil)
        #expect(try warning(["--max-connections", "5000"], openFileLimit: nil) == nil)
        // Only a cap the operator set: the default for a tiny limit (a quarter of it) is not theirs to change.
        #expect(try warning([], openFileLimit: 100) == nil)
        #expect(try warning(["--max-connections", "25"], openFileLimit: 100) != nil)
    }

    /// A leaderboard longer than memory keeps is a scan of the whole table: the longest the API
    /// serves must be one memory answers.
    @Test("The longest leaderboard the API serves is held in memory")
    func leaderboardLimitFitsMemory() throws {
        let configuration = try RelayCommand.parse([]).configuration(environment: [:])
        #expect(configuration.limits.maxLeaderboardLimit <= configuration.persistence.inMemoryLeaderboardLength)
    }

    @Test("An HTTP answer's grace period and minimum rate: README's defaults, set by their flags, 0 for no rate")
    func answerRateFlags() throws {
        for limits in [HTTPLimits(), try RelayCommand.parse([]).configuration(environment: [:]).limits] {
            #expect(limits.slowAnswerGrace == .seconds(10))
            #expect(limits.minAnswerBytesPerSecond == 4_096)
        }
        let limits = try RelayCommand.parse([
            "--http-answer-grace-seconds", "3", "--http-min-answer-bytes-per-second", "1000",
        ]).configuration(environment: [:]).limits
        #expect(limits.slowAnswerGrace == .seconds(3) && limits.minAnswerBytesPerSecond == 1_000)
        let lowest = try RelayCommand.parse([
            "--http-answer-grace-seconds", "1", "--http-min-answer-bytes-per-second", "0",
        ]).configuration(environment: [:]).limits
        #expect(lowest.slowAnswerGrace == .seconds(1) && lowest.minAnswerBytesPerSecond == 0)
        #expect(throws: (any Error).self) { try RelayCommand.parse(["--http-answer-grace-seconds", "0"]) }
        #expect(throws: (any Error).self) { try RelayCommand.parse(["--http-min-answer-bytes-per-second=-5"]) }
    }

    @Test("Plugins come from the folder (flag over PLUGINS_DIR over ./plugins) and from each --plugin")
    func pluginOptions() throws {
        let defaults = try RelayCommand.parse([]).configuration(environment: [:])
        #expect(defaults.pluginsDirectory == "./plugins")
        #expect(!defaults.pluginsDirectoryWasNamed)
        #expect(defaults.plugins.isEmpty)
        #expect(defaults.pluginSettings.requestTimeout == .milliseconds(100))
        #expect(defaults.pluginSettings.startupTimeout == .seconds(5))

        let fromEnvironment = try RelayCommand.parse([]).configuration(environment: ["PLUGINS_DIR": "/srv/plugins"])
        #expect(fromEnvironment.pluginsDirectory == "/srv/plugins")
        #expect(fromEnvironment.pluginsDirectoryWasNamed)

        let configuration = try RelayCommand.parse([
            "--plugins-dir", "/opt/plugins", "--plugin", "/bin/a", "--plugin", "/bin/b", "--plugin-timeout-ms", "250",
            "--plugin-startup-timeout-seconds", "30",
        ]).configuration(environment: ["PLUGINS_DIR": "/srv/plugins"])
        #expect(configuration.pluginSettings.startupTimeout == .seconds(30))
        #expect(configuration.pluginsDirectory == "/opt/plugins")
        #expect(configuration.plugins.map(\.path) == ["/bin/a", "/bin/b"])
        #expect(configuration.pluginSettings.requestTimeout == .milliseconds(250))
        let executables = configuration.pluginExecutables(logger: Logger(label: "test"))
        #expect(executables.map(\.path) == ["/bin/a", "/bin/b"], "a missing folder adds none")
    }

    @Test("--help names every flag and environment variable of README's configuration table")
    func helpNamesWhatTheReadmeLists() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let rows = try String(contentsOf: readme, encoding: .utf8).split(separator: "\n")
            .drop { !$0.hasPrefix("| flag | environment") }.prefix { $0.hasPrefix("|") }.dropFirst(2)
        let help = RelayCommand.helpMessage(columns: 1_000)
        var names: [String] = []
        for row in rows {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            }
            names += cells[1...2].filter { !$0.isEmpty }.flatMap { $0.components(separatedBy: "`, `") }
        }
        #expect(names.count > 40, "the table was found: \(names)")
        for name in names { #expect(help.contains(name), "\(name) is not in --help") }
    }

    @Test("A plugin file whose name is not UTF-8 is not started, and named in a warning")
    func aPluginFileNamedInAnotherEncodingIsLogged() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plugins-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Latin-1's "dés.sh".
        let latin1 = Array(folder.path.utf8) + Array("/d".utf8) + [0xE9] + Array("s.sh".utf8) + [0]
        let descriptor = open(latin1.map { CChar(bitPattern: $0) }, O_CREAT | O_WRONLY, 0o755)
        // A file system that takes only UTF-8 names (macOS's APFS) refuses it: nothing to check.
        guard descriptor >= 0 else {
            #expect(errno == EILSEQ)
            return
        }
        close(descriptor)
        let records = RecordedLogs()
        let configuration = try RelayCommand.parse(["--plugins-dir", folder.path]).configuration(environment: [:])
        #expect(configuration.pluginExecutables(logger: Logger(label: "test") { _ in records }).isEmpty)
        let warning = try #require(records.entries.first)
        #expect(warning.message == "relay.plugins.name_not_utf8" && warning.level == .warning)
        #expect(warning.metadata["files"] == "d\u{FFFD}s.sh")
    }

    @Test("What keeps a plugins folder's files from starting is logged: a named folder missing, no execute permission")
    func pluginFolderProblemsAreLogged() throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        _ = try RelayCommand.parse([]).configuration(environment: [:]).pluginExecutables(logger: logger)
        #expect(records.entries.isEmpty, "the default folder's absence is no news")
        let typo = try RelayCommand.parse(["--plugins-dir", "/nonexistent/plugnis"]).configuration(environment: [:])
        #expect(typo.pluginExecutables(logger: logger).isEmpty)
        #expect(records.entries.map(\.message) == ["relay.plugins.folder_missing"])
        #expect(records.entries.first?.level == .warning)
        let unreadable = RecordedLogs()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plugins-\(UInt64.random(in: 0 ... .max))")
        try "not a folder".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let notAFolder = try RelayCommand.parse(["--plugins-dir", file.path]).configuration(environment: [:])
        #expect(notAFolder.pluginExecutables(logger: Logger(label: "test") { _ in unreadable }).isEmpty)
        #expect(unreadable.entries.map(\.message) == ["relay.plugins.folder_unreadable"], "not missing: a file")
        #expect(unreadable.entries.first?.metadata["error"] == "Not a directory")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plugins-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, mode) in [
            ("dice.sh", 0o755), ("hello.sh", 0o644), ("README.md", 0o644), (".notes", 0o644), ("dice.sh~", 0o755),
        ] {
            let path = folder.appendingPathComponent(name).path
            try "#!/bin/sh\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, mode_t(mode))
        }
        let configuration = try RelayCommand.parse(["--plugins-dir", folder.path]).configuration(environment: [:])
        #expect(configuration.pluginExecutables(logger: logger).map(\.description) == ["dice.sh"])
        let skipped = try #require(records.entries.dropLast().last)
        #expect(skipped.message == "relay.plugins.not_executable")
        #expect(skipped.metadata["files"] == "README.md, hello.sh", "hidden files are nobody's plugins")
        let backup = try #require(records.entries.last)
        #expect(backup.message == "relay.plugins.backup_skipped")
        #expect(backup.level == .notice)
        #expect(backup.metadata["files"] == "dice.sh~", "an editor's copy, executable as the file it copies")
        #expect(records.entries.count == 3)

        // The folder's plugin named again, by another spelling of its path: started once.
        let again = try RelayCommand.parse([
            "--plugins-dir", folder.path, "--plugin", folder.appendingPathComponent("dice.sh").path, "--plugin",
            folder.path + "/./dice.sh",
        ]).configuration(environment: [:])
        #expect(again.pluginExecutables(logger: logger).map(\.description) == ["dice.sh"])
        #expect(records.entries.last?.message == "relay.plugins.named_twice")
    }

    @Test("API_KEY set to the old backend's public default is warned of at start; another key is not")
    func publicAPIKeyIsWarnedOf() throws {
        for (key, warned) in [("your-secret-api-key-here", true), ("a-secret", false), (nil, false)] {
            let records = RecordedLogs()
            let environment = key.map { ["API_KEY": $0] } ?? [:]
            let configuration = try RelayCommand.parse([]).configuration(environment: environment)
            configuration.warnOfAPublicAPIKey(logger: Logger(label: "test") { _ in records })
            #expect(records.entries.map(\.message) == (warned ? ["relay.api_key.public"] : []), "\(key ?? "unset")")
            #expect(records.entries.allSatisfy { $0.level == .warning })
            #expect(!records.entries.contains { "\($0.metadata)".contains("your-secret") }, "the key is not logged")
        }
    }

    @Test("A boss images folder with no boss_NN.png to read is logged at start, a warning when named")
    func missingBossImagesAreLogged() throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        let named = try RelayCommand.parse(["--boss-images-dir", "/nonexistent/bosses"]).configuration(environment: [:])
        named.warnIfBossImagesAreMissing(logger: logger)
        #expect(records.entries.map(\.message) == ["relay.boss_images.missing"])
        #expect(records.entries.first?.level == .warning)
        #expect(records.entries.first?.metadata["folder"] == "/nonexistent/bosses")
        let byDefault = try RelayCommand.parse([]).configuration(environment: [:])
        #expect(byDefault.bossImagesFolder.hasPrefix("/") && byDefault.bossImagesFolder.hasSuffix("/assets/bosses"))

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bosses-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let present = try RelayCommand.parse(["--boss-images-dir", folder.path]).configuration(environment: [:])
        present.warnIfBossImagesAreMissing(logger: logger)
        #expect(records.entries.count == 2, "an empty folder is as good as none")
        try Data([0x89]).write(to: folder.appendingPathComponent("boss_22.png"))
        present.warnIfBossImagesAreMissing(logger: logger)
        #expect(records.entries.count == 3, "past the catalogue's 22")
        try Data([0x89]).write(to: folder.appendingPathComponent("boss_03.png"))
        present.warnIfBossImagesAreMissing(logger: logger)
        #expect(records.entries.count == 3)
    }

    /// The defaults are relative to the working folder (`/` under systemd), and a plugins folder
    /// found there starts its executables unasked: the start says where both are.
    @Test("relay.starting names the boss images and plugins folders from the root")
    func startingNamesTheFolders() throws {
        let working = FileManager.default.currentDirectoryPath
        let byDefault = try RelayCommand.parse([]).configuration(environment: [:])
            .startingMetadata(openFileLimit: 1_024)
        #expect(byDefault["boss_images.folder"] == "\(working)/assets/bosses")
        #expect(byDefault["plugins.folder"] == "\(working)/plugins")
        #expect(byDefault["files.limit"] == "1024" && byDefault["http.port"] == "8000")
        let named = try RelayCommand.parse(["--plugins-dir", "/srv/relay/./plugins/"]).configuration(environment: [:])
        #expect(named.startingMetadata(openFileLimit: nil)["plugins.folder"] == "/srv/relay/plugins")
    }

    @Test("Rate and queue flags set their limits, each from a workable minimum")
    func relayLimitFlags() throws {
        let limits = try RelayCommand.parse([
            "--messages-per-second", "300", "--state-messages-per-second", "5000",
            "--outbound-queue-frames", "1000", "--outbound-queue-bytes", "2000000", "--inbound-bytes-per-second",
            "500000", "--inbound-bytes-per-second-per-address", "4000000",
            "--busy-loop-inbound-bytes-per-second", "100000",
        ]).configuration(environment: [:]).relay
        #expect(limits.busyLoopInboundBytesPerSecond == 100_000)
        #expect(limits.inboundBytesPerSecond == 500_000 && limits.inboundByteBurst == 125_000)
        #expect(limits.inboundBytesPerSecondPerAddress == 4_000_000)
        #expect(limits.messagesPerSecond == 300 && limits.messageBurst == 600 && limits.floodCloseThreshold == 3_000)
        #expect(limits.stateMessagesPerSecond == 5_000 && limits.stateMessageBurst == 10_000)
        #expect(limits.stateFloodCloseThreshold == 50_000)
        #expect(limits.outboundQueueFrames == 1_000 && limits.outboundQueueBytes == 2_000_000)
        let lowest = try RelayCommand.parse([
            "--outbound-queue-frames", "8", "--outbound-queue-bytes", "65536", "--inbound-bytes-per-second", "1024",
            "--inbound-bytes-per-second-per-address", "0", "--busy-loop-inbound-bytes-per-second", "0",
            "--outbound-queue-seconds", "0",
        ]).configuration(environment: [:]).relay
        #expect(lowest.inboundBytesPerSecondPerAddress == 0, "no limit")
        #expect(lowest.outboundQueueAgeLimit == .zero, "no limit")
        #expect(lowest.busyLoopInboundBytesPerSecond == 0, "never capped")
        #expect(lowest.outboundQueueFrames == 8 && lowest.outboundQueueBytes == 65_536)
        #expect(lowest.inboundBytesPerSecond == 1_024 && lowest.inboundByteBurst == 256)
        // 1 byte a second held every client's sockets for days once its burst was spent.
        let belowTheirMinimum = [
            ["--outbound-queue-frames", "1"], ["--outbound-queue-bytes", "10"], ["--inbound-bytes-per-second", "0"],
            ["--inbound-bytes-per-second-per-address=-1"], ["--busy-loop-inbound-bytes-per-second=-1"],
            ["--inbound-bytes-per-second-per-address", "1"], ["--busy-loop-inbound-bytes-per-second", "1023"],
            ["--outbound-queue-seconds=-1"],
        ]
        for below in belowTheirMinimum {
            #expect(throws: (any Error).self, "\(below)") { try RelayCommand.parse(below) }
        }
    }

    @Test("Bad values are refused")
    func badValues() throws {
        let sync = #expect(throws: ValidationError.self) {
            try RelayCommand.parse(["--sync", "sometimes"]).configuration(environment: [:])
        }
        #expect(sync.map { "\($0)" } == "--sync must be normal or full, not 'sometimes'")
        #expect(throws: (any Error).self) {
            try RelayCommand.parse(["--port", "70000"]).configuration(environment: [:])
        }
        #expect(throws: (any Error).self) { try RelayCommand.parse(["--port", "eighty"]) }
        // The environment too: a typo must not start the server on the default port, or quietly.
        for port in ["abc", " 8080", "8080x", "", "99999"] {
            #expect(throws: (any Error).self, "PORT=\(port)") {
                try RelayCommand.parse([]).configuration(environment: ["PORT": port])
            }
        }
        #expect(try RelayCommand.parse([]).configuration(environment: ["PORT": "8080"]).port == 8080)
        // The message names where the value came from, flag or variable, and the value.
        let sourcesNamed: [([String], [String: String], String)] = [
            ([], ["PORT": "70000"], "PORT must be 0…65535, not 70000"),
            (["--port", "70000"], [:], "--port must be 0…65535, not 70000"),
            ([], ["FORWARDED_ALLOW_IPS": "10.1.2.3/8"], "FORWARDED_ALLOW_IPS: "),
            (["--forwarded-allow-ips", "10.1.2.3/8"], [:], "--forwarded-allow-ips: "),
        ]
        for (arguments, environment, message) in sourcesNamed {
            let error = #expect(throws: ValidationError.self, "\(arguments) \(environment)") {
                try RelayCommand.parse(arguments).configuration(environment: environment)
            }
            #expect(error.map { "\($0)".hasPrefix(message) } == true, "\(String(describing: error))")
        }
        // An empty folder or host, as `DATA_DIR=${DATA_DIR}` leaves it, would put game.db in the
        // current folder (a fresh leaderboard), or start the current folder's executables as plugins.
        for (flag, variable) in [
            ("--data-dir", "DATA_DIR"), ("--host", "HOST"), ("--boss-images-dir", "BOSS_IMAGES_DIR"),
            ("--plugins-dir", "PLUGINS_DIR"),
        ] {
            #expect(throws: (any Error).self, "\(variable)=") {
                try RelayCommand.parse([]).configuration(environment: [variable: ""])
            }
            #expect(throws: (any Error).self, "\(flag) ''") {
                try RelayCommand.parse([flag, ""]).configuration(environment: [:])
            }
            // A flag still wins over an empty variable, as over any other.
            _ = try RelayCommand.parse([flag, "x"]).configuration(environment: [variable: ""])
            // Nor one padded with a space, a line break or a byte-order mark (`DATA_DIR=" "` made a
            // folder named by a space, with a fresh leaderboard in it), nor one starting with a `~`
            // no shell expanded.
            for padded in [" ", "x ", " x", "x\n", "\tx", "\u{FEFF}/x", "~", "~/relay"] {
                #expect(throws: (any Error).self, "\(variable)='\(padded)'") {
                    try RelayCommand.parse([]).configuration(environment: [variable: padded])
                }
                #expect(throws: (any Error).self, "\(flag) '\(padded)'") {
                    try RelayCommand.parse([flag, padded]).configuration(environment: [:])
                }
            }
            // The message names the mark, which a terminal does not show.
            let marked = #expect(throws: ValidationError.self) {
                try RelayCommand.parse([]).configuration(environment: [variable: "\u{FEFF}/x"])
            }
            #expect(
                marked.map { "\($0)".hasSuffix("has a space, a line break or a byte-order mark at its start or end") }
                    == true, "\(String(describing: marked))")
            // Not "give the full path": HOST is no path.
            let tilde = #expect(throws: ValidationError.self) {
                try RelayCommand.parse([]).configuration(environment: [variable: "~x"])
            }
            #expect(
                tilde.map { "\($0)".hasSuffix("starts with ~, which is not expanded here: write it out in full") }
                    == true, "\(String(describing: tilde))")
        }
        // Nor is an executable named one by one (`--plugin`): a mistake in it surfaced only after
        // the store had opened, the key been printed and the other plugins started (status 3).
        for named in ["", " ", "x ", " /x", "/x\n", "\u{FEFF}/x", "~", "~/dice.py"] {
            let error = #expect(throws: ValidationError.self, "--plugin '\(named)'") {
                try RelayCommand.parse(["--plugin", "/bin/a", "--plugin", named]).configuration(environment: [:])
            }
            #expect(error.map { "\($0)".hasPrefix("--plugin") } == true, "\(String(describing: error))")
        }
        // An API_KEY no client can send (header values lose their end spaces; a browser sends
        // other characters as Latin-1) refused every request without a word: refused at start,
        // without showing the key.
        for key in ["zq9k\n", " zq9k", "zq9k ", "zq9é", "zq9\tk", " "] {
            let error = #expect(throws: ValidationError.self, "API_KEY='\(key)'") {
                try RelayCommand.parse([]).configuration(environment: ["API_KEY": key])
            }
            #expect(error.map { "\($0)".contains("API_KEY must be printable ASCII") } == true)
            #expect(error.map { !"\($0)".contains("zq9") } == true, "the key is not shown")
        }
        for key in ["k", "a b", "x-9_Z.~!"] {
            #expect(try RelayCommand.parse([]).configuration(environment: ["API_KEY": key]).apiKey == key)
        }
        // ALLOW_ALL_ORIGINS: true or false in any case (empty: unset); `1` or `yes` would otherwise be a quiet false.
        for value in ["1", "yes", "on", "ture"] {
            #expect(throws: (any Error).self, "ALLOW_ALL_ORIGINS=\(value)") {
                try RelayCommand.parse([]).configuration(environment: ["ALLOW_ALL_ORIGINS": value])
            }
        }
        for (value, allowsAll) in [("TRUE", true), ("true", true), ("False", false), ("", false)] {
            let cors = try RelayCommand.parse([]).configuration(environment: ["ALLOW_ALL_ORIGINS": value]).cors
            #expect(cors.allowAllOrigins == allowsAll, "ALLOW_ALL_ORIGINS=\(value)")
        }
        // ALLOWED_ORIGINS: an entry no browser's Origin can equal left the game's page refused without a word.
        for origins in [
            "https://game.example/", "game.example", "https://Game.example", "HTTPS://game.example",
            "https://game.example/play", "https://a.example, https://b.example/", "://x", "https://",
            "https://game.example:443", "http://game.example:80", "https://*.example.com", "https://x:0443",
            "https://x:", "https://x:abc", "https://x:70000", "https://x:+80", "ws://game.example",
            "wss://game.example", "https://b\u{FC}cher.example",
            // Characters the URL standard forbids in a host, and an IPv6 literal left open.
            "http://a.com%20", "http://a.com\\b", "http://[::1", "http://[::1]]", "http://[]", "http://[::g]",
            "http://a|b.com", "http://a\u{7}b.com",
        ] {
            #expect(throws: (any Error).self, "ALLOWED_ORIGINS=\(origins)") {
                try RelayCommand.parse([]).configuration(environment: ["ALLOWED_ORIGINS": origins])
            }
        }
        let listed = try RelayCommand.parse([]).configuration(environment: [
            "ALLOWED_ORIGINS":
                "https://game.example:8443, http://[::1]:5173,null,http://game.example:443\n,http://[::1],"
                + "https://xn--bcher-kva.example,capacitor://localhost,http://127.0.0.1:8080,http://[::ffff:7f00:1],"
                + "http://my_host.local"
        ]).cors
        #expect(
            listed.allowedOrigins == [
                "https://game.example:8443", "http://[::1]:5173", "null", "http://game.example:443", "http://[::1]",
                "https://xn--bcher-kva.example", "capacitor://localhost", "http://127.0.0.1:8080",
                "http://[::ffff:7f00:1]", "http://my_host.local",
            ])
        #expect(!listed.allowAllOrigins)
        // `*` is any origin, as Starlette reads `allow_origins=["*"]` (here without credentials).
        let star = try RelayCommand.parse([]).configuration(environment: ["ALLOWED_ORIGINS": "*"]).cors
        #expect(star.allowAllOrigins && star.allows(origin: "https://anywhere.example"))
        #expect(throws: (any Error).self) { try RelayCommand.logLevel(environment: ["LOG_LEVEL": "verbose"]) }
        #expect(try RelayCommand.logLevel(environment: ["LOG_LEVEL": "DEBUG"]) == .debug)
        #expect(try RelayCommand.logLevel(environment: [:]) == .info)
        for refused in ["two", "0", "1025", " 2", "-1", ""] {
            #expect(throws: (any Error).self, "\(refused)") {
                try RelayCommand.checkLoopCount(environment: ["NIO_SINGLETON_GROUP_LOOP_COUNT": refused])
            }
        }
        try RelayCommand.checkLoopCount(environment: ["NIO_SINGLETON_GROUP_LOOP_COUNT": "2"])
        try RelayCommand.checkLoopCount(environment: [:])
    }

    /// An empty number or level (`PORT=${PORT}` in a compose file with nothing to fill in) is
    /// refused as an empty folder is, with a message that says it is empty, not that '' is no number.
    @Test func anEmptyNumberOrLevelIsRefusedAsEmpty() throws {
        let checks: [(String, ([String: String]) throws -> Void)] = [
            ("PORT", { _ = try RelayCommand.parse([]).configuration(environment: $0) }),
            ("LOG_LEVEL", { _ = try RelayCommand.logLevel(environment: $0) }),
            ("NIO_SINGLETON_GROUP_LOOP_COUNT", { try RelayCommand.checkLoopCount(environment: $0) }),
        ]
        for (variable, check) in checks {
            let error = #expect(throws: ValidationError.self, "\(variable)=") { try check([variable: ""]) }
            #expect(
                error.map(String.init(describing:))
                    == "\(variable) is set but empty: unset it for the default, or give it a value")
        }
    }
}

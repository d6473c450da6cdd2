import ArgumentParser
import Foundation
import Handlers
import Logging
import Persistence
import Relay

/// Everything the server reads at start-up, from flags and the environment.
struct ServerConfiguration: Sendable {
    /// Address to bind (`--host`, `HOST`; default 127.0.0.1, use 0.0.0.0 to accept other machines).
    var host = "127.0.0.1"
    /// Port for HTTP and WebSocket (`--port`, `PORT`; default 8000).
    var port = 8000
    /// Folder of `game.db` (`--data-dir`, `DATA_DIR`; default `./data`).
    var dataDirectory = "./data"
    /// Folder of `boss_NN.png` (`--boss-images-dir`, `BOSS_IMAGES_DIR`; default `./assets/bosses`).
    var bossImagesDirectory = "./assets/bosses"
    /// Key for the 🔑 routes (`API_KEY`; generated at start when unset).
    var apiKey: String
    /// Whether ``apiKey`` was generated for this run (and so must be printed once).
    var apiKeyWasGenerated = false
    /// Browser origins allowed (`ALLOWED_ORIGINS`, `ALLOW_ALL_ORIGINS`).
    var cors = CORSPolicy(allowedOrigins: CORSPolicy.defaultOrigins, allowAllOrigins: false)
    /// Most open connections, HTTP and WebSocket (`--max-connections`; default: the open-file
    /// limit less a reserve, ``ConnectionCap``); nil accepts without a cap.
    var maxConnections: Int?
    /// The connections known to fit under the open-file limit, when it is known: the default
    /// cap's. Past them a cap set above it accepts only while descriptors are free (``ConnectionCap``).
    var connectionsKnownToFit: Int?
    /// Most open connections from one client address (`--max-connections-per-address`; default
    /// 256, `Int.max` without a limit), and opened per second (`--new-connections-per-second-per-address`).
    var connectionsPerAddress = ConnectionsPerAddress.Settings(maximum: 256)
    /// Who the per-address limits count: the peers whose `X-Forwarded-For` is believed
    /// (`--forwarded-allow-ips`, `FORWARDED_ALLOW_IPS`; default loopback).
    var clientAddresses = ClientAddressPolicy()
    /// HTTP bounds: request sizes and fields, timeouts and answer rates, per-address budgets.
    var limits = HTTPLimits()
    /// Bounds of the WebSocket relay (rooms, players, rates, queues).
    var relay = RelayLimits()
    /// Folder of plugin executables started with the server (`--plugins-dir`, `PLUGINS_DIR`; default `./plugins`).
    var pluginsDirectory = "./plugins"
    /// Whether ``pluginsDirectory`` was named (`--plugins-dir`, `PLUGINS_DIR`): then a missing
    /// folder is a mistake worth a warning, not the default's usual absence.
    var pluginsDirectoryWasNamed = false
    /// `--boss-images-dir` or `BOSS_IMAGES_DIR` was given.
    var bossImagesDirectoryWasNamed = false
    /// How often each kind of close a client can cause at will is logged at its level, the others
    /// at debug (``ClientCloseLogs``). Not a flag: tests lengthen it, so that a loaded run cannot
    /// pass the interval.
    var repeatedCloseLogInterval: Duration = .seconds(10)
    /// How often freed memory the allocator keeps is checked for, and given back (``MemoryTrim``;
    /// `--memory-trim-seconds`); zero: never.
    var memoryTrimInterval: Duration = .seconds(10)
    /// Plugin executables named one by one (`--plugin PATH`), started after those of the folder.
    var plugins: [PluginExecutable] = []
    /// Timeouts and bounds of plugin processes (`--plugin-timeout-ms`).
    var pluginSettings = PluginSettings()
    /// Batching and durability of the SQLite store (`--batch-size`, `--batch-window-ms`, …).
    var persistence: PersistenceConfiguration

    /// The database file inside ``dataDirectory``.
    static func databasePath(in dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("game.db")
    }

    /// A configuration for tests and embedding: given key, database in `dataDirectory`.
    init(apiKey: String, dataDirectory: String) {
        self.apiKey = apiKey
        self.dataDirectory = dataDirectory
        self.persistence = PersistenceConfiguration(databasePath: Self.databasePath(in: dataDirectory))
    }

    /// The boss images' folder from the root, as the start-up log shows it: the default is
    /// relative to the working folder, which a service manager sets (systemd: `/`).
    var bossImagesFolder: String {
        URL(fileURLWithPath: self.bossImagesDirectory).standardizedFileURL.path
    }

    /// What `relay.starting` says: where it listens, its limits, and its folders from the root,
    /// since the defaults are relative to the working folder (`/` under systemd), and a plugins
    /// folder found there starts its executables unasked.
    func startingMetadata(openFileLimit: Int?) -> Logger.Metadata {
        [
            "http.host": "\(self.host)", "http.port": "\(self.port)",
            "files.limit": "\(openFileLimit.map(String.init) ?? "unknown")",
            "connections.max": "\(self.maxConnections.map(String.init) ?? "unlimited")",
            "boss_images.folder": "\(self.bossImagesFolder)",
            "plugins.folder": "\(URL(fileURLWithPath: self.pluginsDirectory).standardizedFileURL.path)",
        ]
    }

    /// Says so when none of the 22 boss images can be read in their folder (missing, empty, or
    /// not to be read by this user): every image would be an error, with nothing logged. Each
    /// file is looked at, not the folder's listing, which may be closed to a user who may read
    /// the files. A warning for a folder named, a notice for the default.
    func warnIfBossImagesAreMissing(logger: Logger) {
        let readable = (0..<22).contains { index in
            access("\(self.bossImagesDirectory)/boss_\(BossImages.fileNumber(Int64(index))).png", R_OK) == 0
        }
        guard !readable else { return }
        logger.log(
            level: self.bossImagesDirectoryWasNamed ? .warning : .notice, "relay.boss_images.missing",
            metadata: [
                "folder": "\(self.bossImagesFolder)",
                "effect": "no boss_00.png to boss_21.png to read there: every /api/bosses/images/NN fails",
            ])
    }

    /// The old backend's key when `API_KEY` was unset, which the game client falls back to when
    /// built without `VITE_API_KEY`: in both projects' public sources.
    static let oldBackendDefaultKey = "your-secret-api-key-here"

    /// Warns when `API_KEY` is ``oldBackendDefaultKey`` (an old `.env` copied over): it works, and
    /// anyone can submit scores and saves with it (PROTOCOL.md: no known default key in production).
    func warnOfAPublicAPIKey(logger: Logger) {
        guard self.apiKey == Self.oldBackendDefaultKey else { return }
        let hint =
            "API_KEY is the old backend's default, public in its sources and the game's: "
            + "set a secret key, and build the game with it (VITE_API_KEY)"
        logger.warning("relay.api_key.public", metadata: ["hint": "\(hint)"])
    }

    /// The plugins to start: the folder's executables by name, then the named ones. What keeps a
    /// file of the folder from starting is logged: a script saved without `chmod +x`, or a folder
    /// named wrong, would otherwise only leave its message type unknown.
    func pluginExecutables(logger: Logger) -> [PluginExecutable] {
        let folder = PluginFolder(reading: self.pluginsDirectory)
        if folder.openError == ENOENT {
            if self.pluginsDirectoryWasNamed {
                logger.warning("relay.plugins.folder_missing", metadata: ["folder": "\(self.pluginsDirectory)"])
            }
        } else if let error = folder.openError {
            // There, but not to be read: not news to keep from an operator, named or not.
            logger.warning(
                "relay.plugins.folder_unreadable",
                metadata: ["folder": "\(self.pluginsDirectory)", "error": "\(String(cString: strerror(error)))"])
        }
        for (files, level, event, hint) in [
            (
                folder.notExecutable, Logger.Level.notice, "relay.plugins.not_executable",
                "chmod +x a file to start it as a plugin"
            ),
            (folder.notUTF8, .warning, "relay.plugins.name_not_utf8", "rename it with a UTF-8 name"),
            (
                folder.backups, .notice, "relay.plugins.backup_skipped",
                "a backup's name (~, .bak, .orig…): rename it to start it"
            ),
        ] where !files.isEmpty {
            logger.log(
                level: level, "\(event)",
                metadata: [
                    "folder": "\(self.pluginsDirectory)", "files": "\(files.joined(separator: ", "))",
                    "hint": "not started: \(hint)",
                ])
        }
        // One program named twice (the folder's, again with `--plugin`) starts once: twice, a filter
        // or an event listener would see everything twice, and a handler conflict with itself.
        var started = Set<PluginExecutable>()
        var namedTwice: [String] = []
        let executables = (folder.executables + self.plugins).filter { executable in
            let resolved = PluginExecutable(
                path: URL(fileURLWithPath: executable.path).resolvingSymlinksInPath().path,
                arguments: executable.arguments)
            if started.insert(resolved).inserted { return true }
            namedTwice.append(executable.path)
            return false
        }
        if !namedTwice.isEmpty {
            logger.notice(
                "relay.plugins.named_twice",
                metadata: ["plugins": "\(namedTwice.joined(separator: ", "))", "effect": "started once"])
        }
        return executables
    }
}

extension CORSPolicy {
    /// Reads `ALLOWED_ORIGINS` (comma list; `*`: any origin, as `ALLOW_ALL_ORIGINS` answers it,
    /// without credentials, where Starlette echoed the origin with them) and `ALLOW_ALL_ORIGINS`
    /// (`true`). An entry no browser's `Origin` can equal is refused: a trailing slash, a path, no
    /// scheme, capitals (browsers send scheme and host in lower case), a default port (browsers
    /// leave it out), a wildcard. It would leave the game's page refused without a word.
    init(environment: [String: String]) throws {
        let listed =
            environment["ALLOWED_ORIGINS"]?
            .split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
        if let unmatchable = listed?.first(where: { $0 != "*" && !Self.isOrigin($0) }) {
            throw ValidationError(
                "ALLOWED_ORIGINS: '\(unmatchable)' is not an origin as browsers send it: scheme://host[:port] "
                    + "in lower case, without a path, a trailing slash, a default port or a wildcard (or null, or *: any origin)"
            )
        }
        self.init(
            allowedOrigins: listed ?? Self.defaultOrigins,
            allowAllOrigins: environment["ALLOW_ALL_ORIGINS"]?.lowercased() == "true" || listed?.contains("*") == true
        )
    }

    /// Whether `entry` is an origin as a browser serializes it (`https://game.example:8443`), or
    /// `null` (a page from a file or a sandbox): a lower-case scheme and host, and a port only when
    /// it is not the scheme's default, written as browsers write it (digits, no leading zero). No
    /// page is served over `ws:` or `wss:`, and a browser writes a host in ASCII (an international
    /// name as punycode, `xn--…`).
    /// What the URL standard forbids in a domain (besides controls and DEL), so no browser's
    /// `Origin` has it; `*` too, for a wildcard, which origins never are.
    private static let forbiddenInAHost = Set(" #%/:<>?@[\\]^|*")

    static func isOrigin(_ entry: String) -> Bool {
        if entry == "null" { return true }
        guard let separator = entry.range(of: "://") else { return false }
        let scheme = entry[..<separator.lowerBound]
        let authority = entry[separator.upperBound...]
        let schemeCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789+-.")
        guard scheme.first.map(\.isLowercase) == true, scheme.allSatisfy(schemeCharacters.contains),
            scheme != "ws", scheme != "wss"
        else {
            return false
        }
        // The port follows the last colon, but not one inside an IPv6 literal's brackets.
        let portColon = authority.lastIndex(of: ":").flatMap { colon in
            authority.lastIndex(of: "]").map { colon > $0 ? colon : nil } ?? colon
        }
        let host = portColon.map { authority[..<$0] } ?? authority
        guard !host.isEmpty, host.allSatisfy(\.isASCII), !host.contains(where: \.isUppercase) else { return false }
        if host.first == "[" {
            // An IPv6 literal: hex digits, colons and dots (an IPv4 tail) inside one pair of brackets.
            guard host.last == "]", host.count > 2,
                host.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else { return false }
        } else if host.contains(where: {
            Self.forbiddenInAHost.contains($0) || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true
        }) {
            return false
        }
        guard let portColon else { return true }
        let port = authority[authority.index(after: portColon)...]
        let defaultPorts = ["http": 80, "https": 443]
        guard port.first != "0", port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port),
            (1...65_535).contains(number)
        else {
            return false
        }
        return defaultPorts[String(scheme)] != number
    }
}

/// A random 32-byte key, hex encoded, for runs without `API_KEY`.
func generateAPIKey() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in
        let byte = UInt8.random(in: .min ... .max, using: &generator)
        return String(byte, radix: 16).leftPadded(to: 2)
    }.joined()
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - self.count)) + self
    }
}

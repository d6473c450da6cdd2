public import Logging
public import NIOCore
public import Relay
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin processes of one server: started before the server opens, kept running
/// while it serves, and stopped after it closes.
public enum PluginHost {
    /// The handlers and filters the plugins brought, to register with the dispatcher, and the
    /// observer that tells them the room events they asked for, for the room registry.
    public struct Registrations: Sendable {
        public let handlers: [any MessageHandler]
        public let filters: [any MessageFilter]
        /// One observer, if any plugin asked for events; none otherwise.
        public let observers: [any RoomObserver]
    }

    /// Starts `executables`, waits for every hello, runs `body` with what they handle and
    /// filter, then closes their stdin, waits up to the grace period and kills the rest.
    ///
    /// Until `body` runs, a signal of `stopSignals` (the server's SIGINT and SIGTERM) ends the
    /// start; `body` sets what the signals do while it runs.
    ///
    /// - Throws: ``PluginStartupError`` when a plugin does not come up, ``PluginConflictError``
    ///   when two plugins, or a plugin and `builtIns`, claim one type, ``PluginStartupInterrupted``
    ///   for a signal of `stopSignals`; or what `body` throws.
    public static func withPlugins<Result: Sendable>(
        _ executables: [PluginExecutable],
        settings: PluginSettings = PluginSettings(),
        builtIns: [any MessageHandler],
        eventLoopGroup: any EventLoopGroup,
        logger: Logger,
        stopSignals: StopSignals? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Registrations) async throws -> Result
    ) async throws -> Result {
        // A plugin that dies while the server writes to its stdin must cost a failed write
        // (EPIPE), not the server: SIGPIPE's default action ends the process.
        if !executables.isEmpty { signal(SIGPIPE, SIG_IGN) }
        if !executables.isEmpty, getpid() == 1 {
            // Every kill goes to a plugin's whole process group: what the plugin started (a wrapper
            // script's child) is then handed to process 1, which here is this server, and it waits
            // only for the plugins themselves. A crash loop would pile up zombies.
            logger.warning(
                "relay.plugins.no_init",
                metadata: [
                    "reason":
                        "the relay runs as process 1 (a container without an init): processes its plugins start are not reaped when they end; run the container with an init (docker run --init, tini)"
                ])
        }
        let startGroup = PluginStartGroup()
        let processes = executables.map { executable in
            PluginProcess(
                executable: executable, settings: settings, eventLoop: eventLoopGroup.next(), logger: logger,
                startGroup: startGroup)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for process in processes {
                group.addTask { await process.supervise() }
            }
            let outcome: Swift.Result<Result, any Error>
            let interruption = Interruption()
            stopSignals?.onSignal { signal in
                interruption.record(signal)
                for process in processes { process.refuseStart(because: "start-up interrupted by signal \(signal)") }
            }
            do {
                var hellos: [PluginHello] = []
                let startFailure: (any Error)?
                do {
                    hellos = try await Self.hellos(of: processes)
                    startFailure = nil
                } catch {
                    startFailure = error
                }
                // A signal from now on waits for `body` to say what it does.
                stopSignals?.onSignal(nil)
                // A start that a signal failed says so.
                if let signal = interruption.signal { throw PluginStartupInterrupted(signal: signal) }
                if let startFailure { throw startFailure }
                let registrations = try Self.registrations(processes: processes, hellos: hellos, builtIns: builtIns)
                outcome = .success(try await body(registrations))
            } catch {
                outcome = .failure(error)
            }
            await Self.stop(processes, gracePeriod: settings.shutdownGracePeriod, logger: logger)
            group.cancelAll()
            return try outcome.get()
        }
    }

    /// The plugins' hellos, in their order, waited for together: the first failure ends the wait
    /// (a plugin slow to start, up to its timeout, held up the report of another that failed at
    /// once), and the other starts are refused, so that their waits end too.
    static func hellos(of processes: [PluginProcess]) async throws -> [PluginHello] {
        try await withThrowingTaskGroup(of: (Int, PluginHello).self) { group in
            for (index, process) in processes.enumerated() {
                group.addTask { (index, try await process.waitUntilReady()) }
            }
            var hellos = [PluginHello?](repeating: nil, count: processes.count)
            do {
                for try await (index, hello) in group { hellos[index] = hello }
            } catch {
                for process in processes { process.refuseStart(because: "another plugin failed to start") }
                throw error
            }
            return hellos.compactMap { $0 }
        }
    }

    /// One handler per announced type and one filter per announced filter; conflicts refused.
    static func registrations(
        processes: [PluginProcess], hellos: [PluginHello], builtIns: [any MessageHandler]
    ) throws(PluginConflictError) -> Registrations {
        var owners: [String: String] = [:]
        for handler in builtIns { owners[handler.messageType] = "the server" }
        var handlers: [any MessageHandler] = []
        var filters: [any MessageFilter] = []
        var listeners: [PluginEventObserver.Listener] = []
        for (process, hello) in zip(processes, hellos) {
            if !hello.events.isEmpty { listeners.append(.init(plugin: process, events: hello.events)) }
            let claimant = "plugin \(process.executable.command)"
            for type in hello.handles {
                if let owner = owners[type] {
                    throw PluginConflictError(type: type, conflict: .claimedTwice(first: owner, second: claimant))
                }
                owners[type] = claimant
                handlers.append(
                    PluginMessageHandler(messageType: type, plugin: process, maxMessageBytes: hello.maxMessageBytes))
            }
            for type in hello.filters {
                filters.append(
                    PluginMessageFilter(
                        messageType: type, plugin: process, failOpen: hello.failOpen,
                        maxMessageBytes: hello.maxMessageBytes))
            }
        }
        for filter in filters where owners[filter.messageType] == nil {
            throw PluginConflictError(type: filter.messageType, conflict: .filterWithoutHandler)
        }
        let observers: [any RoomObserver] = listeners.isEmpty ? [] : [PluginEventObserver(listeners: listeners)]
        return Registrations(handlers: handlers, filters: filters, observers: observers)
    }

    /// Closes every plugin's stdin, waits until they exit or the grace period ends, then kills the rest.
    private static func stop(_ processes: [PluginProcess], gracePeriod: Duration, logger: Logger) async {
        for process in processes { process.beginShutdown() }
        let deadline = ContinuousClock.now + gracePeriod
        while processes.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for process in processes where process.isRunning {
            logger.warning("plugin.shutdown.kill", metadata: ["plugin": "\(process.executable)"])
            process.kill()
        }
    }
}

/// The first signal that came while the plugins started.
private final class Interruption: Sendable {
    private let first = Mutex<Int32?>(nil)
    func record(_ signal: Int32) { self.first.withLock { $0 = $0 ?? signal } }
    var signal: Int32? { self.first.withLock { $0 } }
}

/// A message type the plugins cannot have as they asked, found at start-up.
public struct PluginConflictError: Error, CustomStringConvertible, Sendable {
    public enum Conflict: Sendable, Equatable {
        /// Two claimants handle it: two plugins, or a plugin and the server.
        case claimedTwice(first: String, second: String)
        /// A plugin filters it, and nothing handles it.
        case filterWithoutHandler
    }

    public let type: String
    public let conflict: Conflict

    public var description: String {
        switch self.conflict {
        case .claimedTwice(let first, let second): "message type '\(type)' is claimed by \(first) and by \(second)"
        case .filterWithoutHandler: "a plugin filters message type '\(type)', which nothing handles"
        }
    }
}

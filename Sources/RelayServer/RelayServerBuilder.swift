import ArgumentParser
public import Handlers
public import Relay

/// The relay server with message types of your own: register handlers (and filters) in
/// code, then run it with the `relay` command line's flags and environment.
///
/// ```swift
/// var server = RelayServerBuilder()
/// server.register(VoteKickHandler())
/// await server.runFromCommandLine()
/// ```
///
/// The built-in types of PROTOCOL.md are registered from the start; the plugins of
/// `--plugins-dir` join at start-up. Two claims on one type stop the start with a message.
public struct RelayServerBuilder: Sendable {
    /// The in-process handlers, the built-ins first.
    public private(set) var handlers: [any MessageHandler] = BuiltInHandlers.all
    /// The in-process filters, in registration order (they run before the plugins' filters).
    public private(set) var filters: [any MessageFilter] = []
    /// Told what happens to the members of every room, in registration order.
    public private(set) var observers: [any RoomObserver] = []

    public init() {}

    /// Adds a handler for a new message type.
    public mutating func register(_ handler: any MessageHandler) {
        self.handlers.append(handler)
    }

    /// Takes away the handler of `messageType`, a built-in's included, so that one of your own (or
    /// a plugin's) can answer the type instead; returns whether there was one. A type the game's
    /// client sends must still be answered as it expects (PROTOCOL.md).
    @discardableResult
    public mutating func removeHandler(for messageType: String) -> Bool {
        let count = self.handlers.count
        // Spelled alike, code point for code point, as dispatch compares types.
        self.handlers.removeAll { $0.messageType.unicodeScalars.elementsEqual(messageType.unicodeScalars) }
        return self.handlers.count != count
    }

    /// Adds a filter that sees every message of its type before the handler.
    public mutating func register(filter: any MessageFilter) {
        self.filters.append(filter)
    }

    /// Adds an observer of every room's members (joins, drops, reconnects, departures, closing).
    public mutating func register(observer: any RoomObserver) {
        self.observers.append(observer)
    }

    /// Parses `arguments` like `relay` does (`--help` lists them), runs the server until SIGINT,
    /// SIGTERM or SIGHUP (unless started ignoring it, as under `nohup`), and exits; a bad flag or a
    /// failed start exits non-zero with a message (README lists the statuses).
    ///
    /// Call it before anything uses NIO's shared event loops (`MultiThreadedEventLoopGroup.singleton`,
    /// an HTTP client made for a handler): it sizes them to the CPUs the process may use, and NIO
    /// stops a process that sizes them once they are in use.
    public func runFromCommandLine(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async {
        EventLoopThreads.configure()
        do {
            let command = try RelayCommand.parse(arguments)
            try await command.run(handlers: self.handlers, filters: self.filters, observers: self.observers)
        } catch {
            RelayCommand.exit(withError: error)
        }
    }
}

import Handlers
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Stops accepting connections while `maximum` are open (HTTP and WebSocket alike); new ones
/// wait in the kernel's backlog until others close.
///
/// Without it, a flood of sockets takes every file descriptor the process may open: the
/// sockets already in rooms keep working, but SQLite, plugin restarts and boss images then fail
/// for lack of one. The cap keeps a reserve below the open-file limit for them.
struct ConnectionCap: AvailableConnectionsDelegate {
    /// File descriptors kept for the process's own use below the open-file limit: stdio, the
    /// listening socket, the store's files and threads (~25 in all at start), SQLite's temporary
    /// files, image reads; and ``reservedPerEventLoop`` more for each event loop,
    /// ``reservedPerPlugin`` for each plugin.
    static let reservedFileDescriptors = 128

    /// What an event loop holds: NIO's selector (epoll, eventfd, timerfd) and, once it has room
    /// sockets, the busy-loop probe's two datagram sockets. A flat reserve ran out at ~20 loops
    /// (`NIO_SINGLETON_GROUP_LOOP_COUNT` allows 1,024), and accepts then failed with EMFILE.
    static let reservedPerEventLoop = 5

    /// What a plugin holds in the server: 4 descriptors running (three pipe ends and a process
    /// descriptor), up to 9 while it starts. The flat reserve alone ran out at ~20 plugins, and a
    /// restart at the cap then failed for want of one.
    static let reservedPerPlugin = 8

    /// The descriptors kept below the open-file limit with `plugins` plugins and `eventLoops` loops.
    static func reserve(plugins: Int, eventLoops: Int) -> Int {
        Self.reservedFileDescriptors + Self.reservedPerPlugin * plugins + Self.reservedPerEventLoop * eventLoops
    }

    /// What the relay holds itself, its connections aside, with a plugin restarting: ~25 at
    /// start (stdio, the listening socket, the store's files and threads), the loops' and the
    /// plugins' own. With 1 loop the relay held 33 at start, 50 with 3 plugins.
    static func ownDescriptors(plugins: Int, eventLoops: Int) -> Int {
        32 + Self.reservedPerEventLoop * eventLoops + Self.reservedPerPlugin * plugins
    }

    /// The fewest descriptors the relay starts with: NIO creating an event loop without the
    /// descriptors it needs stops the process (a trap, at 28–32), and below ~40 SQLite or the
    /// listening socket fails with a message that never names the limit. Its own, and 16
    /// connections: 64 serves a few players; many event loops or plugins need more.
    static func minimumOpenFileLimit(plugins: Int, eventLoops: Int) -> Int {
        max(64, Self.ownDescriptors(plugins: plugins, eventLoops: eventLoops) + 16)
    }

    /// The default cap for a process allowed `openFileLimit` descriptors, with `plugins` plugins
    /// and `eventLoops` loops: the limit less the reserve, but at least a quarter of it (a tiny
    /// limit still gets some connections) where that fits beside the relay's own descriptors.
    /// A quarter alone did not: at 64 with 3 plugins, 16 connections took the process to the
    /// limit, where accepts spun, a plugin restart crashed it and libdispatch stopped it.
    static func defaultMaximum(openFileLimit: Int, plugins: Int = 0, eventLoops: Int) -> Int {
        let own = Self.ownDescriptors(plugins: plugins, eventLoops: eventLoops)
        let fewest = max(0, min(openFileLimit / 4, openFileLimit - own))
        return max(fewest, openFileLimit - Self.reserve(plugins: plugins, eventLoops: eventLoops))
    }

    /// The descriptors that must be free for a connection to be accepted past ``knownToFit``: a
    /// plugin's start needs up to 9, SQLite and a boss image a few.
    static let freeDescriptorsToAccept = 32

    let maximum: Int
    /// The connections known to fit under the open-file limit: the default cap's
    /// (``defaultMaximum(openFileLimit:plugins:eventLoops:)``); nil when the limit is unknown. A
    /// cap set above it (`--max-connections`) accepts past it only while descriptors are free:
    /// an accept that finds none fails, NIO tries it again at once for as long as the
    /// connection waits (its readable event stays on: a whole core), and libdispatch, which must
    /// open `/proc` files, ends the process.
    let knownToFit: Int?
    let logger: Logger
    /// The listening socket, once it runs (``ListeningSocket/take(_:perWakeUp:)``): near the cap
    /// it takes one connection a wake-up (``acceptsPerWakeUp``). A reference: hummingbird keeps a
    /// copy of the cap.
    let listening = ListeningSocket()
    private var open = 0
    /// Set when the cap is reached, cleared below 90 % of it: one warning per episode, not one
    /// per connection that comes and goes at the cap.
    private var warned = false

    /// Set when connections wait for descriptors, cleared once they are accepted again.
    private let descriptorsShort = DescriptorShortage()

    init(maximum: Int, knownToFit: Int? = nil, logger: Logger) {
        self.maximum = maximum
        self.knownToFit = knownToFit
        self.logger = logger
    }

    mutating func connectionOpened() {
        self.open += 1
        self.listening.accept(self.acceptsPerWakeUp)
        if self.open >= self.maximum, !self.warned {
            self.warned = true
            self.logger.warning(
                "connections.limit_reached",
                metadata: [
                    "connections.max": "\(self.maximum)",
                    "effect": "new connections wait until others close (--max-connections, ulimit -n)",
                ])
        }
    }

    mutating func connectionClosed() {
        self.open -= 1
        self.listening.accept(self.acceptsPerWakeUp)
        if self.warned, self.open < self.maximum - max(1, self.maximum / 10) {
            self.warned = false
            self.logger.info("connections.below_limit", metadata: ["connections.open": "\(self.open)"])
        }
    }

    func isAcceptingNewConnections() -> Bool {
        guard self.open < self.maximum else { return false }
        // Read only past what is known to fit, where only a cap above it takes the server: a few
        // hundred entries of `/proc/self/fd` an accept.
        guard let knownToFit, self.open >= knownToFit else { return true }
        let free = FreeDescriptors.count() ?? .max
        let accepting = free >= Self.freeDescriptorsToAccept
        self.descriptorsShort.note(accepting: accepting, open: self.open, free: free, logger: self.logger)
        return accepting
    }

    /// NIO's listening socket accepts up to 4 connections a wake-up, and the cap is asked only
    /// between wake-ups: near the cap that took a burst up to 3 past it, so there it takes one.
    /// Only there: one a wake-up throughout put each arrival of a storm behind a whole turn of a
    /// busy loop (join-storm at 2,000/s: p90 6–13 ms against 2–3).
    var acceptsPerWakeUp: UInt {
        self.maximum - self.open <= Int(ListeningSocket.nioAcceptsPerWakeUp) ? 1 : ListeningSocket.nioAcceptsPerWakeUp
    }
}

/// The server's listening socket, for the cap to set how many connections it takes a wake-up. The
/// cap hears of connections on the socket's event loop; the socket is handed over from the
/// server's start-up task.
final class ListeningSocket: Sendable {
    /// NIO's default `maxMessagesPerRead`.
    static let nioAcceptsPerWakeUp: UInt = 4
    private let state = Mutex<(channel: (any Channel)?, perWakeUp: UInt)>((nil, ListeningSocket.nioAcceptsPerWakeUp))

    /// From the server's start on, `channel` takes `perWakeUp` connections a wake-up.
    func take(_ channel: any Channel, perWakeUp: UInt) {
        self.state.withLock { $0 = (channel, ListeningSocket.nioAcceptsPerWakeUp) }
        self.accept(perWakeUp)
    }

    /// Sets how many connections the socket takes a wake-up, when that changes.
    func accept(_ perWakeUp: UInt) {
        let channel = self.state.withLock { state -> (any Channel)? in
            guard let channel = state.channel, state.perWakeUp != perWakeUp else { return nil }
            state.perWakeUp = perWakeUp
            return channel
        }
        // It fails only once the socket is closed (the server stopping), when nothing is accepted.
        channel?.setOption(ChannelOptions.maxMessagesPerRead, value: perWakeUp).whenFailure { _ in }
    }
}

/// Whether connections wait for file descriptors (``ConnectionCap/knownToFit``): one warning
/// each time they start to.
private final class DescriptorShortage: Sendable {
    private let waiting = Atomic(false)

    func note(accepting: Bool, open: Int, free: Int, logger: Logger) {
        guard self.waiting.exchange(!accepting, ordering: .relaxed) == accepting, !accepting else { return }
        logger.warning(
            "connections.descriptors_short",
            metadata: [
                "connections.open": "\(open)", "files.free": "\(free)",
                "effect":
                    "new connections wait until descriptors are free: --max-connections is above what the open-file limit holds (ulimit -n)",
            ])
    }
}

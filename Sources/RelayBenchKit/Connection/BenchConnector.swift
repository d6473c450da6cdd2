import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// Opens bench connections to one server: TCP connect (optionally from one of several
/// loopback source addresses), WebSocket upgrade, then the greeting.
final class BenchConnector: Sendable {
    let target: BenchTarget
    let group: MultiThreadedEventLoopGroup
    let recorder: LatencyRecorder
    let events: SocketEvents
    /// Longest wait from connecting to the server's confirmation.
    let joinTimeout: TimeAmount
    /// Sends fall due on this grid (0: each connection at its own time).
    let sendGrid: TimeAmount
    private let address: SocketAddress
    /// Where connections come from, in turn; empty: the kernel picks.
    let sourceAddresses: [SocketAddress]
    /// Each event loop's send schedule (made on the loop when its first connection sends).
    private let schedules: [ObjectIdentifier: NIOLoopBoundBox<SendSchedule?>]
    private let nextSource = Atomic<Int>(0)

    /// - Parameters:
    ///   - threads: event loops (each a thread); the bench's share of the machine.
    ///   - sourceAddressCount: spread connections over 127.0.0.1…127.0.0.n (1: let the kernel pick),
    ///     past one address's ephemeral ports; ignored for an IPv6 target, which they cannot reach.
    init(
        target: BenchTarget, threads: Int, sourceAddressCount: Int = 1, recorder: LatencyRecorder,
        events: SocketEvents = SocketEvents(), joinTimeout: TimeAmount = .seconds(10), sendGrid: TimeAmount = .zero
    ) throws {
        self.target = target
        self.address = try target.socketAddress()
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.recorder = recorder
        self.events = events
        self.joinTimeout = joinTimeout
        self.sendGrid = sendGrid
        self.schedules = Dictionary(
            uniqueKeysWithValues: self.group.makeIterator().map { loop in
                (ObjectIdentifier(loop), NIOLoopBoundBox.makeEmptyBox(valueType: SendSchedule.self, eventLoop: loop))
            })
        self.sourceAddresses =
            sourceAddressCount > 1 && target.takesLoopbackSources
            ? try (1...min(sourceAddressCount, 254)).map { try SocketAddress(ipAddress: "127.0.0.\($0)", port: 0) } : []
    }

    /// Connects, upgrades and sends `greeting`; returns once the upgrade is done (await
    /// ``BenchSocket/confirmation()`` for the server's answer).
    /// - Parameter receiveBufferBytes: a small `SO_RCVBUF` for slow consumers, so the
    ///   server's queue, not the kernel, holds what they do not read.
    func connect(_ greeting: Greeting, receiveBufferBytes: Int? = nil) async throws -> BenchSocket {
        var bootstrap = ClientBootstrap(group: self.group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(self.joinTimeout)
        if let receiveBufferBytes {
            // A small window and a small segment size (announced in the SYN) keep the server's
            // kernel from buffering much for this client: loopback's 64 KB segments would let
            // the server's send buffer grow past a megabyte before its own queue sees a thing.
            bootstrap = bootstrap.channelOption(
                ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes)
            )
            .channelOption(
                ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_MAXSEG)),
                value: SocketOptionValue(Self.slowConsumerSegmentBytes))
        }
        if !self.sourceAddresses.isEmpty {
            let index = self.nextSource.wrappingAdd(1, ordering: .relaxed).oldValue
            bootstrap = bootstrap.bind(to: self.sourceAddresses[index % self.sourceAddresses.count])
        }
        let path = self.target.basePath + greeting.path
        let upgraded = try await bootstrap.connect(to: self.address) { channel in
            channel.eventLoop.makeCompletedFuture {
                try self.initialize(channel, path: path, greeting: greeting)
            }
        }
        return try await upgraded.get()
    }

    /// Adds the HTTP upgrade; once upgraded, the bench handler replaces it.
    private func initialize(
        _ channel: any Channel, path: String, greeting: Greeting
    ) throws -> EventLoopFuture<BenchSocket> {
        // Bounds the whole join: connect, upgrade, greeting and answer.
        let watchdog = channel.eventLoop.scheduleTask(in: self.joinTimeout) { channel.close(promise: nil) }
        let handler = NIOLoopBound(
            BenchSocketHandler(
                greeting: greeting, recorder: self.recorder, events: self.events, eventLoop: channel.eventLoop,
                watchdog: watchdog, schedule: self.schedules[ObjectIdentifier(channel.eventLoop)]!),
            eventLoop: channel.eventLoop)
        channel.closeFuture.whenComplete { _ in handler.value.channelClosed() }

        let upgrader = BenchSocketUpgrader { channel in
            handler.value.outlet = try ClientFrameOutlet.install(on: channel)
            try channel.pipeline.syncOperations.addHandler(handler.value)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.target.hostHeader)
        let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
            upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { false } })
        let upgradeResult = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: configuration))
        return upgradeResult.flatMapThrowing { upgraded in
            guard upgraded else {
                channel.close(promise: nil)
                throw BenchError.upgradeRefused(path: path)
            }
            // Next tick: the upgrade handler removes itself right after completing this future.
            channel.eventLoop.execute { handler.value.sendGreeting() }
            return BenchSocket(channel: channel, handler: handler)
        }
    }

    /// TCP segment size a slow consumer announces (the IPv4 minimum every host accepts).
    static let slowConsumerSegmentBytes = 536

    /// Stops the event loops (after every connection is closed).
    func shutdown() async {
        try? await self.group.shutdownGracefully()
    }
}

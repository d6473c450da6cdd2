import Foundation
import Handlers
import Histogram
import Logging
import NIOCore
import NIOPosix
import Relay

/// plugin-bench: round-trip latency and throughput of one plugin process, through the
/// dispatcher exactly as a WebSocket message takes it (decode, plugin request, answer,
/// action, the sender's outbound queue), without the sockets.
///
///     ENABLE_BENCHMARKS=1 swift run -c release --scratch-path .build-bench plugin-bench [plugin] [seconds]
@main
struct PluginBench {
    static let usage = """
        usage: plugin-bench [--in-rooms] [PLUGIN] [SECONDS]
          --in-rooms  each sender first creates a room of its own: its requests carry the room and
                      are queued inside it
          PLUGIN      the plugin executable (default Benchmarks/plugins/echo.py); it must handle `echo`
          SECONDS     each of the 1, 8 and 64 senders' runs (default 5), after a 1 s warm-up
        """

    static func main() async throws {
        var arguments = CommandLine.arguments.dropFirst()
        let inRooms = arguments.first == "--in-rooms"
        if inRooms { arguments = arguments.dropFirst() }
        if let first = arguments.first, first == "-h" || first == "--help" {
            print(Self.usage)
            return
        }
        let plugin = PluginExecutable(path: arguments.first ?? "Benchmarks/plugins/echo.py")
        guard let seconds = arguments.count > 1 ? Int(arguments[arguments.startIndex + 1]) : 5, seconds > 0 else {
            FileHandle.standardError.write(Data((Self.usage + "\n").utf8))
            exit(64)
        }
        do {
            try await Self.run(plugin, seconds: seconds, inRooms: inRooms)
        } catch {
            FileHandle.standardError.write(Data("plugin-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    private static func run(_ plugin: PluginExecutable, seconds: Int, inRooms: Bool) async throws {
        var logger = Logger(label: "plugin-bench")
        logger.logLevel = .warning
        var settings = PluginSettings()
        settings.requestTimeout = .seconds(1)

        try await PluginHost.withPlugins(
            [plugin], settings: settings, builtIns: BuiltInHandlers.all,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { plugins in
            let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all + plugins.handlers)
            let registry = RoomRegistry(
                limits: RelayLimits(), eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
            let bench = Bench(dispatcher: dispatcher, registry: registry, logger: logger, inRooms: inRooms)
            _ = await bench.run(senders: 1, for: .seconds(1))  // warm-up
            for senders in [1, 8, 64] {
                let result = await bench.run(senders: senders, for: .seconds(seconds))
                print(result.line(senders: senders))
            }
        }
    }
}

/// Senders that each send `echo` and wait for `echoed`, in a loop.
struct Bench: Sendable {
    let dispatcher: MessageDispatcher
    let registry: RoomRegistry
    let logger: Logger
    /// Whether each sender creates a room first.
    let inRooms: Bool

    struct Result {
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        /// Error replies by code.
        var failures: [String: Int] = [:]
        var elapsed: Duration = .zero

        func line(senders: Int) -> String {
            let seconds = Double(self.elapsed.components.seconds) + Double(self.elapsed.components.attoseconds) * 1e-18
            let rate = Double(self.histogram.totalCount) / seconds
            func us(_ percentile: Double) -> String { "\(self.histogram.valueAtPercentile(percentile)) µs" }
            return "senders \(senders): \(Int(rate)) round trips/s, p50 \(us(50)), p99 \(us(99)), p99.9 \(us(99.9)), "
                + "max \(self.histogram.max) µs, failures \(self.failures.isEmpty ? "none" : "\(self.failures)")"
        }
    }

    func run(senders: Int, for duration: Duration) async -> Result {
        let start = ContinuousClock.now
        let deadline = start + duration
        var total = Result()
        await withTaskGroup(of: Result.self) { group in
            for _ in 0..<senders {
                group.addTask { await self.sender(until: deadline) }
            }
            for await partial in group {
                total.histogram.add(partial.histogram)
                total.failures.merge(partial.failures, uniquingKeysWith: +)
            }
        }
        total.elapsed = ContinuousClock.now - start
        return total
    }

    private func sender(until deadline: ContinuousClock.Instant) async -> Result {
        let connection = PlayerConnection(queueCapacity: 16) { _ in }
        let session = ConnectionSession(
            connection: connection, urlRoomID: "new", registry: self.registry, logger: self.logger)
        var result = Result()
        if self.inRooms {
            await self.dispatcher.dispatch(
                #"{"type":"create_room","room_name":"bench","player_name":"bench"}"#, session: session)
            for _ in 0..<2 { _ = await connection.outbound.next() }  // player_joined, room_created
        }
        var sequence = 0
        while ContinuousClock.now < deadline {
            sequence += 1
            let sent = ContinuousClock.now
            await self.dispatcher.dispatch(#"{"type":"echo","seq":\#(sequence)}"#, session: session)
            guard let reply = await connection.outbound.next() else { break }
            let elapsed = ContinuousClock.now - sent
            if reply.readableBytesView.starts(with: #"{"type":"echoed""#.utf8) {
                let (seconds, attoseconds) = elapsed.components
                result.histogram.record(UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)))
            } else {
                let code = (try? JSONParser.parse(Array(reply.readableBytesView)))?.objectValue?["code"]?.stringValue
                result.failures[code ?? "unreadable", default: 0] += 1
            }
        }
        return result
    }
}

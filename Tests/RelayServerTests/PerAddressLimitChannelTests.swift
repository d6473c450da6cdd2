import HummingbirdCore
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RelayServer

@Suite("Per-address limit at a connection's setup")
struct PerAddressLimitChannelTests {
    /// How many connections reached the wrapped setup.
    final class Setups: Sendable {
        let count = Mutex(0)
    }

    /// A child channel that only counts its setups: the server's own (``RelayChildChannel``) would
    /// serve the connection.
    struct CountingChannel: ServerChildChannel {
        struct Value: ServerChildChannelValue {
            let channel: any Channel
        }

        let setups: Setups

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
            self.setups.count.withLock { $0 += 1 }
            return channel.eventLoop.makeSucceededFuture(Value(channel: channel))
        }

        func handle(value: Value, logger: Logger) async {}
    }

    /// Connections opened at once from one address all pass ``PerAddressAcceptFilter``, which only
    /// looks: none is counted until it is set up, on the child loops. The setup is then the one
    /// place that refuses those past the limit (and those accepted before the filter is installed);
    /// the live tests, which connect one at a time, never reach it. Here two connections from one
    /// address allowed one are set up: the second must be closed, and not handed to the server's
    /// own setup.
    @Test("A connection set up past its address's limit is closed, never served; a closed one makes room")
    func refusedAtSetup() throws {
        let setups = Setups()
        let limit = PerAddressLimitChannel(
            base: CountingChannel(setups: setups), connections: ConnectionsPerAddress(.init(maximum: 1)),
            clients: ClientAddressPolicy())
        var channels: [EmbeddedChannel] = []
        /// Sets up a connection from `ip` as the server does once it is accepted: whether it was
        /// accepted (else refused), and the connection.
        func setUp(_ ip: String) throws -> (accepted: Bool, channel: EmbeddedChannel) {
            let channel = EmbeddedChannel()
            channels.append(channel)
            // Active, with its address.
            try channel.connect(to: try SocketAddress(ipAddress: ip, port: 50_000)).wait()
            let value = try limit.setup(channel: channel, logger: Logger(label: "test")).wait()
            #expect(value.channel === channel)
            channel.embeddedEventLoop.run()
            guard case .accepted = value else { return (false, channel) }
            return (true, channel)
        }

        let first = try setUp("203.0.113.7")
        #expect(first.accepted && first.channel.isActive)
        let second = try setUp("203.0.113.7")
        #expect(!second.accepted, "served past the limit")
        #expect(!second.channel.isActive, "left open")
        #expect(setups.count.withLock { $0 } == 1)
        #expect(try setUp("203.0.113.8").accepted, "another address")

        // The refused connection's close gives no place back; the first's does.
        #expect(try setUp("203.0.113.7").accepted == false)
        _ = try first.channel.finish()
        #expect(try setUp("203.0.113.7").accepted)
        #expect(setups.count.withLock { $0 } == 3)

        for channel in channels {
            #expect(try channel.finish(acceptAlreadyClosed: true).isClean)
        }
    }
}

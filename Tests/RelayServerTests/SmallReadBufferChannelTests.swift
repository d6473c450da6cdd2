import HummingbirdCore
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import RelayServer

@Suite("Read buffer of accepted connections")
struct SmallReadBufferChannelTests {
    /// A child channel that only records what the wrapper set before its own setup ran.
    struct RecordingChannel: ServerChildChannel {
        struct Value: ServerChildChannelValue {
            let channel: any Channel
            let allocatorAtSetup: AdaptiveRecvByteBufferAllocator?
        }

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
            channel.getOption(ChannelOptions.recvAllocator).map { allocator in
                Value(channel: channel, allocatorAtSetup: allocator as? AdaptiveRecvByteBufferAllocator)
            }
        }

        func handle(value: Value, logger: Logger) async {}
    }

    @Test func setsA512ByteFirstReadBufferBeforeTheWrappedSetup() throws {
        let channel = EmbeddedChannel()
        let wrapped = SmallReadBufferChannel(base: RecordingChannel())
        let value = try wrapped.setup(channel: channel, logger: Logger(label: "test")).wait()
        let allocator = try #require(value.allocatorAtSetup)
        #expect(allocator.initial == 512)
        #expect(allocator.minimum == 64)
        #expect(allocator.maximum == 65536)
        #expect(try channel.finish().isClean)
    }
}

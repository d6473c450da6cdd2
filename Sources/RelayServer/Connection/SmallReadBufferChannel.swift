import HummingbirdCore
import Logging
import NIOCore

/// A server child channel whose connections start with a small socket read buffer.
///
/// NIO keeps each connection's read buffer between reads, so its first size is memory every
/// idle connection holds for good: NIO's default (2 KB) was ~5 % of an idle relay connection.
/// Relay messages and WebSocket upgrade requests are a few hundred bytes; a connection that
/// reads more gets a larger buffer from the same adaptive allocator after its first full read.
/// hummingbird sets no child channel options of its own beyond half-closure, hence this wrapper.
struct SmallReadBufferChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    /// Sizes of a connection's socket read buffer: NIO's defaults, but starting at 512 bytes.
    static var readBufferSizes: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)
    }

    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Set before the first read: the first buffer allocated is the one the connection keeps.
        if let options = channel.syncOptions {
            do {
                try options.setOption(ChannelOptions.recvAllocator, value: Self.readBufferSizes)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return self.base.setup(channel: channel, logger: logger)
        }
        return channel.setOption(ChannelOptions.recvAllocator, value: Self.readBufferSizes).flatMap {
            self.base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.base.handle(value: value, logger: logger)
    }
}

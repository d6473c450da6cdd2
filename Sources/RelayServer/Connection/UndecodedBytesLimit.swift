import Logging
import NIOCore
import NIOHTTP1

/// Bounds what NIO's HTTP decoder holds without making request parts of it.
///
/// After a request NIO's parser takes for an upgrade (`Upgrade` with `Connection: upgrade`, such as
/// `h2c`, or a `CONNECT`) that the server answers as an ordinary request, the parser reads nothing
/// more, and its decoder kept every byte the client sent next for as long as the connection lasted:
/// 300 MiB in 0.7 s over loopback. While it parses, a read makes a part at once (a body's bytes)
/// or within a head's 16 KiB. So once ``limit`` bytes have come without a part, the connection is
/// closed.
///
/// Two handlers share the count: ``Reads`` before the decoder, ``Parts`` right after it. Both
/// leave when the connection becomes a room socket (``remove(from:)``).
enum UndecodedBytesLimit {
    /// Far more than a head, or a read, can hold.
    static let limit = 1024 * 1024

    /// The handlers to put before and after the decoder.
    static func handlers(logs: WarningThrottle, logger: Logger) -> (reads: Reads, parts: Parts) {
        let count = Count()
        return (Reads(count: count, logs: logs, logger: logger), Parts(count: count))
    }

    /// Takes both handlers out of `channel`'s pipeline (on the channel's event loop).
    static func remove(from channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let reads = try? pipeline.handler(type: Reads.self) { pipeline.removeHandler(reads, promise: nil) }
        if let parts = try? pipeline.handler(type: Parts.self) { pipeline.removeHandler(parts, promise: nil) }
    }

    /// Bytes read since the decoder last passed on a part. Both handlers run on the connection's
    /// event loop.
    final class Count {
        var bytes = 0
    }

    /// Counts what is read, and closes the connection once too much has made no part.
    final class Reads: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer

        private let count: Count
        /// How often a close is logged at info (the server's, shared by its connections).
        private let logs: WarningThrottle
        private let logger: Logger

        fileprivate init(count: Count, logs: WarningThrottle, logger: Logger) {
            self.count = count
            self.logs = logs
            self.logger = logger
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard context.channel.isActive else { return }
            self.count.bytes += self.unwrapInboundIn(data).readableBytes
            guard self.count.bytes <= UndecodedBytesLimit.limit else {
                self.logger.log(
                    level: self.logs.shouldWarn() ? .info : .debug, "http.undecoded_bytes.closed",
                    metadata: ["bytes": "\(self.count.bytes)"])
                return context.close(promise: nil)
            }
            context.fireChannelRead(data)
        }
    }

    /// Starts the count again with each part the decoder passes on.
    final class Parts: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart

        private let count: Count

        fileprivate init(count: Count) {
            self.count = count
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.count.bytes = 0
            context.fireChannelRead(data)
        }
    }
}

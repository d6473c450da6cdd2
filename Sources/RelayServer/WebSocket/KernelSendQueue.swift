import NIOCore

#if os(Linux)
    import Glibc
#endif

/// What the kernel still holds of a connection's output, read from Linux's `TCP_INFO`: a close
/// frame written to the socket may wait there behind megabytes of a backlog (a fast path's send
/// buffer grows to several) while the client reads them.
struct KernelSendQueue: Equatable {
    /// Whether every byte written to the socket has been sent and acknowledged.
    var isEmpty: Bool
    /// All the bytes the client has acknowledged on this connection.
    var bytesAcknowledged: UInt64

    /// The queue of `channel`'s socket; nil where `TCP_INFO` cannot say (not Linux, not a socket).
    static func of(_ channel: any Channel) -> EventLoopFuture<KernelSendQueue?> {
        #if os(Linux)
            guard let socket = channel as? any SocketOptionProvider else {
                return channel.eventLoop.makeSucceededFuture(nil)
            }
            // Linux's `struct tcp_info` as far as `tcpi_notsent_bytes` (kernel 4.6): Glibc declares
            // only the fields before `tcpi_pacing_rate`. An older kernel writes what it has; the rest
            // stays 0.
            let info: EventLoopFuture<TCPInfoBytes> = socket.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO))
            return info.map { bytes in
                withUnsafeBytes(of: bytes) { raw in
                    let unacknowledged = raw.loadUnaligned(fromByteOffset: 24, as: UInt32.self)  // segments
                    let unsent = raw.loadUnaligned(fromByteOffset: 144, as: UInt32.self)
                    return KernelSendQueue(
                        isEmpty: unacknowledged == 0 && unsent == 0,
                        bytesAcknowledged: raw.loadUnaligned(fromByteOffset: 120, as: UInt64.self))
                }
            }.recover { _ in nil }
        #else
            return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }

    /// 152 bytes: `tcp_info` up to and including `tcpi_notsent_bytes` (`tcpi_unacked` at 24,
    /// `tcpi_bytes_acked` at 120, `tcpi_notsent_bytes` at 144), and its padding.
    private typealias TCPInfoBytes = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )
}

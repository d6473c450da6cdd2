import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What the kernel still holds of a connection's output, read from Linux's `TCP_INFO`: a close
/// frame written to the socket may wait there behind megabytes of a backlog (a fast path's send
/// buffer grows to several) while the client reads them.
struct KernelSendQueue {
    /// Whether every byte written to the socket has been sent and acknowledged.
    var isEmpty: Bool
    /// All the bytes the client has acknowledged on this connection.
    var bytesAcknowledged: UInt64
    /// The receive window the client last advertised: it grows as the client's application reads
    /// what its own kernel took.
    var clientWindow: UInt32
    /// All the bytes written to the socket on this connection: sent once (retransmissions not
    /// counted again) or waiting to be. 0 and the unsent bytes only, before Linux 4.19.
    var bytesHandedOver: UInt64 = 0

    /// The queue of `channel`'s socket; nil where `TCP_INFO` cannot say (not Linux, not a socket).
    /// A kernel older than 4.6 does not count unsent bytes (a queue waiting for the client's window
    /// looks empty), and one older than 5.4 says no window (0): the close then comes sooner, as it
    /// did before this was read at all.
    static func of(_ channel: any Channel) -> EventLoopFuture<KernelSendQueue?> {
        #if os(Linux)
            guard let socket = channel as? any SocketOptionProvider else {
                return channel.eventLoop.makeSucceededFuture(nil)
            }
            // Linux's `struct tcp_info` as far as `tcpi_snd_wnd`: Glibc declares only the fields
            // before `tcpi_pacing_rate`. The kernel writes what it has; NIO zeroes the rest.
            let info: EventLoopFuture<TCPInfoBytes> = socket.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO))
            return info.map { bytes in
                withUnsafeBytes(of: bytes) { raw in
                    let unacknowledged = raw.loadUnaligned(fromByteOffset: 24, as: UInt32.self)  // segments
                    let unsent = raw.loadUnaligned(fromByteOffset: 144, as: UInt32.self)
                    let sent = raw.loadUnaligned(fromByteOffset: 200, as: UInt64.self)
                    let resent = raw.loadUnaligned(fromByteOffset: 208, as: UInt64.self)
                    return KernelSendQueue(
                        isEmpty: unacknowledged == 0 && unsent == 0,
                        bytesAcknowledged: raw.loadUnaligned(fromByteOffset: 120, as: UInt64.self),
                        clientWindow: raw.loadUnaligned(fromByteOffset: 228, as: UInt32.self),
                        bytesHandedOver: sent &- min(resent, sent) &+ UInt64(unsent))
                }
            }.recover { _ in nil }
        #else
            return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }

    /// 232 bytes: `tcp_info` up to and including `tcpi_snd_wnd` (`tcpi_unacked` at 24,
    /// `tcpi_bytes_acked` at 120, `tcpi_notsent_bytes` at 144, `tcpi_bytes_sent` at 200,
    /// `tcpi_bytes_retrans` at 208, `tcpi_snd_wnd` at 228).
    private typealias TCPInfoBytes = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )
}

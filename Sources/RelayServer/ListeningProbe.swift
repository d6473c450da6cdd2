import NIOCore
import NIOPosix

/// Whether the server's address can be listened on, tried before the start opens the store, prints
/// a generated key or starts a plugin: a port in use (or a `HOST` that names no address here) was
/// found only as the server ran, after all three, and a relay restarted in a loop started and
/// stopped every plugin each time. The port is let go at once and bound again moments later; one
/// that another process takes meanwhile still fails there.
enum ListeningProbe {
    /// Binds `host`:`port` as the server does (reusing an address in `TIME_WAIT`) and closes it.
    static func check(host: String, port: Int) async throws {
        guard port != 0 else { return }  // any free port: nothing to check
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port).get()
        try? await channel.close()
    }
}

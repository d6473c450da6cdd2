import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether the server's address can be listened on, tried before the start opens the store, prints
/// a generated key or starts a plugin: a port in use (or a `HOST` that names no address here) was
/// found only as the server ran, after all three, and a relay restarted in a loop started and
/// stopped every plugin each time. A socket is bound as the server's is and closed, never listening
/// (a client connecting meanwhile would have been taken in and left waiting); one that another
/// process takes in between still fails at the server's own bind.
enum ListeningProbe {
    /// Binds `host`:`port` (the first address it resolves to, as NIO's bind does; reusing an
    /// address in `TIME_WAIT`, as hummingbird does), then closes the socket.
    static func check(host: String, port: Int) throws {
        guard port != 0 else { return }  // any free port: nothing to check
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        #if canImport(Glibc)
            let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(address.protocol.rawValue, SOCK_STREAM, 0)
        #endif
        let named = address.protocol == .inet6 ? "[\(address.ipAddress ?? host)]" : address.ipAddress ?? host
        guard descriptor >= 0 else { throw Failure(address: "\(named):\(port)", call: "socket", errno: errno) }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Failure(address: "\(named):\(port)", call: "setsockopt(SO_REUSEADDR)", errno: errno)
        }
        let bound = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
        guard bound == 0 else { throw Failure(address: "\(named):\(port)", call: "bind", errno: errno) }
    }

    /// Why the address cannot be listened on, as `relay.failed` logs it: NIO's `IOError` printed
    /// `bind(127.0.0.1:8000): Address already in use) (errno: 98)`, its parenthesis astray.
    struct Failure: Error, CustomStringConvertible {
        let address: String
        let call: String
        let errno: Int32

        var description: String {
            "cannot listen on \(self.address): \(String(cString: strerror(self.errno))) (\(self.call), errno \(self.errno))"
        }
    }
}

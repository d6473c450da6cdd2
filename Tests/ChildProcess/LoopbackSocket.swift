#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why ``boundLoopbackSocket(listening:)`` could not make its socket.
public struct LoopbackSocketError: Error, CustomStringConvertible {
    public let description: String
}

/// A TCP socket bound to a port of the kernel's choosing on 127.0.0.1, listening if `backlog` is
/// given, and that port. Unlistening, a connect to it is refused, and the port stays the caller's
/// until it closes the socket. (Here, beside the child processes, for every test target's use.)
public func boundLoopbackSocket(listening backlog: Int32? = nil) throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw LoopbackSocketError(description: "socket: errno \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && backlog.map { listen(descriptor, $0) == 0 } != false
                && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else {
        let code = errno
        close(descriptor)
        throw LoopbackSocketError(description: "bind, listen or getsockname on 127.0.0.1: errno \(code)")
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}

/// A loopback port nothing listens on now (the kernel's pick for a socket bound and closed).
public func unusedLoopbackPort() throws -> Int {
    let (descriptor, port) = try boundLoopbackSocket()
    close(descriptor)
    return port
}

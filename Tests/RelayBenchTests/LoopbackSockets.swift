import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback socket bound to a port the kernel picked: listening, or not (a connect to it is then
/// refused, and the port stays the caller's until it closes the socket).
func loopbackSocket(listening: Bool) throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(descriptor >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let port = try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            try #require(bind(descriptor, generic, length) == 0 && (!listening || listen(descriptor, 8) == 0))
            try #require(getsockname(descriptor, generic, &length) == 0)
            return Int(UInt16(bigEndian: pointer.pointee.sin_port))
        }
    }
    return (descriptor, port)
}

/// A loopback port nothing listens on now.
func unusedLoopbackPort() throws -> Int {
    let (descriptor, port) = try loopbackSocket(listening: false)
    close(descriptor)
    return port
}

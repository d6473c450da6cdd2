#if canImport(Glibc)
    import Glibc
#endif

/// The whole of a `/proc` file, read to its end: such a file says it has no size, and a reader that
/// trusts that (or reads one page, as Foundation's `String(contentsOfFile:)` did) gets a part of a
/// table of thousands of connections, or of locks.
public func procFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var contents: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return count == 0 ? String(decoding: contents, as: UTF8.self) : nil }
        contents += buffer[..<count]
    }
}

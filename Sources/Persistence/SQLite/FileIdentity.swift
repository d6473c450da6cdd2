#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Which file a path names: its device and inode. A file deleted, or replaced by a rename, leaves
/// whoever still has it open with the old identity while the path names another file or none.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now (one `stat`), or nil when there is none.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }

    /// The file an open descriptor is (one `fstat`).
    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }

    /// How many names the file has left (`st_nlink`; 0 once deleted, while it stays open), if one
    /// of the process's open descriptors is this file.
    var linksWhileOpen: Int? { self.openDescriptors().first?.links }

    /// How many of the process's open descriptors are this file.
    var openDescriptorCount: Int { self.openDescriptors().count }

    /// The process's open descriptors that are this file, each with the file's count of names.
    private func openDescriptors() -> [(descriptor: Int32, links: Int)] {
        #if canImport(Glibc)
            let descriptors = "/proc/self/fd"
        #else
            let descriptors = "/dev/fd"
        #endif
        guard let directory = opendir(descriptors) else { return [] }
        defer { closedir(directory) }
        var found: [(descriptor: Int32, links: Int)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = stat()
            guard let descriptor = Int32(name), fstat(descriptor, &info) == 0 else { continue }
            if UInt64(info.st_dev) == self.device, UInt64(info.st_ino) == self.inode {
                found.append((descriptor, Int(info.st_nlink)))
            }
        }
        return found
    }
}

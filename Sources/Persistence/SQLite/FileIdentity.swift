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
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// What a plugins folder holds: the executables to start, and the files passed over that may
/// have been meant as plugins (a script saved without `chmod +x`), so the server can say so
/// rather than leave its message type unknown.
public struct PluginFolder: Sendable {
    /// Whether the folder could be opened.
    public var exists: Bool { self.openError == nil }
    /// Why the folder could not be opened (`errno`): `ENOENT` for a missing one, else one that
    /// is there but unreadable (`EACCES`) or not a folder (`ENOTDIR`).
    public let openError: Int32?
    /// The executable regular files directly inside, by name; hidden files and folders are skipped.
    public let executables: [PluginExecutable]
    /// The names of the regular files (hidden ones aside) that may not be executed: a README
    /// beside the plugins, or a plugin missing its execute permission.
    public let notExecutable: [String]

    /// Reads `directory`; a missing folder has no plugins.
    public init(reading directory: String) {
        guard let handle = opendir(directory) else {
            (self.openError, self.executables, self.notExecutable) = (errno, [], [])
            return
        }
        defer { closedir(handle) }
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        var executables: [String] = []
        var notExecutable: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let path = folder + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(path, X_OK) == 0 {
                executables.append(name)
            } else {
                notExecutable.append(name)
            }
        }
        self.openError = nil
        self.executables = executables.sorted().map { PluginExecutable(path: folder + $0) }
        self.notExecutable = notExecutable.sorted()
    }
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A plugin program the server starts: an executable file in the plugins folder, or one
/// named on the command line.
public struct PluginExecutable: Sendable, Hashable, CustomStringConvertible {
    /// Path of the program.
    public let path: String
    /// Extra arguments, if any.
    public let arguments: [String]

    public init(path: String, arguments: [String] = []) {
        self.path = path
        self.arguments = arguments
    }

    /// The file name, for logs.
    public var description: String { String(self.path.split(separator: "/").last ?? Substring(self.path)) }

    /// The executable regular files directly inside `directory`, by name; hidden files,
    /// folders and non-executable files (a README beside the plugins) are skipped. A
    /// missing folder has no plugins.
    public static func discover(in directory: String) -> [PluginExecutable] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        var paths: [String] = []  // one folder's: sorted as their names are
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            let path = folder + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(path, X_OK) == 0 else { continue }
            paths.append(path)
        }
        return paths.sorted().map { PluginExecutable(path: $0) }
    }
}

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
    /// The regular files (hidden ones aside) whose names are not UTF-8, which cannot be started:
    /// each with its invalid bytes as replacement characters, for the log.
    public let notUTF8: [String]
    /// The regular files named as an editor's or a package manager's copies (``isBackupName(_:)``),
    /// not started: `cp -p` and many editors keep the execute bit, and a filter or an event
    /// listener started twice would see everything twice.
    public let backups: [String]

    /// Name endings of an editor's backup (`dice.py~`), a copy kept by hand or by a merge
    /// (`.bak`, `.orig`, `.rej`), and a package manager's (`.dpkg-old`…, `.rpmnew`…).
    static let backupSuffixes = [
        "~", ".bak", ".orig", ".rej", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".rpmnew", ".rpmsave",
    ]

    /// Whether `name` is a copy of a file rather than a plugin.
    public static func isBackupName(_ name: String) -> Bool {
        Self.backupSuffixes.contains { name.hasSuffix($0) }
    }

    /// Reads `directory`; a missing folder has no plugins.
    public init(reading directory: String) {
        guard let handle = opendir(directory) else {
            (self.openError, self.executables, self.notExecutable, self.notUTF8, self.backups) = (errno, [], [], [], [])
            return
        }
        defer { closedir(handle) }
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        var executables: [String] = []
        var notExecutable: [String] = []
        var notUTF8: [String] = []
        var backups: [String] = []
        while let entry = readdir(handle) {
            let bytes = Self.name(of: entry)
            guard bytes.first != UInt8(ascii: ".") else { continue }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                // Its path as a String would name another file (or none): told, not started.
                var info = stat()
                let isRegular =
                    fstatat(dirfd(handle), bytes.map { CChar(bitPattern: $0) } + [0], &info, 0) == 0
                    && (info.st_mode & S_IFMT) == S_IFREG
                if isRegular { notUTF8.append(String(decoding: bytes, as: UTF8.self)) }
                continue
            }
            let path = folder + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if Self.isBackupName(name) {
                backups.append(name)
            } else if access(path, X_OK) == 0 {
                executables.append(name)
            } else {
                notExecutable.append(name)
            }
        }
        self.openError = nil
        self.executables = executables.sorted().map { PluginExecutable(path: folder + $0) }
        self.notExecutable = notExecutable.sorted()
        self.notUTF8 = notUTF8.sorted()
        self.backups = backups.sorted()
    }

    /// The bytes of `entry`'s name, read in place up to its NUL. A `dirent` is as long as its
    /// name (`d_reclen`), not the 256 bytes `d_name` is declared with: copying the field, as
    /// `withUnsafeBytes(of: entry.pointee.d_name)` does, read past the end of a short entry.
    private static func name(of entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
        let offset = MemoryLayout<dirent>.offset(of: \.d_name)!
        let name = UnsafeRawPointer(entry).advanced(by: offset).assumingMemoryBound(to: CChar.self)
        return Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))
    }
}

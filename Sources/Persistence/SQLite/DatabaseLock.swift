import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// One server's hold on its database. Its leaderboards and ranks live in its memory, kept by its
/// own writes, so a second server on the same file (two replicas on one volume, a deploy that
/// starts the new process before the old one has stopped) would silently miss the first's rows,
/// and the first the second's, until a restart.
///
/// An exclusive `flock` on a file beside the database (`game.db.lock`; beside a symbolic link's
/// target, as SQLite's own files are, so that two links to one file share it): the kernel lets go
/// when the process ends, however it ends, so the lock never goes stale, and the file is left in
/// place. Other programs (the `sqlite3` shell) do not take it, and may still edit the file with the
/// server stopped.
///
/// The database file itself is locked too, the same way (SQLite's own locks are `fcntl` byte
/// ranges, which a `flock` does not touch): the lock file is found by the database's path, so a
/// hard link to the file from another folder, or a `game.db.lock` deleted while its relay ran,
/// let a second relay in.
final class DatabaseLock: Sendable {
    /// The lock file, open (internal for a test that copies it, as a child between `fork` and
    /// `exec` holds a copy).
    let descriptor: Int32
    /// The database file, open only to be locked, and closed only once SQLite has closed it: a
    /// close drops every `fcntl` lock this process holds on the file, SQLite's included.
    private let databaseDescriptor: Int32
    private let isHeld = Atomic(true)

    /// Takes the lock for the database at `databasePath`, or says why it cannot.
    init(databasePath: String) throws(StoreOpeningError) {
        let path = Self.resolved(databasePath) + ".lock"
        // Read-only if need be: one left by a run as another user (`sudo`) can still be locked.
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        let openError = errno
        if descriptor < 0, openError == EACCES, access(path, F_OK) == 0 {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard descriptor >= 0 else {
            let reason = Self.errorText(openError == EACCES ? openError : errno)
            throw StoreOpeningError(path: databasePath, reason: "cannot open \(path): \(reason)")
        }
        let heldBy =
            "another relay is using it (\(path) is locked; the lock goes when that process ends: do not delete the file)"
        if let reason = Self.lock(descriptor, naming: path, heldBy: heldBy) {
            close(descriptor)
            throw StoreOpeningError(path: databasePath, reason: reason)
        }
        do {
            self.databaseDescriptor = try Self.lockDatabaseFile(databasePath)
        } catch {
            flock(descriptor, LOCK_UN)
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    /// Opens the database file (creating it empty, as SQLite would) and locks it.
    private static func lockDatabaseFile(_ databasePath: String) throws(StoreOpeningError) -> Int32 {
        let descriptor = open(databasePath, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreOpeningError(path: databasePath, reason: "cannot open it: \(Self.errorText())")
        }
        let heldBy =
            "another relay is using it (the file is locked: that relay opened it by another name, a hard link, "
            + "or its lock file was deleted; the lock goes when that process ends)"
        if let reason = Self.lock(descriptor, naming: "it", heldBy: heldBy) {
            Self.closeUnlessOpenElsewhere(descriptor)
            throw StoreOpeningError(path: databasePath, reason: reason)
        }
        return descriptor
    }

    /// Takes an exclusive `flock` on `descriptor`'s file; nil once held, else why not: `heldBy`
    /// when another process holds it.
    private static func lock(_ descriptor: Int32, naming file: String, heldBy: String) -> String? {
        guard flock(descriptor, LOCK_EX | LOCK_NB) != 0 else { return nil }
        return errno == EWOULDBLOCK ? heldBy : "cannot lock \(file): \(Self.errorText())"
    }

    /// Closes `descriptor` unless this process has its file open through another one too (two
    /// stores of one program on one file): a close would drop SQLite's `fcntl` locks on the file
    /// there, and another process could then delete a WAL still in use. Kept open, it is lost.
    private static func closeUnlessOpenElsewhere(_ descriptor: Int32) {
        if let file = FileIdentity(descriptor: descriptor), file.openDescriptorCount > 1 { return }
        close(descriptor)
    }

    /// `path` as SQLite opens it: a symbolic link in its last part followed to its target, which
    /// may not exist yet (else the first relay would lock beside the link, and a second, once the
    /// target exists, beside the target), and its folder's links resolved. A name that is not
    /// UTF-8 on the way leaves `path` as it is, rather than name a folder that is not there.
    private static func resolved(_ path: String) -> String {
        var current = path
        for _ in 0..<100 {  // as many links as SQLite follows (`SQLITE_MAX_SYMLINKS`)
            var target = [UInt8](repeating: 0, count: Int(PATH_MAX))
            let count = target.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { readlink(current, $0.baseAddress!, $0.count) }
            }
            guard count > 0 else { break }
            guard let link = String(validating: target[..<count], as: UTF8.self) else { return path }
            current = link.hasPrefix("/") ? link : Self.split(current).folder + "/" + link
        }
        let (folder, name) = Self.split(current)
        guard let real = realpath(folder, nil) else { return current }
        defer { free(real) }
        guard let realFolder = String(validatingCString: real) else { return path }
        return realFolder + "/" + name
    }

    /// The folder (`.` if none is named) and the last part of `path`.
    private static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    deinit {
        self.release()
    }

    /// Lets another server open the database (once this one's connections are closed).
    func release() {
        guard self.isHeld.exchange(false, ordering: .acquiringAndReleasing) else { return }
        // Unlocked first: a close drops the lock only with the last copy of the descriptor, and a
        // process this one starts (a plugin, a test's child relay) holds copies from its `fork`
        // to its `exec`, long enough under load for a store reopened meanwhile to find it locked.
        flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
        flock(self.databaseDescriptor, LOCK_UN)
        close(self.databaseDescriptor)
    }

    private static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}

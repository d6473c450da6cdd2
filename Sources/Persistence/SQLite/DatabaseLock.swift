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
final class DatabaseLock: Sendable {
    private let descriptor: Int32
    private let isHeld = Atomic(true)

    /// Takes the lock for the database at `databasePath`, or says why it cannot.
    init(databasePath: String) throws(StoreOpeningError) {
        let path = Self.resolved(databasePath) + ".lock"
        // Read-only if need be: one left by a run as another user (`sudo`) can still be locked.
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if descriptor < 0, errno == EACCES { descriptor = open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            throw StoreOpeningError(path: databasePath, reason: "cannot open \(path): \(Self.errorText())")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason =
                errno == EWOULDBLOCK
                ? "another relay is using it (\(path) is locked; the lock goes when that process ends: "
                    + "do not delete the file)"
                : "cannot lock \(path): \(Self.errorText())"
            close(descriptor)
            throw StoreOpeningError(path: databasePath, reason: reason)
        }
        self.descriptor = descriptor
    }

    /// `path` with its symbolic links resolved, if it exists.
    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    deinit {
        self.release()
    }

    /// Lets another server open the database (once this one's connections are closed).
    func release() {
        guard self.isHeld.exchange(false, ordering: .acquiringAndReleasing) else { return }
        close(self.descriptor)  // which drops the lock
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}

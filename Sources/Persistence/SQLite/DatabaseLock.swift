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
/// An exclusive `flock` on a file beside the database (`game.db.lock`): the kernel lets go when
/// the process ends, however it ends, so the lock never goes stale. Other programs (the `sqlite3`
/// shell) do not take it, and may still edit the file with the server stopped.
final class DatabaseLock: Sendable {
    private let descriptor: Int32
    private let isHeld = Atomic(true)

    /// Takes the lock for the database at `databasePath`, or says why it cannot.
    init(databasePath: String) throws(StoreOpeningError) {
        let path = databasePath + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StoreOpeningError(path: databasePath, reason: "cannot open \(path): \(Self.errorText())")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason =
                busy ? "another relay is using it (\(path) is locked)" : "cannot lock \(path): \(Self.errorText())"
            close(descriptor)
            throw StoreOpeningError(path: databasePath, reason: reason)
        }
        self.descriptor = descriptor
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

import Foundation
import Logging

extension BatchingWriter {
    /// Whether the WAL file was deleted or replaced since the database was prepared. The connection
    /// would go on committing to the file it has open, which no connection opened later reads and
    /// which is gone at exit, with every write since the last checkpoint. SQLite itself never does
    /// that while this connection is open: it cuts the file back (`journal_size_limit`, checkpoints)
    /// but deletes it only when the last connection closes.
    ///
    /// When it was, rescues the frames (once, or at each call until that succeeds).
    func walFileHasMoved() -> Bool {
        switch self.walFile {
        case .unknown:
            return false
        case .inPlace(let identity):
            guard FileIdentity(path: self.connection.walPath) != identity else { return false }
            self.walFile = .moved(rescued: self.rescueOrphanedWAL())
        case .moved(rescued: false):
            self.walFile = .moved(rescued: self.rescueOrphanedWAL())
        case .moved(rescued: true):
            break
        }
        return true
    }

    /// Notes which WAL file the connection commits to, once the database is in WAL mode: SQLite
    /// opened it then, and keeps it open while the connection is.
    func watchWALFile() {
        if let identity = FileIdentity(path: self.connection.walPath) {
            self.walFile = .inPlace(identity)
        } else {
            self.logger.warning(
                "persistence.wal.unwatched",
                metadata: ["db.wal": "\(self.connection.walPath)", "effect": "a deleted WAL file goes unnoticed"])
        }
    }

    /// Copies every frame of the WAL file the connection still has open into the database file: a
    /// checkpoint reads them through that open file, wherever the path now leads.
    private func rescueOrphanedWAL() -> Bool {
        do {
            try self.connection.checkpointCompletely()
            self.logger.notice(
                "persistence.wal.rescued",
                metadata: ["db.path": "\(self.connection.path)", "result": "committed writes copied into the database"])
            return true
        } catch {
            self.logger.log(
                level: self.repeatedEvents.level(.critical, for: "persistence.wal.rescue_failed"),
                "persistence.wal.rescue_failed",
                metadata: [
                    "db.path": "\(self.connection.path)", "error": "\(error)",
                    "effect": "writes committed since the last checkpoint are lost if the server stops before a retry",
                ])
            return false
        }
    }

    /// For a database file deleted or replaced while the store ran (a backup restored with `mv`),
    /// before the connection closes. SQLite then leaves the WAL in place, and the next start would
    /// lay the old file's pages over whatever stands at the path: nothing ties a WAL to its file.
    /// So the WAL goes into the file the connection has open (the old one, wherever it was renamed
    /// to) and is cut to nothing. Returns the WAL file the connection commits to, if that failed
    /// (``setAside(_:)`` checks it is still the one at its path).
    func emptyWALIntoMovedDatabase() -> (path: String, identity: FileIdentity)? {
        do {
            try self.connection.checkpointCompletely()
            self.logger.notice(
                "persistence.database.moved.wal_emptied",
                metadata: [
                    "db.path": "\(self.connection.path)",
                    "result": "the WAL's writes went into the file the server opened, not the one at the path now",
                ])
            return nil
        } catch {
            guard case .inPlace(let identity) = self.walFile else { return nil }
            return (self.connection.walPath, identity)
        }
    }

    /// Writes the database the connection has open into a new file beside the path
    /// (`game.db.orphaned-<time>`): that file was deleted while the store ran, and closing the
    /// connection would free it, with every write acknowledged into it (`VACUUM INTO` reads it, and
    /// its WAL, through the connection).
    func copyDeletedDatabaseAside() {
        let aside = "\(self.connection.path).orphaned-\(Int(Date().timeIntervalSince1970))"
        do {
            try self.connection.execute("VACUUM INTO '\(aside.replacingOccurrences(of: "'", with: "''"))'")
            self.logger.critical(
                "persistence.database.set_aside",
                metadata: [
                    "db.path": "\(self.connection.path)", "moved_to": "\(aside)",
                    "effect":
                        "the deleted file's writes are in that file only: restore it, or remove it to start empty",
                ])
        } catch {
            self.logger.critical(
                "persistence.database.not_set_aside",
                metadata: [
                    "db.path": "\(self.connection.path)", "error": "\(error)",
                    "effect": "the writes acknowledged into the deleted file are lost",
                ])
        }
    }

    /// Renames a WAL that could not be emptied out of the way of the next start, once the
    /// connection is closed.
    func setAside(_ wal: (path: String, identity: FileIdentity)) {
        let aside = "\(wal.path).orphaned-\(Int(Date().timeIntervalSince1970))"
        guard FileIdentity(path: wal.path) == wal.identity, rename(wal.path, aside) == 0 else {
            self.logger.critical(
                "persistence.wal.not_set_aside",
                metadata: [
                    "db.wal": "\(wal.path)",
                    "effect":
                        "the next start applies the replaced file's writes to the file at the path: remove the WAL first",
                ])
            return
        }
        self.logger.critical(
            "persistence.wal.set_aside",
            metadata: [
                "db.wal": "\(wal.path)", "moved_to": "\(aside)",
                "effect": "writes committed since the last checkpoint are in that file only",
            ])
    }
}

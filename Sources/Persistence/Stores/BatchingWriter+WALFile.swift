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
            self.logger.critical(
                "persistence.wal.rescue_failed",
                metadata: [
                    "db.path": "\(self.connection.path)", "error": "\(error)",
                    "effect": "writes committed since the last checkpoint are lost if the server stops before a retry",
                ])
            return false
        }
    }
}

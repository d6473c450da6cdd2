import Logging

extension BatchingWriter {
    /// Builds the mode index once a mode has been turned away from memory (``createModeIndex(now:)``).
    func createModeIndexIfOverflowed() {
        guard self.modes.hasOverflowed, !self.isClosed else { return }
        if case .absent = self.modeIndex {
            self.logger.warning(
                "persistence.game_modes.overflow",
                metadata: ["game_modes.in_memory": "\(self.modes.capacity)", "hint": "raise --game-modes-in-memory"])
        }
        self.createModeIndex()
    }

    /// Creates `idx_scores_mode_score`, which answers the leaderboards of the modes that memory
    /// does not hold (``GameModesInMemory``). Made only once a mode overflows, since every insert
    /// then pays for it. With the score in it a leaderboard reads its `limit` entries; on
    /// `game_mode` only each request would read every row of the mode, which a client can make as
    /// large as it has writes.
    ///
    /// A failed build (a full disk, another process's lock) is tried again after a commit once
    /// ``PersistenceConfiguration/modeIndexRetryDelay`` has passed, the delay doubling with each
    /// failure up to an hour: answers stay right without the index, but each of those leaderboards
    /// scans the table, and a retry after every commit would build over the whole table each time.
    func createModeIndex(now: ContinuousClock.Instant = .now) {
        let delay: Duration
        switch self.modeIndex {
        case .present: return
        case .absent: delay = self.configuration.modeIndexRetryDelay
        case .failed(let retryAt, let nextDelay):
            guard now >= retryAt else { return }
            delay = nextDelay
        }
        do {
            try self.connection.execute(
                "CREATE INDEX IF NOT EXISTS idx_scores_mode_score ON scores(game_mode, score DESC)")
            self.modeIndex = .present
        } catch {
            self.modeIndex = .failed(retryAt: now + delay, nextDelay: min(delay * 2, Self.longestModeIndexRetryDelay))
            self.logger.error(
                "persistence.mode_index.failed",
                metadata: [
                    "error": "\(error)", "retry.seconds": "\(delay.components.seconds)",
                    "effect": "leaderboards of modes beyond memory scan the table until it is made",
                ])
        }
    }

    /// Drops the mode index an earlier run made, at a start-up where memory holds every mode (the
    /// cap was raised): it would only cost every insert.
    /// A drop that fails (a full disk: it needs WAL frames) keeps the index, with a warning: it
    /// costs inserts only, and a start on a full disk otherwise needs no room to write. Whether
    /// it is there is then unknown: should a mode overflow, the build (`IF NOT EXISTS`) is due at once.
    func dropModeIndex() {
        do {
            try self.connection.execute("DROP INDEX IF EXISTS idx_scores_mode_score")
            self.modeIndex = .absent
        } catch {
            self.modeIndex = .failed(retryAt: .now, nextDelay: self.configuration.modeIndexRetryDelay)
            self.logger.warning(
                "persistence.mode_index.not_dropped",
                metadata: [
                    "error": "\(error)",
                    "effect": "if it is there, every insert updates it until a later start drops it",
                ])
        }
    }
}

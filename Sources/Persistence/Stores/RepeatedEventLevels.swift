import Logging

/// The level to log an event at that can come back with every batch: a moved database or WAL
/// file refuses each batch until the restart, and a full disk fails each. The first line goes out
/// at the event's level; its repeats within the interval go to debug, where a busy server would
/// otherwise write a critical line per batch (on the disk that may be the full one). Each key
/// (an event, or an event and an SQLite result code) has its own clock.
struct RepeatedEventLevels {
    let interval: Duration
    private var loggedAt: [String: ContinuousClock.Instant] = [:]

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// `level` when `key` was not logged at its level within the interval (it is now), else debug.
    mutating func level(
        _ level: Logger.Level, for key: String, now: ContinuousClock.Instant = .now
    ) -> Logger.Level {
        if let last = self.loggedAt[key], now - last < self.interval { return .debug }
        self.loggedAt[key] = now
        return level
    }
}

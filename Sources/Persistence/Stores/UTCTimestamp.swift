import Foundation

/// Timestamps in the format SQLite's `CURRENT_TIMESTAMP` writes: `YYYY-MM-DD HH:MM:SS`, UTC.
enum UTCTimestamp {
    static func now() -> String { self.string(from: time(nil)) }

    static func string(from seconds: time_t) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(twoDigits(parts.tm_mon + 1))-\(twoDigits(parts.tm_mday)) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec))"
    }
}

import Foundation

/// Wall-clock readings the protocol carries.
enum WallClock {
    /// Milliseconds since 1970, as a float (the old backend's `time.time() * 1000`).
    static func milliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }

    /// ISO 8601 with milliseconds, UTC, for chat timestamps.
    static func iso8601() -> String {
        Date().formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `Date` header's value (RFC 9110 §5.6.7, IMF-fixdate) for answers written outside
/// hummingbird's responder, which dates only its own: an origin server with a clock must date its
/// 2xx, 3xx and 4xx answers (§6.6.1), and uvicorn dated every answer. Written by hand, not with
/// `strftime`, whose day and month names follow the locale.
enum HTTPDate {
    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// The date of `secondsSince1970` (now when nil), in UTC: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func header(secondsSince1970: Int? = nil) -> String {
        var seconds = time_t(secondsSince1970 ?? Int(time(nil)))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(fields.tm_year) + 1900
        return "\(dayNames[Int(fields.tm_wday)]), \(twoDigits(fields.tm_mday)) \(monthNames[Int(fields.tm_mon)]) "
            + "\(year) \(twoDigits(fields.tm_hour)):\(twoDigits(fields.tm_min)):\(twoDigits(fields.tm_sec)) GMT"
    }
}

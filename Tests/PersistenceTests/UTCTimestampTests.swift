import Foundation
import Testing

@testable import Persistence

/// Every row's `created_at` is written by ``UTCTimestamp``, not by SQLite: a slip in its calendar
/// (the year's offset, a month counted from 0) or its padding would date rows wrongly, and sort
/// them wrongly as text, where tests that only check the shape of "now" would not notice.
@Suite("UTC timestamps")
struct UTCTimestampTests {
    @Test("Fixed instants: the epoch, a leap day's last second, one- and two-digit fields")
    func fixedInstants() {
        #expect(UTCTimestamp.string(from: 0) == "1970-01-01 00:00:00")
        #expect(UTCTimestamp.string(from: 951_868_799) == "2000-02-29 23:59:59")
        #expect(UTCTimestamp.string(from: 1_000_000_000) == "2001-09-09 01:46:40")
        #expect(UTCTimestamp.string(from: 1_700_000_000) == "2023-11-14 22:13:20")
    }

    /// SQLite's own `datetime(…, 'unixepoch')` writes what `CURRENT_TIMESTAMP` does, so rows the
    /// old backend dated and rows this one dates read alike.
    @Test("The same text as SQLite's datetime() for the same second")
    func sameAsSQLite() throws {
        let sqlite = try RawDatabase(path: ":memory:")
        for seconds in [0, 59, 951_868_800, 1_234_567_890, 1_700_000_000, 4_102_444_799] {
            let expected = try sqlite.strings("SELECT datetime(\(seconds), 'unixepoch')")
            #expect([UTCTimestamp.string(from: time_t(seconds))] == expected, "\(seconds)")
        }
    }
}

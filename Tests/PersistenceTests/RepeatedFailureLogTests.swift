import Foundation
import Logging
import RecordedLogs
import Testing

@testable import Persistence

#if canImport(Glibc)
    import Glibc
#endif

/// A failure that comes back with every batch is logged at its level once an interval, not once a
/// batch: a busy server would otherwise write a line per batch, to a disk that may be full.
@Suite("Failures that repeat with every batch")
struct RepeatedFailureLogTests {
    @Test("An event is logged at its level again only once the interval has passed; each key has its own clock")
    func levelsOverTime() {
        var levels = RepeatedEventLevels(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(levels.level(.critical, for: "a", now: start) == .critical)
        #expect(levels.level(.critical, for: "a", now: start + .seconds(9)) == .debug)
        #expect(levels.level(.error, for: "b", now: start + .seconds(9)) == .error, "another key")
        // Measured from the last line at its level, not from the last repeat.
        #expect(levels.level(.critical, for: "a", now: start + .seconds(10)) == .critical)
        #expect(levels.level(.critical, for: "a", now: start + .seconds(19)) == .debug)
        #expect(levels.level(.critical, for: "a", now: start + .seconds(20)) == .critical)
    }

    @Test("Batches failing on the same I/O error log one error, the next at debug; a full disk after them logs its own")
    func failedBatchesAreLoggedOncePerError() async throws {
        try await withTemporaryDirectory { directory in
            let records = RecordedLogs()
            try await withStore(
                PersistenceConfiguration(databasePath: databasePath(in: directory)), loggingTo: records
            ) { store in
                _ = try await store.submit(submission("before", 1))
                for (code, expected) in [(EIO, PersistenceError.storageFailure), (ENOSPC, .diskFull)] {
                    await InjectedWriteErrors.failingWrites(in: directory, with: code) {
                        for attempt in Int64(0)..<3 {
                            // One write at a time: a batch each.
                            await #expect(throws: expected) { try await store.submit(submission("refused", attempt)) }
                        }
                    }
                }
                _ = try await store.submit(submission("after", 2))
            }
            let lines = records.entries.filter { $0.message == "persistence.batch.failed" }
            #expect(lines.map(\.level) == [.error, .debug, .debug, .error, .debug, .debug], "\(lines.map(\.metadata))")
            #expect(lines.allSatisfy { $0.metadata["db.batch.size"] == "1" })
        }
    }

    /// A damaged file fails every read that reaches the damage: one line per request would let a
    /// client write the log at the rate it sends them.
    @Test("Reads failing on a damaged file log one error, the next at debug")
    func failedReadsAreLoggedOncePerError() async throws {
        try await withTemporaryDirectory { directory in
            let path = databasePath(in: directory)
            try await withStore(PersistenceConfiguration(databasePath: path)) { store in
                for score in Int64(1)...2_000 { _ = try await store.submit(submission("p\(score)", score)) }
            }
            let records = RecordedLogs()
            try await withStore(PersistenceConfiguration(databasePath: path), loggingTo: records) { store in
                #expect(truncate(path, 4_096) == 0, "errno \(errno)")  // page 1 only: the rest reads as damage
                var failed = 0
                for score in 1_000...1_009 {
                    do { _ = try await store.personalBest(playerName: "p\(score)") } catch { failed += 1 }
                }
                try #require(failed == 10, "the reads did not meet the damage")
            }
            let lines = records.entries.filter { $0.message == "persistence.read.failed" }
            #expect(lines.map(\.level) == [.error] + Array(repeating: .debug, count: 9), "\(lines.map(\.metadata))")
        }
    }
}

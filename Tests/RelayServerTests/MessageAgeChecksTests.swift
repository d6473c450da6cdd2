import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RelayServer

/// One repeated task a loop for every room socket's age checks (``MessageAgeChecks``).
@Suite("MessageAgeChecks")
struct MessageAgeChecksTests {
    @Test("Each registered check runs once an interval, a bucket a tick, until cancelled; none once all are")
    func checksRunAtTheLoopsTicks() throws {
        let checks = try #require(MessageAgeChecks(limit: .seconds(64)))
        #expect(checks.interval == .seconds(16) && MessageAgeChecks.slices == 16)
        #expect(MessageAgeChecks(limit: .zero) == nil, "no limit, no checks")
        let loop = EmbeddedEventLoop()
        let runs = Mutex<[(String, UInt64)]>([])
        func record(_ name: String) -> () -> Void {
            { runs.withLock { $0.append((name, loop.now.uptimeNanoseconds)) } }
        }
        let start = loop.now.uptimeNanoseconds
        let first = checks.register(on: loop, record("first"))
        let second = checks.register(on: loop, record("second"))  // the next bucket: a tick (1 s) later
        loop.advanceTime(by: .seconds(33))
        let seconds = { (name: String) in
            runs.withLock { $0.filter { $0.0 == name }.map { ($0.1 - start) / 1_000_000_000 } }
        }
        #expect(seconds("first") == [1, 17, 33])
        #expect(seconds("second") == [2, 18])
        first.cancel()
        loop.advanceTime(by: .seconds(16))
        #expect(seconds("first") == [1, 17, 33], "cancelled")
        #expect(seconds("second") == [2, 18, 34])
        second.cancel()
        loop.advanceTime(by: .seconds(40))
        #expect(runs.withLock { $0.count } == 6)
        let again = checks.register(on: loop, record("again"))
        loop.advanceTime(by: .seconds(17))
        #expect(!seconds("again").isEmpty, "a loop's task starts again with its next check")
        again.cancel()
    }
}

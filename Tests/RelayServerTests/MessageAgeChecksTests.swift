import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RelayServer

/// One repeated task a loop for every room socket's age checks (``MessageAgeChecks``).
@Suite("MessageAgeChecks")
struct MessageAgeChecksTests {
    @Test("Each registered check runs at every tick of its loop until cancelled; none runs once all are")
    func checksRunAtTheLoopsTicks() throws {
        let checks = try #require(MessageAgeChecks(limit: .seconds(4)))
        #expect(checks.interval == .seconds(1))
        #expect(MessageAgeChecks(limit: .zero) == nil, "no limit, no checks")
        let loop = EmbeddedEventLoop()
        let runs = Mutex<[String]>([])
        let first = checks.register(on: loop) { runs.withLock { $0.append("first") } }
        let second = checks.register(on: loop) { runs.withLock { $0.append("second") } }
        loop.advanceTime(by: .seconds(1))
        #expect(runs.withLock { $0.sorted() } == ["first", "second"])
        first.cancel()
        loop.advanceTime(by: .seconds(1))
        #expect(runs.withLock { $0.sorted() } == ["first", "second", "second"])
        second.cancel()
        loop.advanceTime(by: .seconds(5))
        #expect(runs.withLock { $0.count } == 3)
        let again = checks.register(on: loop) { runs.withLock { $0.append("again") } }
        loop.advanceTime(by: .seconds(1))
        #expect(runs.withLock { $0.last } == "again", "a loop's task starts again with its next check")
        again.cancel()
    }
}

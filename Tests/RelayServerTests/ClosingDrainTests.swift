import NIOCore
import Testing

@testable import RelayServer

/// When a connection the server is closing is hung up before its close frame has been written.
@Suite("Closing drain")
struct ClosingDrainTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let limit = TimeAmount.seconds(5)

    @Test("A channel with work for the writer, a client that took bytes, or fewer unsent bytes: waited for")
    func progressKeepsWaiting() {
        var drain = ClosingDrain(startedAt: self.start, limit: self.limit, bufferedBytes: 100_000)
        let waitsWhileTheWriterHasWork = drain.keepsWaiting(
            now: self.start + .seconds(1), writerHasWork: true, bufferedBytes: 100_000)
        #expect(waitsWhileTheWriterHasWork)
        drain.clientTookBytes()
        let waitsAfterBytes = drain.keepsWaiting(
            now: self.start + .seconds(2), writerHasWork: false, bufferedBytes: 100_000)
        #expect(waitsAfterBytes)
        let waitsAsTheBufferShrinks = drain.keepsWaiting(
            now: self.start + .seconds(3), writerHasWork: false, bufferedBytes: 90_000)
        #expect(waitsAsTheBufferShrinks, "read below the low-water mark's flip: a slow reader")
        // Fewer than at the check before, not than at the start: 90,000 again is no progress.
        let waitsAtTheSameCount = drain.keepsWaiting(
            now: self.start + .seconds(4), writerHasWork: false, bufferedBytes: 90_000)
        #expect(!waitsAtTheSameCount, "the client read once, then stopped")
    }

    @Test("A client that took nothing for a whole check is hung up")
    func noProgressHangsUp() {
        var drain = ClosingDrain(startedAt: self.start, limit: self.limit, bufferedBytes: 50_000)
        drain.clientTookBytes()
        let waitsAfterBytes = drain.keepsWaiting(
            now: self.start + .seconds(1), writerHasWork: false, bufferedBytes: 50_000)
        #expect(waitsAfterBytes)
        let waitsAfterNothing = drain.keepsWaiting(
            now: self.start + .seconds(2), writerHasWork: false, bufferedBytes: 50_000)
        #expect(!waitsAfterNothing, "the bytes counted once")
        var unknown = ClosingDrain(startedAt: self.start, limit: self.limit, bufferedBytes: nil)
        let waitsWithoutCounts = unknown.keepsWaiting(
            now: self.start + .seconds(1), writerHasWork: false, bufferedBytes: nil)
        #expect(!waitsWithoutCounts)
    }

    @Test("A drain still going at the limit is hung up, however steadily the client reads")
    func limitEndsTheDrain() {
        var drain = ClosingDrain(startedAt: self.start, limit: self.limit, bufferedBytes: 0)
        drain.clientTookBytes()
        let waitsJustBeforeTheLimit = drain.keepsWaiting(
            now: self.start + self.limit - .milliseconds(1), writerHasWork: true, bufferedBytes: 0)
        #expect(waitsJustBeforeTheLimit)
        drain.clientTookBytes()
        let waitsAtTheLimit = drain.keepsWaiting(now: self.start + self.limit, writerHasWork: true, bufferedBytes: 0)
        #expect(!waitsAtTheLimit)
    }
}

import NIOCore
import Testing

@testable import RelayServer

/// When a connection the server is closing is hung up before its close frame has gone out.
@Suite("Closing drain")
struct ClosingDrainTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("A client that takes bytes, or a channel that takes writes, is waited for")
    func progressKeepsWaiting() {
        var drain = ClosingDrain(startedAt: self.start)
        let waitsWhileWritable = drain.keepsWaiting(now: self.start + .seconds(1), isWritable: true)
        #expect(waitsWhileWritable)
        drain.clientTookBytes()
        let waitsAfterBytes = drain.keepsWaiting(now: self.start + .seconds(2), isWritable: false)
        #expect(waitsAfterBytes)
    }

    @Test("A client that took nothing for a whole check is hung up")
    func noProgressHangsUp() {
        var drain = ClosingDrain(startedAt: self.start)
        drain.clientTookBytes()
        let waitsAfterBytes = drain.keepsWaiting(now: self.start + .seconds(1), isWritable: false)
        #expect(waitsAfterBytes)
        let waitsAfterNothing = drain.keepsWaiting(now: self.start + .seconds(2), isWritable: false)
        #expect(!waitsAfterNothing, "the bytes counted once")
    }

    @Test("A drain still going at the limit is hung up, however steadily the client reads")
    func limitEndsTheDrain() {
        var drain = ClosingDrain(startedAt: self.start)
        drain.clientTookBytes()
        let waitsJustBeforeTheLimit = drain.keepsWaiting(
            now: self.start + ClosingDrain.limit - .milliseconds(1), isWritable: true)
        #expect(waitsJustBeforeTheLimit)
        drain.clientTookBytes()
        let waitsAtTheLimit = drain.keepsWaiting(now: self.start + ClosingDrain.limit, isWritable: true)
        #expect(!waitsAtTheLimit)
    }
}

import NIOCore
import Testing

@testable import RelayServer

/// When a connection the server is closing is hung up once its close frame has been written to the
/// socket, from what the kernel says it still holds (``KernelSendQueue``).
@Suite("Close frame delivery")
struct CloseFrameDeliveryTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var deadline: NIODeadline { self.start + .seconds(6) }

    /// The kernel holding bytes or not, with the client's acknowledged total and window.
    func queue(holding: Bool, acknowledged: UInt64, window: UInt32 = 0) -> KernelSendQueue {
        KernelSendQueue(isEmpty: !holding, bytesAcknowledged: acknowledged, clientWindow: window)
    }

    /// Whether `delivery` waits on at `seconds` after the start, finding `queue`.
    func looks(
        _ delivery: inout CloseFrameDelivery, at seconds: Int64, finding queue: KernelSendQueue?
    ) -> Bool {
        delivery.keepsWaiting(now: self.start + .seconds(seconds), queue: queue)
    }

    @Test("While the kernel holds bytes, a client that acknowledges more is waited for; one that takes none is not")
    func deliveryKeepsWaiting() {
        var delivery = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 100))
        let tookSome = self.looks(&delivery, at: 1, finding: self.queue(holding: true, acknowledged: 200))
        let tookMore = self.looks(&delivery, at: 2, finding: self.queue(holding: true, acknowledged: 300))
        let tookNone = self.looks(&delivery, at: 3, finding: self.queue(holding: true, acknowledged: 300))
        #expect(tookSome && tookMore && !tookNone)
    }

    @Test("Once the kernel holds nothing, the client has a grace period, and longer while its window grows")
    func deliveredGetsAGraceThenWhileReading() {
        var delivery = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 100))
        // Delivered: one grace period to read and answer, whatever the window.
        let delivered = self.looks(&delivery, at: 1, finding: self.queue(holding: false, acknowledged: 500))
        // Its application reads what its kernel took: the window it advertises grows.
        let reading = self.looks(
            &delivery, at: 2, finding: self.queue(holding: false, acknowledged: 500, window: 9_000))
        let readingOn = self.looks(
            &delivery, at: 3, finding: self.queue(holding: false, acknowledged: 500, window: 20_000))
        // Read (or stopped): hung up.
        let done = self.looks(&delivery, at: 4, finding: self.queue(holding: false, acknowledged: 500, window: 20_000))
        #expect(delivered && reading && readingOn && !done)
    }

    @Test("A client that had everything at the first look gets one grace period, not a second")
    func deliveredAtOnceGetsOneGrace() {
        var delivery = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 100))
        let first = self.looks(&delivery, at: 1, finding: self.queue(holding: false, acknowledged: 100))
        let second = self.looks(&delivery, at: 2, finding: self.queue(holding: false, acknowledged: 100))
        #expect(first && !second)
    }

    @Test("At the deadline, or where the kernel cannot say, the socket closes")
    func deadlineAndNoInfoClose() {
        var unknown = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 100))
        let withoutInfo = self.looks(&unknown, at: 1, finding: nil)
        var late = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 100))
        let atTheDeadline = self.looks(&late, at: 6, finding: self.queue(holding: true, acknowledged: 900))
        #expect(!withoutInfo && !atTheDeadline)
    }

    @Test("The next look comes a grace period later, or at the deadline if that is sooner")
    func nextCheckKeepsToTheDeadline() {
        let delivery = CloseFrameDelivery(deadline: self.deadline, queue: self.queue(holding: true, acknowledged: 0))
        #expect(delivery.nextCheck(after: self.start + .seconds(1), grace: .seconds(1)) == .seconds(1))
        #expect(
            delivery.nextCheck(after: self.deadline - .milliseconds(300), grace: .seconds(1)) == .milliseconds(300))
    }
}

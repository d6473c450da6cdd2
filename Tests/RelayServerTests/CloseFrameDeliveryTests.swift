import NIOCore
import Testing

@testable import RelayServer

/// When a connection the server is closing is hung up once its close frame has been written to the
/// socket, from what the kernel says it still holds (``KernelSendQueue``). Times are from the write.
@Suite("Close frame delivery")
struct CloseFrameDeliveryTests {
    let written = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var deadline: NIODeadline { self.written + .seconds(6) }

    /// The kernel holding bytes or not, with the client's acknowledged total and window.
    func queue(holding: Bool, acknowledged: UInt64 = 100, window: UInt32 = 0) -> KernelSendQueue {
        KernelSendQueue(isEmpty: !holding, bytesAcknowledged: acknowledged, clientWindow: window)
    }

    func delivery(finding queue: KernelSendQueue) -> CloseFrameDelivery {
        CloseFrameDelivery(writtenAt: self.written, deadline: self.deadline, grace: .seconds(1), queue: queue)
    }

    /// Whether `delivery` waits on, looking `milliseconds` after the write and finding `queue`.
    func looks(
        _ delivery: inout CloseFrameDelivery, at milliseconds: Int64, finding queue: KernelSendQueue?
    ) -> Bool {
        delivery.keepsWaiting(now: self.written + .milliseconds(milliseconds), queue: queue)
    }

    @Test("While the kernel holds bytes, the client may take nothing for up to a grace period")
    func deliveryKeepsWaitingWhileTheClientTakesBytes() {
        var delivery = self.delivery(finding: self.queue(holding: true))
        let tookSome = self.looks(&delivery, at: 250, finding: self.queue(holding: true, acknowledged: 200))
        let stillWithinItsGrace = self.looks(
            &delivery, at: 1_000, finding: self.queue(holding: true, acknowledged: 200))
        let tookNoneForAGrace = self.looks(&delivery, at: 1_250, finding: self.queue(holding: true, acknowledged: 200))
        #expect(tookSome && stillWithinItsGrace && !tookNoneForAGrace)
    }

    @Test("A frame the kernel had delivered at the write gets one grace period from the write, not two")
    func deliveredAtTheWrite() {
        var delivery = self.delivery(finding: self.queue(holding: false))
        let before = self.looks(&delivery, at: 750, finding: self.queue(holding: false))
        let atTheGrace = self.looks(&delivery, at: 1_000, finding: self.queue(holding: false))
        #expect(before && !atTheGrace)
    }

    @Test("A frame delivered later gets a grace period from when the kernel was found holding nothing")
    func deliveredLater() {
        var delivery = self.delivery(finding: self.queue(holding: true))
        let delivered = self.looks(&delivery, at: 500, finding: self.queue(holding: false, acknowledged: 900))
        let within = self.looks(&delivery, at: 1_250, finding: self.queue(holding: false, acknowledged: 900))
        let after = self.looks(&delivery, at: 1_500, finding: self.queue(holding: false, acknowledged: 900))
        #expect(delivered && within && !after)
    }

    /// A kernel before 4.1 says nothing of acknowledged bytes (0): the delivery alone starts the grace.
    @Test("With no count of acknowledged bytes, the grace runs from the delivery")
    func deliveredWithoutAcknowledgedCounts() {
        var delivery = self.delivery(finding: self.queue(holding: true, acknowledged: 0))
        let holding = self.looks(&delivery, at: 750, finding: self.queue(holding: true, acknowledged: 0))
        let delivered = self.looks(&delivery, at: 900, finding: self.queue(holding: false, acknowledged: 0))
        let within = self.looks(&delivery, at: 1_750, finding: self.queue(holding: false, acknowledged: 0))
        let after = self.looks(&delivery, at: 1_900, finding: self.queue(holding: false, acknowledged: 0))
        #expect(holding && delivered && within && !after)
    }

    @Test("Once delivered, a window growing past its widest keeps the socket open; one going up and down does not")
    func aGrowingWindowIsAReadingClient() {
        var reading = self.delivery(finding: self.queue(holding: false, window: 1_000))
        let grew = self.looks(&reading, at: 750, finding: self.queue(holding: false, window: 5_000))
        let stillWithin = self.looks(&reading, at: 1_500, finding: self.queue(holding: false, window: 5_000))
        let stopped = self.looks(&reading, at: 1_750, finding: self.queue(holding: false, window: 5_000))
        #expect(grew && stillWithin && !stopped)
        var fluctuating = self.delivery(finding: self.queue(holding: false, window: 5_000))
        _ = self.looks(&fluctuating, at: 250, finding: self.queue(holding: false, window: 4_000))
        _ = self.looks(&fluctuating, at: 500, finding: self.queue(holding: false, window: 5_000))
        let back = self.looks(&fluctuating, at: 1_000, finding: self.queue(holding: false, window: 5_000))
        #expect(!back)
    }

    @Test("Once delivered, pongs acknowledged after it do not count as the client taking bytes")
    func pongsAfterDeliveryDoNotStretchIt() {
        var delivery = self.delivery(finding: self.queue(holding: false, acknowledged: 100))
        let pongInFlight = self.looks(&delivery, at: 500, finding: self.queue(holding: true, acknowledged: 106))
        let atTheGrace = self.looks(&delivery, at: 1_000, finding: self.queue(holding: true, acknowledged: 112))
        #expect(pongInFlight && !atTheGrace)
    }

    @Test("At the deadline, or where the kernel cannot say, the socket closes")
    func deadlineAndNoInfoClose() {
        var unknown = self.delivery(finding: self.queue(holding: true))
        let withoutInfo = self.looks(&unknown, at: 250, finding: nil)
        var late = self.delivery(finding: self.queue(holding: true))
        var taking = true
        for milliseconds in stride(from: 250, to: 6_000, by: 250) {
            taking =
                taking
                && self.looks(
                    &late, at: Int64(milliseconds),
                    finding: self.queue(holding: true, acknowledged: UInt64(milliseconds)))
        }
        let atTheDeadline = self.looks(&late, at: 6_000, finding: self.queue(holding: true, acknowledged: 9_000))
        #expect(!withoutInfo && taking && !atTheDeadline)
    }

    @Test("The next look comes an interval later, or at the deadline if that is sooner")
    func nextCheckKeepsToTheDeadline() {
        let delivery = self.delivery(finding: self.queue(holding: true))
        #expect(delivery.nextCheck(after: self.written + .seconds(1)) == CloseFrameDelivery.interval)
        #expect(delivery.nextCheck(after: self.deadline - .milliseconds(100)) == .milliseconds(100))
    }
}

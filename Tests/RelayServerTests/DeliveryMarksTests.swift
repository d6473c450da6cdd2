import Testing

@testable import RelayServer

/// ``DeliveryMarks`` without a socket: each call stands for a quarter of the age limit passing.
@Suite("DeliveryMarks")
struct DeliveryMarksTests {
    /// What each check says, for the bytes handed over and acknowledged at it.
    static func checks(_ counts: [(handedOver: UInt64, acknowledged: UInt64)]) -> [Bool] {
        var marks = DeliveryMarks()
        return counts.map { marks.isBehind(handedOver: $0.handedOver, acknowledged: $0.acknowledged) }
    }

    @Test("A byte handed over before a check and unacknowledged four checks later is behind; acknowledged, not")
    func behindOnlyOnceFourChecksHavePassed() {
        let stalled = Self.checks([(1_000, 0)] + Array(repeating: (1_000, 999), count: 4))
        #expect(stalled == [false, false, false, false, true], "one byte of the first mark's still out")
        let caughtUp = Self.checks(
            [(1_000, 0)] + Array(repeating: (2_000, 900), count: 3) + [(3_000, 1_000), (3_000, 1_999)])
        #expect(caughtUp == [false, false, false, false, false, true], "the first mark's all in; the second's not")
    }

    @Test(
        "A check after one that found all acknowledged, nothing queued since, needs no kernel; anything queued, it does"
    )
    func settledChecksNeedNoKernel() {
        var marks = DeliveryMarks()
        var said: [Bool] = []
        said.append(marks.recordIfSettled(framesQueuedSoFar: 0))  // nothing known yet
        said.append(marks.isBehind(handedOver: 5_000, acknowledged: 5_000, framesQueuedSoFar: 3))
        said.append(marks.recordIfSettled(framesQueuedSoFar: 3))  // settled: recorded without the kernel
        said.append(marks.recordIfSettled(framesQueuedSoFar: 4))  // a frame queued since
        said.append(marks.isBehind(handedOver: 9_000, acknowledged: 5_000, framesQueuedSoFar: 4))
        said.append(marks.recordIfSettled(framesQueuedSoFar: 4))  // the last check found some unacknowledged
        #expect(said == [false, false, true, false, false, false])
        // The mark recorded without the kernel is the last one asked (5,000, all acknowledged since);
        // the 9,000 handed over is behind four checks after it was.
        var behind: [Bool] = []
        for _ in 0..<4 { behind.append(marks.isBehind(handedOver: 9_000, acknowledged: 5_000, framesQueuedSoFar: 4)) }
        #expect(behind == [false, false, false, true])
    }

    /// A ping written just before a check is acknowledged long before the check four later.
    @Test(
        "A client that keeps up is never behind, however busy, and a kernel that counts nothing (before 4.19) never is")
    func keepingUpIsNeverBehind() {
        let busy = Self.checks((1...100).map { (UInt64($0) * 50_000, UInt64($0) * 50_000 - 10_000) })  // some in flight
        #expect(!busy.contains(true))
        #expect(!Self.checks(Array(repeating: (0, 0), count: 10)).contains(true))
    }
}

import NIOCore
import Synchronization
import Testing

@testable import Relay

/// The age limit of a queue (``OutboundQueue/overflowIfAFrameWaitedTooLong()``), checked here
/// without a clock: each call stands for a quarter of the limit passing.
@Suite("OutboundQueue: the age limit")
struct OutboundQueueAgeTests {
    /// Calls the check `count` times; what each said.
    static func check(_ queue: OutboundQueue, _ count: Int) -> [Bool] {
        (0..<count).map { _ in queue.overflowIfAFrameWaitedTooLong() }
    }

    @Test("A frame queued before a check and still waiting four checks later closes the queue, dropping it")
    func aFrameWaitingFourChecksClosesTheQueue() async {
        let server = MemoryBudget(limit: 1_000)
        let queue = OutboundQueue(capacity: 100, serverBudget: server, floor: 2)
        #expect(queue.enqueue(frame("old")) == .queued)
        #expect(server.heldBytes == 1)
        #expect(Self.check(queue, 4) == [false, false, false, false], "within the limit")
        #expect(queue.overflowIfAFrameWaitedTooLong())
        #expect(queue.overflow == .waitedTooLong)
        #expect(queue.hasOverflowed && !queue.overflowedServerBudget)
        #expect(server.heldBytes == 0, "its charge is given back with its frames")
        #expect(queue.enqueue(frame("new")) == .closed)
        #expect(await queue.next() == nil, "what waited is dropped, as when a queue is full")
        #expect(!queue.overflowIfAFrameWaitedTooLong(), "closed once")
    }

    @Test("A frame queued just after a check closes the queue a check later: between four and five checks")
    func aFrameQueuedAfterACheckGetsFiveChecks() {
        let queue = OutboundQueue(capacity: 100)
        #expect(!queue.overflowIfAFrameWaitedTooLong())
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(Self.check(queue, 4) == [false, false, false, false])
        #expect(queue.overflowIfAFrameWaitedTooLong())
    }

    /// Frames queued all along, each batch taken three checks after it came: busy, and behind
    /// by less than the limit.
    @Test("A busy queue whose frames wait less than the limit never closes")
    func aQueueThatKeepsUpNeverCloses() async {
        let queue = OutboundQueue(capacity: 10_000)
        var batch = CircularBuffer<ByteBuffer>()
        for round in 0..<50 {
            for index in 0..<100 { #expect(queue.enqueue(frame("\(round).\(index)")) == .queued) }
            #expect(Self.check(queue, 3).allSatisfy { !$0 }, "round \(round)")
            #expect(await queue.nextBatch(into: &batch))
            #expect(batch.count == 100)
            batch.removeAll()
        }
        #expect(queue.overflow == nil)
    }

    /// Two frames in, one out, each check: the writer never stops, but the backlog grows, and the
    /// oldest frame's wait with it.
    @Test("A writer that keeps taking frames, but fewer than come, is closed once the oldest has waited the limit")
    func aGrowingBacklogClosesThoughTheWriterTakes() async {
        let queue = OutboundQueue(capacity: 10_000)
        var checks = 0
        while queue.overflow == nil, checks < 100 {
            _ = queue.enqueue(frame("a"))
            _ = queue.enqueue(frame("b"))
            _ = await queue.next()
            _ = queue.overflowIfAFrameWaitedTooLong()
            checks += 1
        }
        #expect(queue.overflow == .waitedTooLong)
        // The frames queued before check k are taken by check 2k: those of check 5 still wait
        // at check 9, four checks on (those of check 4 were all taken at check 8).
        #expect(checks == 9)
    }

    @Test("A queue the server is closing drains what it holds, however old")
    func aClosingQueueIsNotCut() async {
        let queue = OutboundQueue(capacity: 100)
        #expect(queue.enqueue(frame("last words")) == .queued)
        queue.close()
        #expect(Self.check(queue, 8).allSatisfy { !$0 })
        #expect(await queue.next().map(text) == "last words")
        #expect(queue.overflow == nil)
    }

    @Test("The connection closes with 4000 once its queue is closed for age")
    func theConnectionClosesAsTooSlow() {
        let closedWith = Mutex<[UInt16]>([])
        let connection = PlayerConnection(queueCapacity: 100) { code in closedWith.withLock { $0.append(code) } }
        #expect(connection.send(frame("a")))
        for _ in 0..<4 { connection.closeIfAFrameWaitedTooLong() }
        #expect(connection.closeCode == nil)
        connection.closeIfAFrameWaitedTooLong()
        #expect(connection.closeCode == RelayCloseCode.slowConsumer)
        #expect(closedWith.withLock { $0 } == [RelayCloseCode.slowConsumer])
        #expect(!connection.send(frame("b")))
    }
}

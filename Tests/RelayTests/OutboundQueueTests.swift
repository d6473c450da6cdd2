import NIOCore
import Synchronization
import Testing

@testable import Relay

/// A frame whose text is `label`.
func frame(_ label: String) -> ByteBuffer {
    ByteBuffer(string: label)
}

/// Waits (up to 60 s) until `queue`'s writer is suspended waiting for a frame.
///
/// A bound on a hang, not a speed check: as the whole suite starts, a new task may wait ~20 s for
/// a thread behind every test's first steps.
func untilTheWriterWaits(on queue: OutboundQueue) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !queue.hasWaitingWriter {
        try #require(ContinuousClock.now < deadline, "the writer never waited")
        try await Task.sleep(for: .milliseconds(1))
    }
}

@Suite("OutboundQueue")
struct OutboundQueueTests {
    @Test func deliversFramesInOrder() async {
        let queue = OutboundQueue(capacity: 8)
        for index in 0..<5 { #expect(queue.enqueue(frame("f\(index)")) == .queued) }
        #expect(queue.count == 5)
        for index in 0..<5 {
            let next = await queue.next()
            #expect(next.map(text) == "f\(index)")
        }
        #expect(queue.count == 0)
    }

    @Test("A burst's storage is given back once drained, one by one or in batches; a small burst keeps its own")
    func burstStorageIsGivenBack() async {
        for batchLimit in [nil, 100] as [Int?] {
            let queue = OutboundQueue(capacity: 10_000)
            for index in 0..<5_000 { _ = queue.enqueue(frame("f\(index)")) }
            #expect(queue.storageCapacity >= 5_000)
            var batch = CircularBuffer<ByteBuffer>()
            var drained = 0
            while drained < 5_000 {
                if let batchLimit {
                    _ = await queue.nextBatch(upTo: batchLimit, into: &batch)
                    drained += batch.count
                    batch.removeAll()
                } else {
                    _ = await queue.next()
                    drained += 1
                }
            }
            #expect(queue.storageCapacity <= CircularBuffer<ByteBuffer>.keptCapacity, "\(batchLimit ?? 1) at a time")
        }
        let queue = OutboundQueue(capacity: 10_000)
        for index in 0..<100 { _ = queue.enqueue(frame("f\(index)")) }
        for _ in 0..<100 { _ = await queue.next() }
        #expect(queue.storageCapacity >= 100, "a busy queue's bursts stop allocating")
    }

    @Test func nextWaitsUntilAFrameArrives() async throws {
        let queue = OutboundQueue(capacity: 4)
        let consumer = Task { await queue.next().map(text) }
        try await untilTheWriterWaits(on: queue)
        #expect(queue.enqueue(frame("hello")) == .queued)
        #expect(await consumer.value == "hello")
        #expect(queue.count == 0)
    }

    @Test func overflowClosesTheQueue() async {
        let queue = OutboundQueue(capacity: 2)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("b")) == .queued)
        #expect(queue.enqueue(frame("c")) == .overflowed)
        #expect(queue.enqueue(frame("d")) == .closed)
        // A slow consumer's backlog is dropped with it.
        #expect(await queue.next() == nil)
        #expect(await queue.next() == nil)
    }

    @Test("Bytes waiting count too: a queue with few frames but many bytes overflows")
    func byteCapOverflows() async {
        let queue = OutboundQueue(capacity: 100, maxBytes: 10)
        #expect(queue.enqueue(frame("aaaa")) == .queued)
        #expect(queue.enqueue(frame("bbbbbb")) == .queued)  // exactly 10 bytes
        #expect(queue.byteCount == 10)
        #expect(queue.enqueue(frame("c")) == .overflowed)
        #expect(queue.byteCount == 0)
        #expect(await queue.next() == nil)
    }

    @Test("Written frames free their bytes, whether taken one by one, in part or all at once")
    func byteCountFollowsTheWriter() async {
        let queue = OutboundQueue(capacity: 100, maxBytes: 12)
        for label in ["aaa", "bbb", "ccc", "ddd"] { #expect(queue.enqueue(frame(label)) == .queued) }
        #expect(await queue.next().map(text) == "aaa")
        #expect(queue.byteCount == 9)
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(upTo: 2, into: &batch))
        #expect(queue.byteCount == 3)
        #expect(queue.enqueue(frame("eeeeeeeee")) == .queued)  // 3 + 9 = 12
        batch.removeAll()
        #expect(await queue.nextBatch(into: &batch))
        #expect(batch.map(text) == ["ddd", "eeeeeeeee"])
        #expect(queue.byteCount == 0)
        #expect(queue.enqueue(frame("twelve bytes")) == .queued)
    }

    @Test(
        "Past its floor a queue's bytes count toward the server's total; one that would grow past a full total overflows"
    )
    func bytesPastTheFloorCountTowardTheServer() async {
        let server = MemoryBudget(limit: 10)
        let first = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 4)
        let second = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 4)
        #expect(first.enqueue(frame("aaaa")) == .queued)
        #expect(server.heldBytes == 0, "within its floor a queue takes nothing")
        #expect(first.enqueue(frame("bbbbbb")) == .queued)
        #expect((server.heldBytes, first.chargedBytes) == (6, 6))
        #expect(second.enqueue(frame("cccc")) == .queued, "the floor is every queue's, whatever the total")
        #expect(second.enqueue(frame("dddd")) == .queued)  // 4 more: the total's 10
        #expect(server.heldBytes == 10)
        #expect(second.enqueue(frame("e")) == .overflowed)
        #expect(second.overflowedServerBudget && second.hasOverflowed)
        #expect(server.heldBytes == 6, "the overflowed queue's charge is given back with its frames")
        #expect(await first.next().map(text) == "aaaa")  // 6 left, 2 past the floor
        #expect((server.heldBytes, first.chargedBytes) == (2, 2))
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await first.nextBatch(into: &batch))
        #expect((server.heldBytes, first.chargedBytes) == (0, 0))
        #expect(!first.overflowedServerBudget)
    }

    @Test("A queue within its floor takes its next frame whatever the total; past its floor it is refused")
    func withinTheFloorTheNextFrameIsTaken() {
        let server = MemoryBudget(limit: 10)
        let hog = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 2)
        #expect(hog.enqueue(frame("aaaaaaaaaaaa")) == .queued)  // 12: 10 past its floor, the total
        #expect(server.heldBytes == 10)
        // A client keeping up, sent one large message (a `reconnected`): taken, the total full.
        let keepingUp = OutboundQueue(capacity: 100, maxBytes: 4, serverBudget: server, floor: 2)
        #expect(keepingUp.enqueue(frame("a large message")) == .queued)
        #expect(server.heldBytes == 23 && keepingUp.chargedBytes == 13)
        // The room's next message in the same turn (a `player_reconnected`): the large one aside,
        // the queue is within its floor.
        #expect(keepingUp.enqueue(frame("b")) == .queued)
        #expect(keepingUp.enqueue(frame("c")) == .queued)
        #expect(server.heldBytes == 25 && keepingUp.chargedBytes == 15)
        #expect(
            keepingUp.enqueue(frame("d")) == .overflowed, "past its floor, the large one aside, with the total full")
        #expect(keepingUp.overflowedServerBudget)
        #expect(server.heldBytes == 10)
    }

    @Test("Behind the frame that took it past its floor, a queue takes what fits in its floor whatever the total")
    func behindTheCrossingFrameTheFloorStillHolds() {
        let server = MemoryBudget(limit: 10)
        server.force(10)  // the total full, as stalled clients would fill it
        // A `reconnected` of 6 bytes past a floor of 2, then the room's messages in the same turn.
        let queue = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 2)
        #expect(queue.enqueue(frame("aaaaaa")) == .queued)
        #expect(queue.enqueue(frame("b")) == .queued)
        #expect(queue.enqueue(frame("c")) == .queued, "2 bytes besides the large one: within the floor")
        #expect(server.heldBytes == 16 && queue.chargedBytes == 6)
        #expect(queue.enqueue(frame("d")) == .overflowed, "3 besides it: past the floor, with the total full")
        #expect(queue.overflowedServerBudget)
        #expect(server.heldBytes == 10)
    }

    @Test("Once the frame that took a queue past its floor is written, what is past the floor is charged as usual")
    func theCrossingFrameCountsOnlyWhileItWaits() async {
        let server = MemoryBudget(limit: 10)
        let queue = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 2)
        #expect(queue.enqueue(frame("aaaaaa")) == .queued)  // past the floor: 4 taken whatever the total
        #expect(queue.enqueue(frame("bbbb")) == .queued)  // 4 besides it, past the floor: 4 reserved
        #expect(server.heldBytes == 8)
        #expect(await queue.next().map(text) == "aaaaaa")
        #expect(server.heldBytes == 2 && queue.chargedBytes == 2, "bbbb: 2 past the floor")
        server.force(8)  // the total full
        #expect(queue.enqueue(frame("c")) == .overflowed, "past the floor on its own, with the total full")
        #expect(queue.overflowedServerBudget)
    }

    @Test("A queue full in frames is refused for its own cap, taking nothing from the total")
    func frameCapBeforeTheTotal() {
        let server = MemoryBudget(limit: 100)
        let queue = OutboundQueue(capacity: 1, maxBytes: 100, serverBudget: server, floor: 0)
        #expect(queue.enqueue(frame("aaaa")) == .queued)
        #expect(server.heldBytes == 4)
        let full = MemoryBudget(limit: 4)
        let other = OutboundQueue(capacity: 1, maxBytes: 100, serverBudget: full, floor: 0)
        #expect(other.enqueue(frame("aaaa")) == .queued)
        #expect(other.enqueue(frame("b")) == .overflowed)
        #expect(!other.overflowedServerBudget, "its own frame cap, though the total is full too")
        #expect(queue.enqueue(frame("b")) == .overflowed && !queue.overflowedServerBudget)
        #expect(server.heldBytes == 0)
    }

    @Test("A queue's own cap is not the server's: an overflow within the total is not named for it")
    func ownCapOverflowIsNotTheServers() {
        let server = MemoryBudget(limit: 1_000)
        let queue = OutboundQueue(capacity: 100, maxBytes: 8, serverBudget: server, floor: 2)
        #expect(queue.enqueue(frame("aaaaaaaa")) == .queued)
        #expect(queue.enqueue(frame("b")) == .overflowed)
        #expect(queue.hasOverflowed && !queue.overflowedServerBudget)
        #expect(server.heldBytes == 0)
    }

    @Test("A queue dropped with bytes past its floor gives them back")
    func droppedQueueGivesItsChargeBack() {
        let server = MemoryBudget(limit: 100)
        var queue: OutboundQueue? = OutboundQueue(capacity: 100, maxBytes: 100, serverBudget: server, floor: 2)
        #expect(queue?.enqueue(frame("aaaaaaaaaa")) == .queued)
        #expect(server.heldBytes == 8)
        queue = nil
        #expect(server.heldBytes == 0)
    }

    @Test("One frame larger than the byte cap may wait besides the cap's worth of others, one at a time")
    func oneOversizedFrameAtATimeBesidesTheCap() async {
        // The larger frame first (a `reconnected` with a large game): the cap's bytes still fit after it.
        let queue = OutboundQueue(capacity: 100, maxBytes: 4)
        #expect(queue.enqueue(frame("larger than four")) == .queued)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("bcd")) == .queued)
        #expect(queue.byteCount == 20)
        #expect(queue.enqueue(frame("e")) == .overflowed, "past the cap besides the larger frame")
        // Or after others; but only one at a time.
        let second = OutboundQueue(capacity: 100, maxBytes: 4)
        #expect(second.enqueue(frame("a")) == .queued)
        #expect(second.enqueue(frame("larger than four")) == .queued)
        #expect(second.enqueue(frame("bcd")) == .queued)
        #expect(await second.next().map(text) == "a")
        #expect(await second.next().map(text) == "larger than four")
        #expect(second.enqueue(frame("another larger one")) == .queued, "once the first is taken")
        #expect(second.enqueue(frame("and one more larger")) == .overflowed)
    }

    @Test func capacityBelowOneIsTreatedAsOne() {
        let queue = OutboundQueue(capacity: 0)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("b")) == .overflowed)
    }

    @Test func closeDrainsQueuedFramesThenReturnsNil() async {
        let queue = OutboundQueue(capacity: 4)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("b")) == .queued)
        queue.close()
        #expect(queue.enqueue(frame("c")) == .closed)
        #expect(await queue.next().map(text) == "a")
        #expect(await queue.next().map(text) == "b")
        #expect(await queue.next() == nil)
    }

    @Test func closeWakesAWaitingConsumer() async throws {
        let queue = OutboundQueue(capacity: 4)
        let consumer = Task { await queue.next() }
        try await untilTheWriterWaits(on: queue)
        queue.close()
        #expect(await consumer.value == nil)
    }

    @Test func producerAndConsumerRunConcurrently() async {
        let total = 10_000
        let queue = OutboundQueue(capacity: total + 1)
        let consumer = Task {
            var received: [Int] = []
            received.reserveCapacity(total)
            while let buffer = await queue.next() {
                received.append(buffer.getInteger(at: buffer.readerIndex, as: Int32.self).map(Int.init) ?? -1)
                if received.count == total { break }
            }
            return received
        }
        let producer = Task {
            var results: [OutboundQueue.EnqueueResult] = []
            for index in 0..<total {
                var buffer = ByteBuffer()
                buffer.writeInteger(Int32(index))
                results.append(queue.enqueue(buffer))
                if index % 500 == 0 { await Task.yield() }
            }
            return results
        }
        let results = await producer.value
        #expect(results.allSatisfy { $0 == .queued })
        let received = await consumer.value
        #expect(received.count == total)
        #expect(received == Array(0..<total))
        #expect(queue.count == 0)
    }
}

@Suite("OutboundQueue batches")
struct OutboundQueueBatchTests {
    /// The texts of `batch`, oldest first.
    private func texts(_ batch: CircularBuffer<ByteBuffer>) -> [String] { batch.map(text) }

    @Test func takesEveryQueuedFrameInOrder() async {
        let queue = OutboundQueue(capacity: 8)
        for index in 0..<5 { #expect(queue.enqueue(frame("f\(index)")) == .queued) }
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(into: &batch))
        #expect(self.texts(batch) == ["f0", "f1", "f2", "f3", "f4"])
        #expect(queue.count == 0)
    }

    @Test func takesAtMostTheLimitAndAppends() async {
        let queue = OutboundQueue(capacity: 8)
        for index in 0..<5 { #expect(queue.enqueue(frame("f\(index)")) == .queued) }
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(upTo: 2, into: &batch))
        #expect(self.texts(batch) == ["f0", "f1"])
        #expect(await queue.nextBatch(upTo: 2, into: &batch))
        #expect(self.texts(batch) == ["f0", "f1", "f2", "f3"])
        #expect(queue.count == 1)
    }

    @Test func takesAtMostTheByteLimitButAlwaysOneFrame() async {
        let queue = OutboundQueue(capacity: 8)
        for label in ["aaaa", "bbbb", "cc", "dddddddddd", "e"] { #expect(queue.enqueue(frame(label)) == .queued) }
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(bytes: 10, into: &batch))
        #expect(self.texts(batch) == ["aaaa", "bbbb", "cc"], "10 bytes")
        batch.removeAll()
        #expect(await queue.nextBatch(bytes: 4, into: &batch))
        #expect(self.texts(batch) == ["dddddddddd"], "one frame, however large")
        #expect(queue.byteCount == 1)
        batch.removeAll()
        #expect(await queue.nextBatch(bytes: 4, into: &batch))
        #expect(self.texts(batch) == ["e"])
        #expect(queue.byteCount == 0)
    }

    @Test func anEmptiedBatchIsReusedWithoutLosingFrames() async {
        let queue = OutboundQueue(capacity: 64)
        var batch = CircularBuffer<ByteBuffer>(initialCapacity: 4)
        var received: [String] = []
        for round in 0..<10 {
            for index in 0..<(round + 1) { #expect(queue.enqueue(frame("r\(round)-\(index)")) == .queued) }
            #expect(await queue.nextBatch(into: &batch))
            received += self.texts(batch)
            batch.removeAll(keepingCapacity: true)
        }
        let expected = (0..<10).flatMap { round in (0..<(round + 1)).map { "r\(round)-\($0)" } }
        #expect(received == expected)
    }

    @Test func waitsUntilAFrameArrives() async throws {
        let queue = OutboundQueue(capacity: 4)
        let consumer = Task {
            var batch = CircularBuffer<ByteBuffer>()
            let open = await queue.nextBatch(into: &batch)
            return (open, batch.map(text))
        }
        try await untilTheWriterWaits(on: queue)
        #expect(queue.enqueue(frame("hello")) == .queued)
        let (open, texts) = await consumer.value
        #expect(open)
        #expect(texts == ["hello"])
    }

    @Test func drainsThenReportsTheClose() async {
        let queue = OutboundQueue(capacity: 4)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("b")) == .queued)
        queue.close()
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(into: &batch))
        #expect(self.texts(batch) == ["a", "b"])
        batch.removeAll()
        #expect(await queue.nextBatch(into: &batch) == false)
        #expect(batch.isEmpty)
    }

    @Test func closeWakesAWaitingBatchConsumer() async throws {
        let queue = OutboundQueue(capacity: 4)
        let consumer = Task {
            var batch = CircularBuffer<ByteBuffer>()
            return await queue.nextBatch(into: &batch)
        }
        try await untilTheWriterWaits(on: queue)
        queue.close()
        #expect(await consumer.value == false)
    }

    @Test func overflowStillCountsOnlyQueuedFrames() async {
        let queue = OutboundQueue(capacity: 2)
        #expect(queue.enqueue(frame("a")) == .queued)
        #expect(queue.enqueue(frame("b")) == .queued)
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await queue.nextBatch(into: &batch))
        // Taken frames no longer count: two more fit, the third overflows.
        #expect(queue.enqueue(frame("c")) == .queued)
        #expect(queue.enqueue(frame("d")) == .queued)
        #expect(queue.enqueue(frame("e")) == .overflowed)
    }

    @Test func batchesKeepOrderUnderConcurrentProducers() async {
        let total = 10_000
        let queue = OutboundQueue(capacity: total + 1)
        let consumer = Task {
            var received: [Int] = []
            var batch = CircularBuffer<ByteBuffer>()
            while received.count < total, await queue.nextBatch(into: &batch) {
                for buffer in batch {
                    received.append(buffer.getInteger(at: buffer.readerIndex, as: Int32.self).map(Int.init) ?? -1)
                }
                batch.removeAll(keepingCapacity: true)
            }
            return received
        }
        for index in 0..<total {
            var buffer = ByteBuffer()
            buffer.writeInteger(Int32(index))
            #expect(queue.enqueue(buffer) == .queued)
            if index % 500 == 0 { await Task.yield() }
        }
        #expect(await consumer.value == Array(0..<total))
    }
}

@Suite("PlayerConnection")
struct PlayerConnectionTests {
    /// Records every call of the close closure.
    final class CloseRecorder: Sendable {
        let codes = Mutex<[UInt16]>([])
        var calls: [UInt16] { self.codes.withLock { $0 } }
        func record(_ code: UInt16) { self.codes.withLock { $0.append(code) } }
    }

    @Test func sendQueuesFrames() async {
        let recorder = CloseRecorder()
        let connection = PlayerConnection(queueCapacity: 4) { recorder.record($0) }
        #expect(connection.send(frame("x")))
        #expect(connection.outbound.count == 1)
        #expect(await connection.outbound.next().map(text) == "x")
        #expect(connection.closeCode == nil)
        #expect(recorder.calls.isEmpty)
    }

    @Test func overflowClosesOnceAsSlowConsumer() {
        let recorder = CloseRecorder()
        let connection = PlayerConnection(queueCapacity: 2) { recorder.record($0) }
        #expect(connection.send(frame("1")))
        #expect(connection.send(frame("2")))
        #expect(!connection.send(frame("3")))
        #expect(connection.closeCode == RelayCloseCode.slowConsumer)
        #expect(recorder.calls == [RelayCloseCode.slowConsumer])
        #expect(!connection.send(frame("4")))
        #expect(recorder.calls == [RelayCloseCode.slowConsumer])
    }

    /// The writer runs on another thread than the room that overflows its queue: it can find the
    /// queue closed between the overflow and ``PlayerConnection/send(_:)``'s call to close, and
    /// must still say goodbye with 4000, not close without a code (the client saw 1006).
    @Test func anOverflowReadsAsSlowConsumerFromTheMomentItClosesTheQueue() async {
        let connection = PlayerConnection(queueCapacity: 1) { _ in }
        #expect(connection.outbound.enqueue(frame("1")) == .queued)
        #expect(connection.outbound.enqueue(frame("2")) == .overflowed)  // what `send` does first
        var batch = CircularBuffer<ByteBuffer>()
        #expect(await !connection.outbound.nextBatch(into: &batch), "the writer finds the queue closed")
        #expect(connection.closeCode == RelayCloseCode.slowConsumer)
    }

    @Test func closeTwiceCallsTheClosureOnce() async {
        let recorder = CloseRecorder()
        let connection = PlayerConnection(queueCapacity: 2) { recorder.record($0) }
        connection.close(code: RelayCloseCode.replaced)
        connection.close(code: RelayCloseCode.policyViolation)
        #expect(recorder.calls == [RelayCloseCode.replaced])
        #expect(connection.closeCode == RelayCloseCode.replaced)
        #expect(!connection.send(frame("late")))
        #expect(await connection.outbound.next() == nil)
    }

    @Test func connectionsHaveDistinctIDs() {
        let first = PlayerConnection(queueCapacity: 1) { _ in }
        let second = PlayerConnection(queueCapacity: 1) { _ in }
        #expect(first.id != second.id)
    }
}

@Suite("TokenBucket")
struct TokenBucketTests {
    /// The results of `count` takes at `now`.
    private func take(_ bucket: inout TokenBucket, _ count: Int, at now: ContinuousClock.Instant) -> [Bool] {
        (0..<count).map { _ in bucket.take(now: now) }
    }

    @Test func burstThenRefusal() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 2, burst: 3, now: start)
        let taken = self.take(&bucket, 5, at: start)
        #expect(taken == [true, true, true, false, false])
    }

    @Test func refillsAtTheRate() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 2, burst: 3, now: start)
        let burst = self.take(&bucket, 4, at: start)
        #expect(burst == [true, true, true, false])
        // half a second at 2/s: one token
        let afterHalfASecond = self.take(&bucket, 2, at: start + .milliseconds(500))
        #expect(afterHalfASecond == [true, false])
        // one more second: two tokens
        let afterAnotherSecond = self.take(&bucket, 3, at: start + .milliseconds(1500))
        #expect(afterAnotherSecond == [true, true, false])
        // no time passing: nothing
        let again = self.take(&bucket, 1, at: start + .milliseconds(1500))
        #expect(again == [false])
    }

    @Test func takesAsManyTokensAsTheWorkCosts() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 100, burst: 300, now: start)
        let takes: [(count: Double, at: Duration)] = [
            (250, .zero), (51, .zero), (50, .zero), (1, .zero), (100, .seconds(1)),
            (301, .seconds(3600)), (300, .seconds(3600)),
        ]
        let taken = takes.map { bucket.take($0.count, now: start + $0.at) }
        // A refused take keeps what is left; more than the burst is never taken.
        #expect(taken == [true, false, true, false, true, false, true])
    }

    @Test func refillIsCappedAtTheBurst() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 100, burst: 2, now: start)
        let taken = self.take(&bucket, 3, at: start + .seconds(3600))
        #expect(taken == [true, true, false])
    }

    @Test("A reading older than the last one neither refills nor drains the bucket")
    func anOlderReadingChangesNothing() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 1_000, burst: 1_000, now: start)
        bucket.spend(1_000, now: start)
        bucket.spend(500, now: start + .milliseconds(500))  // refilled by 500: empty again
        // A thread that read the clock at 250 ms comes late: no debt appears, none is repaid.
        let lateReading = bucket.timeUntilOutOfDebt(now: start + .milliseconds(250))
        #expect(lateReading == .zero)
        bucket.spend(1, now: start + .milliseconds(250))
        let debt = bucket.timeUntilOutOfDebt(now: start + .milliseconds(500))
        #expect(debt == .milliseconds(1))
        let taken = bucket.take(1, now: start + .milliseconds(503))
        #expect(taken)
    }

    @Test("Spending past empty is a debt the refill repays before anything can be taken")
    func spendingIntoDebt() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 1_000, burst: 2_000, now: start)
        bucket.spend(1_500, now: start)
        #expect(bucket.timeUntilOutOfDebt(now: start) == .zero)  // 500 left
        bucket.spend(1_500, now: start)  // 1,000 owed: a second at 1,000 a second
        #expect(bucket.timeUntilOutOfDebt(now: start) == .seconds(1))
        #expect(bucket.timeUntilOutOfDebt(now: start + .milliseconds(250)) == .milliseconds(750))
        let takenInDebt = bucket.take(1, now: start + .milliseconds(500))
        #expect(!takenInDebt)
        #expect(bucket.timeUntilOutOfDebt(now: start + .seconds(1)) == .zero)
        let takenOnceRepaid = bucket.take(100, now: start + .milliseconds(1_100))
        let takenBeyond = bucket.take(1, now: start + .milliseconds(1_100))
        #expect(takenOnceRepaid && !takenBeyond)
    }

    @Test func burstBelowOneStillAllowsOneMessage() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: 1, burst: 0, now: start)
        let taken = self.take(&bucket, 2, at: start)
        #expect(taken == [true, false])
    }
}

import NIOCore
import Testing

@testable import RelayServer

@Suite("ReaderQueue")
struct ReaderQueueTests {
    /// One read of 64 KiB can hold ~10,000 empty frames, all queued before the handler next
    /// checks the high-water mark: the connection must not keep the storage they grew.
    @Test("A burst's storage is given back once the reader has drained it; a small burst keeps its own")
    func burstStorageIsGivenBack() async {
        let queue = ReaderQueue()
        for _ in 0..<10_000 { queue.append(.binary) }
        #expect(queue.storageCapacity >= 10_000)
        for _ in 0..<10_000 { _ = await queue.next(onCancel: {}) }
        #expect(queue.storageCapacity <= CircularBuffer<ReaderMessage>.keptCapacity)
        for _ in 0..<64 { queue.append(.binary) }
        for _ in 0..<64 { _ = await queue.next(onCancel: {}) }
        #expect(queue.storageCapacity >= 64, "the high-water mark's worth stays")
    }
}

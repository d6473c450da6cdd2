import NIOCore

extension CircularBuffer {
    /// Elements of storage a connection's queue keeps once empty: a busy queue's bursts stay
    /// within it and stop allocating, and what a larger burst grew is given back.
    package static var keptCapacity: Int { 256 }

    /// Gives back the storage a burst grew, once the buffer is empty again. Every connection holds
    /// its queues for its life: a client that sent one read of 10,000 tiny frames had its reader
    /// queue keep 16,384 slots (~400 KB) after they were handled, where an idle connection costs 15 KB.
    package mutating func releaseBurstStorage(initialCapacity: Int) {
        guard self.isEmpty, self.capacity > Self.keptCapacity else { return }
        self = CircularBuffer(initialCapacity: initialCapacity)
    }
}

public import NIOCore
import Synchronization

/// A connection's bounded queue of encoded frames, filled by rooms and drained by the
/// connection's single writer task.
///
/// `enqueue` never blocks: when the queue is full it refuses, and the caller treats the
/// client as too slow. The same `ByteBuffer` can sit in many queues at once (a broadcast
/// is encoded once). The writer may take every waiting frame at once (``nextBatch(upTo:into:)``)
/// and write them with one flush.
public final class OutboundQueue: Sendable {
    private struct State {
        /// Starts small: every idle connection holds one. It grows to the largest burst and keeps
        /// that capacity (swapped with the writer's batch), so a busy queue stops allocating.
        var frames = CircularBuffer<ByteBuffer>(initialCapacity: OutboundQueue.initialCapacity)
        /// The writer, suspended until a frame arrives or the queue closes.
        var waiter: UnsafeContinuation<Void, Never>?
        var isClosed = false

        mutating func takeWaiter() -> UnsafeContinuation<Void, Never>? {
            defer { self.waiter = nil }
            return self.waiter
        }
    }

    /// Result of offering a frame.
    public enum EnqueueResult: Sendable, Equatable {
        case queued
        /// The queue was full: the frame was dropped and the queue is now closed.
        case overflowed
        /// The queue was already closed.
        case closed
    }

    /// Frames a new queue (and a writer's batch) has room for before it grows.
    public static let initialCapacity = 4

    private let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Offers a frame without waiting.
    public func enqueue(_ frame: ByteBuffer) -> EnqueueResult {
        let (result, waiter) = self.state.withLock { state -> (EnqueueResult, UnsafeContinuation<Void, Never>?) in
            if state.isClosed { return (.closed, nil) }
            guard state.frames.count < self.capacity else {
                state.isClosed = true
                state.frames.removeAll()
                return (.overflowed, state.takeWaiter())
            }
            state.frames.append(frame)
            return (.queued, state.takeWaiter())
        }
        waiter?.resume()
        return result
    }

    /// The next frame, waiting if none is queued; `nil` once the queue is closed and drained.
    /// For one consumer at a time.
    public func next() async -> ByteBuffer? {
        while true {
            let polled = self.state.withLock { state -> ByteBuffer?? in
                if let frame = state.frames.popFirst() { return .some(frame) }
                return state.isClosed ? .some(nil) : nil
            }
            if let polled { return polled }
            await self.waitForFrames()
        }
    }

    /// Waits for frames, then moves up to `limit` of them, oldest first, to the end of `batch`.
    /// `false` once the queue is closed and drained. For one consumer at a time.
    ///
    /// Taking all of them swaps storage with an empty `batch`, so a writer that empties its
    /// batch after writing it (keeping the capacity) drains without allocating.
    public func nextBatch(upTo limit: Int = .max, into batch: inout CircularBuffer<ByteBuffer>) async -> Bool {
        precondition(limit > 0, "a batch holds at least one frame")
        while true {
            let outcome = self.state.withLock { state -> Bool? in
                if state.frames.isEmpty { return state.isClosed ? false : nil }
                if batch.isEmpty, state.frames.count <= limit {
                    swap(&batch, &state.frames)
                } else {
                    for _ in 0..<min(limit, state.frames.count) { batch.append(state.frames.removeFirst()) }
                }
                return true
            }
            if let outcome { return outcome }
            await self.waitForFrames()
        }
    }

    /// Suspends until the queue holds a frame or is closed.
    private func waitForFrames() async {
        // Unsafe rather than checked: a checked continuation allocates on every wait, and this
        // one is resumed exactly once, by `enqueue` or `close` (which take it under the lock) or here.
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let ready = self.state.withLock { state -> Bool in
                if !state.frames.isEmpty || state.isClosed { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Stops accepting frames; the writer drains what is queued and then gets `nil`.
    public func close() {
        let waiter = self.state.withLock { state in
            state.isClosed = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// Frames waiting to be written.
    public var count: Int { self.state.withLock { $0.frames.count } }
}

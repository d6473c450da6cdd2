public import NIOCore
import Synchronization

/// A connection's bounded queue of encoded frames, filled by rooms and drained by the
/// connection's single writer task.
///
/// `enqueue` never blocks: when the queue is full it refuses, and the caller treats the
/// client as too slow. The same `ByteBuffer` can sit in many queues at once (a broadcast
/// is encoded once).
public final class OutboundQueue: Sendable {
    private struct State {
        var frames = CircularBuffer<ByteBuffer>(initialCapacity: 16)
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        var isClosed = false
    }

    /// Result of offering a frame.
    public enum EnqueueResult: Sendable, Equatable {
        case queued
        /// The queue was full: the frame was dropped and the queue is now closed.
        case overflowed
        /// The queue was already closed.
        case closed
    }

    private let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Offers a frame without waiting.
    public func enqueue(_ frame: ByteBuffer) -> EnqueueResult {
        let (result, waiter) = self.state.withLock { state -> (EnqueueResult, CheckedContinuation<ByteBuffer?, Never>?) in
            if state.isClosed { return (.closed, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (.queued, waiter)
            }
            guard state.frames.count < self.capacity else {
                state.isClosed = true
                state.frames.removeAll()
                return (.overflowed, nil)
            }
            state.frames.append(frame)
            return (.queued, nil)
        }
        waiter?.resume(returning: frame)
        return result
    }

    /// The next frame, waiting if none is queued; `nil` once the queue is closed.
    public func next() async -> ByteBuffer? {
        if let ready = self.state.withLock({ state -> ByteBuffer?? in
            if let frame = state.frames.popFirst() { return .some(frame) }
            return state.isClosed ? .some(nil) : nil
        }) {
            return ready
        }
        return await withCheckedContinuation { continuation in
            let immediate = self.state.withLock { state -> ByteBuffer?? in
                if let frame = state.frames.popFirst() { return .some(frame) }
                if state.isClosed { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Stops accepting frames; the writer drains what is queued and then gets `nil`.
    public func close() {
        let waiter = self.state.withLock { state in
            state.isClosed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Frames waiting to be written.
    public var count: Int { self.state.withLock { $0.frames.count } }
}

public import NIOCore
import Synchronization

/// A connection's bounded queue of encoded frames, filled by rooms and drained by the
/// connection's single writer task.
///
/// `enqueue` never blocks: when the queue is full, in frames or in bytes, it refuses, and the
/// caller treats the client as too slow. The byte cap bounds what a stalled client can pin
/// (frames may be as large as the largest message); the frame cap bounds the bookkeeping.
/// Past a floor, its bytes also count toward the server's total (``MemoryBudget``), so that many
/// stalled clients together cannot pin more than that either: while the total is full, a queue
/// that would hold more than its floor besides the frame that first took it past (while that
/// waits) refuses too.
/// The same `ByteBuffer` can sit in many queues at once (a broadcast is encoded once). The
/// writer may take every waiting frame at once (``nextBatch(upTo:bytes:into:)``) and write them
/// with one flush.
public final class OutboundQueue: Sendable {
    private struct State {
        /// Starts small: every idle connection holds one. It grows to the largest burst and keeps
        /// that capacity (swapped with the writer's batch), so a busy queue stops allocating; past
        /// ``CircularBuffer/keptCapacity`` it is given back once drained.
        var frames = CircularBuffer<ByteBuffer>(initialCapacity: OutboundQueue.initialCapacity)
        /// The readable bytes of `frames`.
        var bytes = 0
        /// Those of the one frame larger than the cap waiting, if one does: not held against the
        /// cap, so that the messages after it still fit (a `reconnected` carrying a large game,
        /// then the room's `player_reconnected`, in one turn of the room).
        var oversizedBytes = 0
        /// The part of `bytes` past the floor, taken from the server's budget.
        var charged = 0
        /// The frame that took the queue past its floor, taken whatever the total, while it waits:
        /// its bytes, and how many frames are ahead of it. The frames after it are taken so too
        /// while the rest is within the floor (``chargeGrowth(to:adding:in:)``).
        var crossing: (bytes: Int, framesAhead: Int)?
        /// The writer, suspended until a frame arrives or the queue closes.
        var waiter: UnsafeContinuation<Void, Never>?
        var isClosed = false
        var overflow: Overflow?
        /// Frames ever queued and ever taken by the writer: the age check's clock.
        var queuedTotal = 0
        var takenTotal = 0
        /// `queuedTotal` at each of the last age checks.
        var ageMarks = AgeMarks<Int>()

        mutating func takeWaiter() -> UnsafeContinuation<Void, Never>? {
            defer { self.waiter = nil }
            return self.waiter
        }
    }

    /// Why a queue closed itself, disconnecting its client as too slow.
    public enum Overflow: Sendable, Equatable {
        /// Its own cap in frames or bytes.
        case ownLimit
        /// The server's total (``MemoryBudget``), while the queue was within its own caps.
        case serverBudget
        /// A message waited longer than the age limit: in the queue
        /// (``overflowIfAFrameWaitedTooLong()``), or written to the socket and not acknowledged
        /// by the client (``closeAsTooSlow(_:)``, by the server, which sees the socket).
        case waitedTooLong
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
    private let maxBytes: Int
    private let serverBudget: MemoryBudget?
    private let floor: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - capacity: frames that may wait.
    ///   - maxBytes: bytes that may wait; one frame larger than this may wait besides, so that no
    ///     message is too large for every client.
    ///   - serverBudget: the total all queues' bytes past their `floor` count toward. A queue
    ///     within its floor never touches it (a client that keeps up costs no shared atomic).
    public init(capacity: Int, maxBytes: Int = .max, serverBudget: MemoryBudget? = nil, floor: Int = 0) {
        self.capacity = max(1, capacity)
        self.maxBytes = max(1, maxBytes)
        self.serverBudget = serverBudget
        self.floor = max(0, floor)
    }

    deinit {
        let charged = self.state.withLock { $0.charged }
        self.serverBudget?.release(charged)
    }

    /// Offers a frame without waiting.
    public func enqueue(_ frame: ByteBuffer) -> EnqueueResult {
        let (result, waiter) = self.state.withLock { state -> (EnqueueResult, UnsafeContinuation<Void, Never>?) in
            if state.isClosed { return (.closed, nil) }
            let bytes = frame.readableBytes
            let isOversized = bytes > self.maxBytes
            let fitsOwnCaps =
                state.frames.count < self.capacity
                && (isOversized
                    ? state.oversizedBytes == 0 : bytes <= self.maxBytes - (state.bytes - state.oversizedBytes))
            let fitsServerBudget = fitsOwnCaps && self.chargeGrowth(to: state.bytes + bytes, adding: bytes, in: &state)
            guard fitsServerBudget else {
                return (.overflowed, self.overflow(fitsOwnCaps ? .serverBudget : .ownLimit, in: &state))
            }
            state.frames.append(frame)
            state.queuedTotal += 1
            state.bytes += bytes
            if isOversized { state.oversizedBytes = bytes }
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
                if let frame = state.frames.popFirst() {
                    self.took(frame, from: &state)
                    state.frames.releaseBurstStorage(initialCapacity: Self.initialCapacity)
                    return .some(frame)
                }
                return state.isClosed ? .some(nil) : nil
            }
            if let polled { return polled }
            await self.waitForFrames()
        }
    }

    /// Waits for frames, then moves up to `limit` of them and up to `byteLimit` bytes (but at
    /// least one frame), oldest first, to the end of `batch`. `false` once the queue is closed and
    /// drained. For one consumer at a time.
    ///
    /// Taking all of them swaps storage with an empty `batch`, so a writer that empties its
    /// batch after writing it (keeping the capacity) drains without allocating.
    public func nextBatch(
        upTo limit: Int = .max, bytes byteLimit: Int = .max, into batch: inout CircularBuffer<ByteBuffer>
    ) async -> Bool {
        precondition(limit > 0, "a batch holds at least one frame")
        while true {
            let outcome = self.state.withLock { state -> Bool? in
                if state.frames.isEmpty { return state.isClosed ? false : nil }
                if batch.isEmpty, state.frames.count <= limit, state.bytes <= byteLimit {
                    swap(&batch, &state.frames)
                    state.takenTotal += batch.count
                    (state.bytes, state.oversizedBytes, state.crossing) = (0, 0, nil)
                    self.releaseCharge(downTo: 0, in: &state)
                } else {
                    var (taken, takenBytes) = (0, 0)
                    while taken < limit, let frame = state.frames.first,
                        taken == 0 || frame.readableBytes <= byteLimit - takenBytes
                    {
                        state.frames.removeFirst()
                        self.took(frame, from: &state)
                        (taken, takenBytes) = (taken + 1, takenBytes + frame.readableBytes)
                        batch.append(frame)
                    }
                }
                state.frames.releaseBurstStorage(initialCapacity: Self.initialCapacity)
                return true
            }
            if let outcome { return outcome }
            await self.waitForFrames()
        }
    }

    /// Counts `frame` out of the bytes waiting.
    private func took(_ frame: ByteBuffer, from state: inout State) {
        state.takenTotal += 1
        state.bytes -= frame.readableBytes
        if frame.readableBytes > self.maxBytes { state.oversizedBytes = 0 }
        if let crossing = state.crossing {
            state.crossing = crossing.framesAhead == 0 ? nil : (crossing.bytes, crossing.framesAhead - 1)
        }
        self.releaseCharge(downTo: state.bytes - self.floor, in: &state)
    }

    /// Closes the queue for good, dropping what it holds: its client is too slow.
    private func overflow(_ reason: Overflow, in state: inout State) -> UnsafeContinuation<Void, Never>? {
        (state.isClosed, state.overflow) = (true, reason)
        state.frames.removeAll()
        (state.bytes, state.oversizedBytes, state.crossing) = (0, 0, nil)
        self.releaseCharge(downTo: 0, in: &state)
        return state.takeWaiter()
    }

    /// Age checks in one age limit: a client is closed once a frame has waited between one limit
    /// and a quarter more.
    public static let ageChecksPerLimit = AgeMarks<Int>.checksPerLimit

    /// Closes the queue for good, dropping what it holds, as one that overflowed for `reason`;
    /// `false` if it was closed already.
    public func closeAsTooSlow(_ reason: Overflow) -> Bool {
        let (closed, waiter) = self.state.withLock { state -> (Bool, UnsafeContinuation<Void, Never>?) in
            guard !state.isClosed else { return (false, nil) }
            return (true, self.overflow(reason, in: &state))
        }
        waiter?.resume()
        return closed
    }

    /// Call every `limit / ageChecksPerLimit`: closes the queue as overflowed (``Overflow/waitedTooLong``)
    /// if a frame queued before the check ``ageChecksPerLimit`` calls ago still waits, and says so.
    /// The queue counts frames in and out rather than reading the clock for each: the rooms' path
    /// pays one addition, the writer's another. A frame the writer has taken no longer waits here,
    /// though it may still wait for the socket (one batch at most).
    public func overflowIfAFrameWaitedTooLong() -> Bool {
        let (overflowed, waiter) = self.state.withLock { state -> (Bool, UnsafeContinuation<Void, Never>?) in
            guard !state.isClosed else { return (false, nil) }
            let queuedByThen = state.ageMarks.record(state.queuedTotal)
            guard state.takenTotal < queuedByThen else { return (false, nil) }
            return (true, self.overflow(.waitedTooLong, in: &state))
        }
        waiter?.resume()
        return overflowed
    }

    /// Takes from the server's budget what the queue growing to `bytes` with a frame of
    /// `frameBytes` adds past its floor; `false`, taking nothing, if that does not fit. A queue
    /// within its floor takes its next frame whatever the total: a client that keeps up is never
    /// refused for others' backlogs, nor a message larger than the floor (a `reconnected` carrying
    /// a large game) refused to all. Nor are the frames after that one while the rest, that one
    /// aside, is within the floor: the room's `player_reconnected` follows in the same turn.
    private func chargeGrowth(to bytes: Int, adding frameBytes: Int, in state: inout State) -> Bool {
        let growth = bytes - self.floor - state.charged
        guard growth > 0, let serverBudget = self.serverBudget else { return true }
        if state.charged == 0 {
            serverBudget.force(growth)
            state.crossing = (frameBytes, state.frames.count)
        } else if let crossing = state.crossing, bytes - crossing.bytes <= self.floor {
            serverBudget.force(growth)
        } else {
            guard serverBudget.reserve(growth) else { return false }
        }
        state.charged += growth
        return true
    }

    /// Gives back to the server's budget what the queue holds past `charge` (at least 0).
    private func releaseCharge(downTo charge: Int, in state: inout State) {
        let excess = state.charged - max(0, charge)
        guard excess > 0 else { return }
        self.serverBudget?.release(excess)
        state.charged -= excess
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

    /// Elements the queue's storage has room for (for tests).
    var storageCapacity: Int { self.state.withLock { $0.frames.capacity } }

    /// Stops accepting frames; the writer drains what is queued and then gets `nil`.
    public func close() {
        let waiter = self.state.withLock { state in
            state.isClosed = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// Why the queue closed itself, if it did: a frame it had no room for, or one that waited too
    /// long. Set with the close, so a writer that finds the queue closed knows why without waiting
    /// for the caller to say.
    public var overflow: Overflow? { self.state.withLock { $0.overflow } }

    /// Whether the queue closed itself (``overflow``).
    public var hasOverflowed: Bool { self.overflow != nil }

    /// Whether the queue overflowed because the server's total was full, rather than its own cap.
    public var overflowedServerBudget: Bool { self.overflow == .serverBudget }

    /// Bytes this queue holds against the server's budget (for tests).
    var chargedBytes: Int { self.state.withLock { $0.charged } }

    /// Frames ever queued: the count changes whenever something new waits for the client.
    public var framesQueuedSoFar: Int { self.state.withLock { $0.queuedTotal } }

    /// Frames waiting to be written.
    public var count: Int { self.state.withLock { $0.frames.count } }

    /// Bytes waiting to be written.
    public var byteCount: Int { self.state.withLock { $0.bytes } }

    /// Whether the writer is suspended in `next` or `nextBatch`: the tests of the wake-up wait
    /// for it, so that they do not pass on a frame that was already there.
    var hasWaitingWriter: Bool { self.state.withLock { $0.waiter != nil } }
}

public import NIOCore
import Synchronization

/// The outbound side of one WebSocket connection as rooms see it: a bounded queue and a
/// way to hang up. Rooms never touch the socket; the connection's writer task does.
public final class PlayerConnection: Sendable {
    /// Unique per process, for logs and identity checks.
    public let id: UInt64
    /// Frames waiting for this client's writer task.
    public let outbound: OutboundQueue
    private let closer: Mutex<(@Sendable (UInt16) -> Void)?>
    private let requestedCloseCode = Atomic<UInt16>(0)
    private let socketClosed = Atomic<Bool>(false)

    private static let nextID = Atomic<UInt64>(1)

    /// - Parameters:
    ///   - queueCapacity: frames allowed to wait before the client counts as too slow.
    ///   - queueBytes: bytes allowed to wait before the client counts as too slow.
    ///   - serverBudget: what all connections' queues may hold together past `floor` each
    ///     (``OutboundQueue/init(capacity:maxBytes:serverBudget:floor:)``).
    ///   - close: hangs up the socket with a close code; called at most once.
    public init(
        queueCapacity: Int, queueBytes: Int = .max, serverBudget: MemoryBudget? = nil, floor: Int = 0,
        close: @escaping @Sendable (UInt16) -> Void
    ) {
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.outbound = OutboundQueue(
            capacity: queueCapacity, maxBytes: queueBytes, serverBudget: serverBudget, floor: floor)
        self.closer = Mutex(close)
    }

    /// Queues an encoded frame; `false` when the client is gone or too slow (and is now being closed).
    @discardableResult
    public func send(_ frame: ByteBuffer) -> Bool {
        switch self.outbound.enqueue(frame) {
        case .queued: return true
        case .closed: return false
        case .overflowed:
            self.close(code: RelayCloseCode.slowConsumer)
            return false
        }
    }

    /// Closes the connection as too slow (4000) if a frame has waited in its queue longer than the
    /// age limit. Call every `limit / OutboundQueue.ageChecksPerLimit`
    /// (``OutboundQueue/overflowIfAFrameWaitedTooLong()``).
    public func closeIfAFrameWaitedTooLong() {
        if self.outbound.overflowIfAFrameWaitedTooLong() { self.close(code: RelayCloseCode.slowConsumer) }
    }

    /// Closes the connection as too slow (4000) for `reason`, dropping what its queue holds: the
    /// server found its client behind (a message written to its socket long ago still
    /// unacknowledged). Nothing if the connection was closing already.
    public func closeAsTooSlow(_ reason: OutboundQueue.Overflow) {
        if self.outbound.closeAsTooSlow(reason) { self.close(code: RelayCloseCode.slowConsumer) }
    }

    /// The code the server closed this connection with, if it did. An overflow counts from the
    /// moment it closed the queue: the writer, on another thread, may find the queue closed before
    /// ``send(_:)`` has gone on to ``close(code:)``, and would otherwise close without a code.
    public var closeCode: UInt16? {
        let code = self.requestedCloseCode.load(ordering: .relaxed)
        if code != 0 { return code }
        return self.outbound.hasOverflowed ? RelayCloseCode.slowConsumer : nil
    }

    /// Whether the server has asked to close this connection: ``closeCode`` without the queue's
    /// lock, for a check on every message. An overflow counts from ``close(code:)``, which follows
    /// it at once on the same thread.
    public var isClosing: Bool { self.requestedCloseCode.load(ordering: .relaxed) != 0 }

    /// The socket is over (the client hung up, or the server hung up on it): messages it sent
    /// before may still be handled, but it can take no seat. Its owner says so.
    public func socketHasClosed() {
        self.socketClosed.store(true, ordering: .relaxed)
    }

    /// Whether this connection may still take a seat in a room: neither the server nor the client
    /// has ended it. A `reconnect` read from a socket its client has already abandoned (a retry on
    /// a new socket got there first) would otherwise replace the live connection (4001) and leave
    /// the player dropped once the dead one's end is seen.
    public var canTakeASeat: Bool { self.closeCode == nil && !self.socketClosed.load(ordering: .relaxed) }

    /// Closes the connection with `code` (once; later calls do nothing).
    public func close(code: UInt16) {
        _ = self.requestedCloseCode.compareExchange(expected: 0, desired: code, ordering: .relaxed)
        self.outbound.close()
        let close = self.closer.withLock { closer in
            defer { closer = nil }
            return closer
        }
        close?(code)
    }
}

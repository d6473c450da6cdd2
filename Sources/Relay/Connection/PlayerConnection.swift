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

    private static let nextID = Atomic<UInt64>(1)

    /// - Parameters:
    ///   - queueCapacity: frames allowed to wait before the client counts as too slow.
    ///   - queueBytes: bytes allowed to wait before the client counts as too slow.
    ///   - close: hangs up the socket with a close code; called at most once.
    public init(queueCapacity: Int, queueBytes: Int = .max, close: @escaping @Sendable (UInt16) -> Void) {
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.outbound = OutboundQueue(capacity: queueCapacity, maxBytes: queueBytes)
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

import NIOCore
import Synchronization

/// A message the connection's reader handles: whatever ``RoomSocketHandler`` did not handle in place.
enum ReaderMessage: Sendable {
    /// A complete text message, unmasked.
    case text(ByteBuffer)
    /// A complete binary message (the relay speaks text only: the reader answers with an error).
    case binary

    /// The bytes it holds while it waits (a binary message is kept as its kind only).
    var heldBytes: Int {
        switch self {
        case .text(let bytes): bytes.readableBytes
        case .binary: 0
        }
    }
}

/// The messages waiting for a connection's reader, oldest first. Filled on the event loop by
/// ``RoomSocketHandler``, drained by the reader; the handler stops reading from the socket while
/// the reader has ``highWater`` messages or ``highWaterBytes`` (so a client that sends faster than
/// its messages are handled is held back by TCP, not buffered here without bound).
final class ReaderQueue: Sendable {
    private struct State {
        var messages = CircularBuffer<ReaderMessage>(initialCapacity: ReaderQueue.initialCapacity)
        var waiter: UnsafeContinuation<Void, Never>?
        var isFinished = false

        mutating func takeWaiter() -> UnsafeContinuation<Void, Never>? {
            defer { self.waiter = nil }
            return self.waiter
        }
    }

    /// Messages waiting before the handler stops reading from the socket.
    static let highWater = 64
    /// Bytes of messages waiting before the handler stops reading from the socket: 64 of the
    /// game's messages (~200 bytes) fit, but a few large ones fill it, where 64 messages of the
    /// frame cap would hold 4 MiB of one connection's (more with a larger cap) for a reader kept
    /// waiting (large messages take turns on the loop; a plugin's answer may take seconds).
    static let highWaterBytes = 64 * 1024
    /// Messages a new queue has room for before it grows: every idle connection holds one.
    static let initialCapacity = 2

    private let state = Mutex(State())

    /// Adds a message and wakes the reader.
    func append(_ message: ReaderMessage) {
        let waiter = self.state.withLock { state in
            state.messages.append(message)
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// No more messages will come (the connection closed): the reader gets `nil` once it has the rest.
    func finish() {
        let waiter = self.state.withLock { state in
            state.isFinished = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// The next message if one waits; `.some(nil)` when finished and drained; nil otherwise.
    func poll() -> ReaderMessage?? {
        self.state.withLock { state -> ReaderMessage?? in
            if let message = state.messages.popFirst() {
                state.messages.releaseBurstStorage(initialCapacity: Self.initialCapacity)
                return .some(message)
            }
            return state.isFinished ? .some(nil) : nil
        }
    }

    /// Elements the queue's storage has room for (for tests).
    var storageCapacity: Int { self.state.withLock { $0.messages.capacity } }

    /// Drops the messages waiting (the reader has stopped).
    func discardAll() {
        self.state.withLock { $0.messages.removeAll() }
    }

    /// The next message, waiting if there is none; `nil` when finished and drained. One reader at a
    /// time. If the reader's task is cancelled while it waits, `onCancel` runs (it should end the
    /// connection, which finishes the queue). The handler is installed only around the wait, so
    /// a connection holds it only while idle, in the frame it is idle in anyway.
    func next(onCancel: @escaping @Sendable () -> Void) async -> ReaderMessage? {
        while true {
            if let polled = self.poll() { return polled }
            // Unsafe rather than checked (which allocates per wait): resumed exactly once, by
            // `append` or `finish` (which take it under the lock) or right here.
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let ready = self.state.withLock { state -> Bool in
                        if !state.messages.isEmpty || state.isFinished { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                onCancel()
            }
        }
    }
}

import Synchronization

/// One connection's messages handed to its room's event loop without waiting, because the room
/// lives on another loop than the connection (``MessageDispatcher/dispatchInPlace(_:session:)``):
/// how many are still on their way, and whether one found the connection no longer the player's.
///
/// The connection's reader waits until none is on its way before it handles anything itself
/// (``ConnectionSession/settleForwarded()``), so its replies come after theirs, in the order the
/// client sent the messages. At most ``limit`` are on their way; past that, messages take the
/// reader's path, which waits, and the client is held back by TCP.
///
/// A message handed to a room whose loop has shut down is never handled, and the reader would
/// then wait for good (``GameRoom/executeOnLoop(_:)``): rooms must live on loops that outlive
/// their connections, as the server's do.
public final class ForwardedMessages: Sendable {
    /// The most messages on their way per connection.
    public static let limit = 64

    private struct State {
        var inFlight = 0
        /// A forwarded message found the connection no longer the player's (dropped, left, replaced).
        var foundStale = false
        var waiter: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Messages on their way now.
    public var inFlight: Int { self.state.withLock { $0.inFlight } }

    /// Counts one more message on its way; false when ``limit`` already are, or when one found
    /// the connection stale and the reader has not yet seen it (``settle()``): the room would
    /// refuse the message, and the reader answers it.
    func begin() -> Bool {
        self.state.withLock { state in
            guard state.inFlight < Self.limit, !state.foundStale else { return false }
            state.inFlight += 1
            return true
        }
    }

    /// Records that a message found the connection no longer the player's (dropped, left,
    /// replaced, removed). Returns whether it is the first since the reader last settled: the one
    /// the room answers `not_in_room`, so that the client hears it once, and at once.
    func markStale() -> Bool {
        self.state.withLock { state in
            defer { state.foundStale = true }
            return !state.foundStale
        }
    }

    /// One message has been handled on the room's loop (or was not sent after all).
    func end() {
        let waiter = self.state.withLock { state -> UnsafeContinuation<Void, Never>? in
            state.inFlight -= 1
            guard state.inFlight == 0 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Whether the reader waits in ``settle()`` for messages on their way (for tests).
    var hasWaiter: Bool { self.state.withLock { $0.waiter != nil } }

    /// Waits until no message is on its way; returns whether one found the connection stale
    /// since the last call. One caller at a time (the connection's reader).
    func settle() async -> Bool {
        if let stale = self.takeIfSettled() { return stale }
        // Unsafe rather than checked (which allocates per wait): resumed exactly once, by the
        // last `end` (which takes it under the lock) or right here.
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let settled = self.state.withLock { state -> Bool in
                guard state.inFlight > 0 else { return true }
                state.waiter = continuation
                return false
            }
            if settled { continuation.resume() }
        }
        return self.takeIfSettled() ?? false
    }

    /// Whether a message found the connection stale, once none is on its way (clearing it); nil
    /// while some are.
    private func takeIfSettled() -> Bool? {
        self.state.withLock { state in
            guard state.inFlight == 0 else { return nil }
            defer { state.foundStale = false }
            return state.foundStale
        }
    }
}

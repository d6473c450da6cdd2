import NIOCore
import Synchronization

/// Tells what a connection's handler waits on that the connection has closed, so that it does
/// not wait long: a plugin's answer may take its whole timeout, and the player's departure, or the
/// server's stop, would wait with it.
public final class ConnectionClosing: Sendable {
    private struct State {
        var closedAt: NIODeadline?
        var onClose: (@Sendable (NIODeadline) -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// The connection has closed: runs what waits on it, once.
    public func close() {
        let (closedAt, onClose) = self.state.withLock { state in
            let closedAt = state.closedAt ?? .now()
            state.closedAt = closedAt
            defer { state.onClose = nil }
            return (closedAt, state.onClose)
        }
        onClose?(closedAt)
    }

    /// When the connection closed, if it has.
    var closedAt: NIODeadline? { self.state.withLock { $0.closedAt } }

    /// Runs `closed` with the time the connection closes, at once if it has, unless
    /// ``stopWaiting()`` comes first. One wait at a time: a connection's handlers run one after
    /// another.
    func onClose(_ closed: @escaping @Sendable (NIODeadline) -> Void) {
        let closedAt = self.state.withLock { state in
            if state.closedAt == nil { state.onClose = closed }
            return state.closedAt
        }
        if let closedAt { closed(closedAt) }
    }

    func stopWaiting() {
        self.state.withLock { $0.onClose = nil }
    }
}

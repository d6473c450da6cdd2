import Synchronization

/// Tells what a connection's handler waits on that the connection has closed, so that it stops
/// waiting: a plugin's answer may take its whole timeout, and the player's departure, or the
/// server's stop, would wait with it.
public final class ConnectionClosing: Sendable {
    private struct State {
        var isClosed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// The connection has closed: runs what waits on it, once.
    public func close() {
        let onClose = self.state.withLock { state in
            state.isClosed = true
            defer { state.onClose = nil }
            return state.onClose
        }
        onClose?()
    }

    /// Runs `abandon` when the connection closes, at once if it has, unless ``stopWaiting()`` comes
    /// first. One wait at a time: a connection's handlers run one after another.
    func onClose(_ abandon: @escaping @Sendable () -> Void) {
        let closed = self.state.withLock { state in
            if !state.isClosed { state.onClose = abandon }
            return state.isClosed
        }
        if closed { abandon() }
    }

    func stopWaiting() {
        self.state.withLock { $0.onClose = nil }
    }
}

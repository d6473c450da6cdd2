import Synchronization

/// Bytes waiting to be written to one plugin process's stdin.
///
/// Requests append their lines without waiting; the single stdin writer takes everything
/// pending at once, so a burst of requests becomes one write. At most `limit` bytes wait: a
/// request that timed out is forgotten by the process, but its line stays here until the
/// plugin reads, and a plugin that reads slowly or not at all would otherwise grow it for good.
final class PluginInput: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var waiter: CheckedContinuation<[UInt8]?, Never>?
        var isClosed = false
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Queues `line`; `false` once the input is closed, or when `limit` bytes already wait.
    func append(_ line: [UInt8]) -> Bool {
        let (accepted, waiter) = self.state.withLock { state -> (Bool, CheckedContinuation<[UInt8]?, Never>?) in
            guard !state.isClosed, state.pending.count + line.count <= self.limit else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.pending.append(contentsOf: line)
            return (true, nil)
        }
        waiter?.resume(returning: line)
        return accepted
    }

    /// Everything pending, waiting if nothing is; `nil` once closed and drained.
    func next() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state -> [UInt8]?? in
                if !state.pending.isEmpty {
                    defer { state.pending = [] }
                    return .some(state.pending)
                }
                if state.isClosed { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops accepting lines; the writer drains what is pending, then gets `nil`.
    func close() {
        let waiter = self.state.withLock { state in
            state.isClosed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}

import NIOCore
import Synchronization

/// Lines waiting to be written to one plugin process's stdin.
///
/// Requests append their lines without waiting; the single stdin writer takes everything
/// pending at once, so a burst of requests becomes one write. A line whose request has timed
/// out before the writer took it is dropped unwritten: a plugin that fell behind would otherwise
/// spend its time on requests nobody waits for, and never catch up. At most `limit` bytes wait: a
/// plugin that reads slowly or not at all cannot grow the server.
final class PluginInput: Sendable {
    private struct Line {
        let bytes: [UInt8]
        /// When its request times out.
        let deadline: NIODeadline
    }

    private struct State {
        /// In the order they came, so also by deadline (every request gets the same timeout).
        var pending: [Line] = []
        var pendingBytes = 0
        var waiter: CheckedContinuation<[UInt8]?, Never>?
        var isClosed = false

        /// Forgets the lines whose requests have timed out by `now`.
        mutating func dropExpired(now: NIODeadline) {
            guard let fresh = self.pending.firstIndex(where: { $0.deadline > now }) else {
                (self.pending, self.pendingBytes) = ([], 0)
                return
            }
            for line in self.pending[..<fresh] { self.pendingBytes -= line.bytes.count }
            self.pending.removeFirst(fresh)
        }
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Queues `line`, to be written unless `deadline` passes first; `false` once the input is
    /// closed, or when `limit` bytes of lines still due already wait.
    func append(_ line: [UInt8], until deadline: NIODeadline) -> Bool {
        let (accepted, waiter) = self.state.withLock { state -> (Bool, CheckedContinuation<[UInt8]?, Never>?) in
            guard !state.isClosed else { return (false, nil) }
            if state.pendingBytes + line.count > self.limit { state.dropExpired(now: .now()) }
            guard state.pendingBytes + line.count <= self.limit else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.pending.append(Line(bytes: line, deadline: deadline))
            state.pendingBytes += line.count
            return (true, nil)
        }
        waiter?.resume(returning: line)
        return accepted
    }

    /// Every pending line still due, waiting if there is none; `nil` once closed and drained.
    func next() async -> [UInt8]? {
        while true {
            let taken: [UInt8]? = await withCheckedContinuation { continuation in
                let ready = self.state.withLock { state -> [UInt8]?? in
                    if !state.pending.isEmpty {
                        state.dropExpired(now: .now())
                        defer { (state.pending, state.pendingBytes) = ([], 0) }
                        return .some(state.pending.flatMap(\.bytes))
                    }
                    if state.isClosed { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
            // Every line had expired: wait for the next.
            if let bytes = taken, bytes.isEmpty { continue }
            return taken
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

import NIOCore
import Synchronization

/// Lines waiting to be written to one plugin process's stdin.
///
/// Requests append their lines without waiting; the single stdin writer takes everything
/// pending at once, so a burst of requests becomes one write. A line whose request has timed
/// out before the writer took it is dropped unwritten: a plugin that fell behind would otherwise
/// spend its time on requests nobody waits for, and never catch up. At most `limit` bytes wait,
/// those the writer took and is still writing included: a plugin that reads slowly or not at all
/// cannot grow the server.
final class PluginInput: Sendable {
    private struct Line {
        let bytes: [UInt8]
        /// Its request's.
        let id: UInt64
        /// When its request times out.
        let deadline: NIODeadline
    }

    private struct State {
        /// In the order they came, so also by deadline (every request gets the same timeout).
        var pending: [Line] = []
        var pendingBytes = 0
        /// What the writer took last: being written until it asks for more.
        var bytesBeingWritten = 0
        var waiter: CheckedContinuation<[UInt8]?, Never>?
        var isClosed = false

        /// Forgets the lines whose requests have timed out by `now`; returns their ids.
        mutating func dropExpired(now: NIODeadline) -> [UInt64] {
            let fresh = self.pending.firstIndex(where: { $0.deadline > now }) ?? self.pending.endIndex
            let expired = self.pending[..<fresh]
            for line in expired { self.pendingBytes -= line.bytes.count }
            defer { self.pending.removeFirst(fresh) }
            return expired.map(\.id)
        }
    }

    private let state = Mutex(State())
    private let limit: Int
    /// Told the ids of the lines dropped unwritten for their timeout: no answer can come for them.
    private let droppedUnwritten: @Sendable ([UInt64]) -> Void

    init(limit: Int, droppedUnwritten: @escaping @Sendable ([UInt64]) -> Void = { _ in }) {
        self.limit = limit
        self.droppedUnwritten = droppedUnwritten
    }

    /// Queues `line`, request `id`'s, to be written unless `deadline` passes first; `false` once
    /// the input is closed, or when `limit` bytes of lines still due already wait.
    func append(_ line: [UInt8], id: UInt64, until deadline: NIODeadline) -> Bool {
        var dropped: [UInt64] = []
        defer { if !dropped.isEmpty { self.droppedUnwritten(dropped) } }
        let (accepted, waiter) = self.state.withLock { state -> (Bool, CheckedContinuation<[UInt8]?, Never>?) in
            guard !state.isClosed else { return (false, nil) }
            let waiting = state.pendingBytes + state.bytesBeingWritten
            if waiting + line.count > self.limit { dropped = state.dropExpired(now: .now()) }
            guard state.pendingBytes + state.bytesBeingWritten + line.count <= self.limit else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                state.bytesBeingWritten = line.count
                return (true, waiter)
            }
            state.pending.append(Line(bytes: line, id: id, deadline: deadline))
            state.pendingBytes += line.count
            return (true, nil)
        }
        waiter?.resume(returning: line)
        return accepted
    }

    /// Drops request `id`'s line if it is still waiting to be written (its sender has gone);
    /// whether it was: the plugin never sees it.
    @discardableResult
    func forget(_ id: UInt64) -> Bool {
        self.state.withLock { state in
            guard let index = state.pending.firstIndex(where: { $0.id == id }) else { return false }
            state.pendingBytes -= state.pending.remove(at: index).bytes.count
            return true
        }
    }

    /// Drops the lines whose requests have timed out by `now`; returns their ids. For the
    /// process's sweep, which accounts for them itself (``droppedUnwritten`` is not told).
    func dropExpired(now: NIODeadline) -> [UInt64] {
        self.state.withLock { state in state.dropExpired(now: now) }
    }

    /// Every pending line still due, waiting if there is none; `nil` once closed and drained. The
    /// writer asks once it has written what it took before.
    func next() async -> [UInt8]? {
        while true {
            var dropped: [UInt64] = []
            let taken: [UInt8]? = await withCheckedContinuation { continuation in
                let ready = self.state.withLock { state -> [UInt8]?? in
                    state.bytesBeingWritten = 0
                    if !state.pending.isEmpty {
                        dropped = state.dropExpired(now: .now())
                        state.bytesBeingWritten = state.pendingBytes
                        defer { (state.pending, state.pendingBytes) = ([], 0) }
                        return .some(state.pending.flatMap(\.bytes))
                    }
                    if state.isClosed { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
            if !dropped.isEmpty { self.droppedUnwritten(dropped) }
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

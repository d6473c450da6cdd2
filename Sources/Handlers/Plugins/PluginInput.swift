import NIOCore
import Synchronization

/// Lines waiting to be written to one plugin process's stdin.
///
/// Requests append their lines without waiting; the single stdin writer takes what is pending,
/// so a burst of requests becomes one write. It takes no more than the ``AnswerWindow`` lets
/// the plugin owe: its pipe would deliver the rest however old, and a plugin that fell behind
/// would spend its time on requests nobody waits for, and never catch up. While the window holds
/// lines back, the newest go first: they have the most time left. A line whose request has less
/// than half its timeout left before the writer takes it is dropped unwritten: the plugin would
/// most likely answer it late. At most `limit` bytes wait, those the writer took and is still
/// writing included: a plugin that reads slowly or not at all cannot grow the server.
///
/// Event lines (PLUGINS.md, "Events") need no answer and take no place in the window, but keep
/// their place in the queue: an event is written after every request queued before it (or once
/// those are dropped as late) and before every request queued after it. Requests and events are
/// queued inside their room, so a plugin hears each room's requests and events in the room's order.
final class PluginInput: Sendable {
    /// The waiting writer, and what it is to be resumed with.
    private typealias Wake = (writer: CheckedContinuation<[UInt8]?, Never>, lines: [UInt8]?)

    private struct Line {
        let bytes: [UInt8]
        /// The request it asks, or nil for an event, which no answer follows and is never late.
        let request: Request?
    }

    private struct Request {
        let id: UInt64
        /// When it times out.
        let deadline: NIODeadline
        /// After this its line is not written.
        let writeBy: NIODeadline
    }

    /// A request written whose answer has not come.
    private struct Written {
        let deadline: NIODeadline
        /// Its place in the order of writing.
        let order: UInt64
    }

    private struct State {
        /// In the order they came (so nearly by deadline: every request gets the same timeout).
        var pending: [Line] = []
        var pendingBytes = 0
        /// What the writer took last: being written until it asks for more.
        var bytesBeingWritten = 0
        /// The requests written whose answers have not come, by id.
        var unanswered: [UInt64: Written] = [:]
        /// Requests written so far: the last one's place in the order of writing.
        var written: UInt64 = 0
        /// The latest-written request answered so far (its place in the order of writing).
        var newestAnswered: UInt64 = 0
        var window: AnswerWindow
        var waiter: CheckedContinuation<[UInt8]?, Never>?
        var isClosed = false

        /// Forgets the lines too late to write by `now`; returns their ids. All are looked at: a
        /// request's deadline is set before its line is appended, so two senders' lines may come
        /// out of the order of their deadlines.
        mutating func dropLate(now: NIODeadline) -> [UInt64] {
            var late: [UInt64] = []
            var lateBytes = 0
            self.pending.removeAll { line in
                guard let request = line.request, request.writeBy <= now else { return false }
                late.append(request.id)
                lateBytes += line.bytes.count
                return true
            }
            self.pendingBytes -= lateBytes
            return late
        }

        /// The lines for the writer, after dropping those too late (added to `dropped`): of the
        /// requests before the first event, as many as the window has room for (the newest, if
        /// it holds some back; all once the input is closed: the plugin is asked to finish what
        /// it was sent); once none of them is left, the event and, in turn, what follows it. Nil
        /// if there are none.
        mutating func takeLines(now: NIODeadline, dropped: inout [UInt64]) -> [UInt8]? {
            dropped += self.dropLate(now: now)
            var bytes: [UInt8] = []
            while true {
                let requests = self.pending.firstIndex { $0.request == nil } ?? self.pending.count
                let room = self.isClosed ? requests : self.window.room(unanswered: self.unanswered.count)
                let count = min(requests, room)
                let taken = (requests - count)..<requests
                for line in self.pending[taken] {
                    if let request = line.request {  // always, before the first event
                        self.written += 1
                        self.unanswered[request.id] = Written(deadline: request.deadline, order: self.written)
                    }
                    bytes += line.bytes
                }
                self.pending.removeSubrange(taken)
                // The event waits while requests queued before it do.
                guard count == requests, !self.pending.isEmpty else { break }
                bytes += self.pending.removeFirst().bytes
            }
            guard !bytes.isEmpty else { return nil }
            self.pendingBytes -= bytes.count
            self.bytesBeingWritten = bytes.count
            return bytes
        }

        /// Request `id`, written, is answered at `now`: the window learns whether in time.
        /// Whether it was written and not yet answered.
        mutating func answer(_ id: UInt64, now: NIODeadline) -> Bool {
            guard let request = self.unanswered.removeValue(forKey: id) else { return false }
            if now <= request.deadline {
                self.window.answeredInTime(unanswered: self.unanswered.count + 1)
            } else {
                self.learnLate(request)
            }
            self.newestAnswered = max(self.newestAnswered, request.order)
            return true
        }

        /// Gives up on request `id`, unanswered a while past its timeout: a late answer, and its
        /// place back. (It may still be in a slow plugin's queue: one slower than two timeouts a
        /// request is so written one more each two timeouts, up to what its stdin pipe holds,
        /// and answers none in time anyway. Holding the places back instead stalled the writer
        /// for good once a window's worth went unanswered, and a plugin answering everything
        /// else was killed as hung.)
        mutating func release(_ id: UInt64) {
            guard let request = self.unanswered.removeValue(forKey: id) else { return }
            self.learnLate(request)
        }

        /// A late answer shrinks the window, unless one to a request written later came first:
        /// the plugin answers several at once, and this request was slow on its own.
        private mutating func learnLate(_ request: Written) {
            guard request.order >= self.newestAnswered else { return }
            self.window.answeredLate(written: request.order, newestWritten: self.written)
        }

        /// What the waiting writer is to be resumed with now, if anything: lines, or the end once
        /// the input is closed and drained.
        mutating func wakeWriter(now: NIODeadline, dropped: inout [UInt64]) -> Wake? {
            guard let waiter = self.waiter else { return nil }
            let lines = self.takeLines(now: now, dropped: &dropped)
            guard lines != nil || (self.isClosed && self.pending.isEmpty) else { return nil }
            self.waiter = nil
            return (waiter, lines)
        }
    }

    private let state: Mutex<State>
    private let limit: Int
    /// How much of its timeout a request must have left to be written.
    private let leftToWrite: TimeAmount
    /// How long past its timeout a written request may stay unanswered before it is taken as
    /// answered late and gives its place back: a plugin that skips a request (or answers it with
    /// a line too long to read) must not keep its place, so that the requests after it are
    /// written and their answers show the plugin working before the hang rule's silence ends
    /// (``PluginSettings/silenceBeforeRestart``, at least 5 timeouts from its send).
    private let unansweredFor: TimeAmount
    /// Told the ids of the lines dropped unwritten: no answer can come for them.
    private let droppedUnwritten: @Sendable ([UInt64]) -> Void

    init(settings: PluginSettings, droppedUnwritten: @escaping @Sendable ([UInt64]) -> Void = { _ in }) {
        self.state = Mutex(State(window: AnswerWindow(maximumSize: settings.maxInFlight)))
        self.limit = settings.maxQueuedInputBytes
        self.leftToWrite = TimeAmount(settings.requestTimeout / 2)
        // A timeout, or less where the hang rule's silence is short (at most half what is left of
        // it once the request has timed out): a place is given back before the plugin is killed.
        self.unansweredFor = TimeAmount(
            max(.zero, min(settings.requestTimeout, (settings.silenceBeforeRestart - settings.requestTimeout) / 2)))
        self.droppedUnwritten = droppedUnwritten
    }

    /// Queues `line`, request `id`'s, to be written while at least half the time until
    /// `deadline` is left; `false` once the input is closed, or when `limit` bytes of lines still
    /// due already wait.
    func append(_ line: [UInt8], id: UInt64, until deadline: NIODeadline) -> Bool {
        self.enqueue(
            Line(bytes: line, request: Request(id: id, deadline: deadline, writeBy: deadline - self.leftToWrite)))
    }

    /// Queues event `line`, to be written once the requests queued before it are written or
    /// dropped; `false` as for ``append(_:id:until:)``: a plugin that has stopped reading misses
    /// events rather than grow the server.
    func appendEvent(_ line: [UInt8]) -> Bool {
        self.enqueue(Line(bytes: line, request: nil))
    }

    private func enqueue(_ line: Line) -> Bool {
        var dropped: [UInt64] = []
        defer { if !dropped.isEmpty { self.droppedUnwritten(dropped) } }
        let now = NIODeadline.now()
        let size = line.bytes.count
        let (accepted, wake) = self.state.withLock { state -> (Bool, Wake?) in
            guard !state.isClosed else { return (false, nil) }
            if state.pendingBytes + state.bytesBeingWritten + size > self.limit {
                dropped = state.dropLate(now: now)
            }
            guard state.pendingBytes + state.bytesBeingWritten + size <= self.limit else { return (false, nil) }
            state.pending.append(line)
            state.pendingBytes += size
            return (true, state.wakeWriter(now: now, dropped: &dropped))
        }
        if let wake { wake.writer.resume(returning: wake.lines) }
        return accepted
    }

    /// The plugin answered request `id` (or tried to): if it was written and not yet answered,
    /// the window learns whether the answer came in time, and has room for another line.
    func answered(_ id: UInt64) {
        var dropped: [UInt64] = []
        defer { if !dropped.isEmpty { self.droppedUnwritten(dropped) } }
        let now = NIODeadline.now()
        let wake = self.state.withLock { state -> Wake? in
            guard state.answer(id, now: now) else { return nil }
            return state.wakeWriter(now: now, dropped: &dropped)
        }
        if let wake { wake.writer.resume(returning: wake.lines) }
    }

    /// Drops request `id`'s line if it is still waiting to be written (its sender has gone);
    /// whether it was: the plugin never sees it.
    @discardableResult
    func forget(_ id: UInt64) -> Bool {
        self.state.withLock { state in
            guard let index = state.pending.firstIndex(where: { $0.request?.id == id }) else { return false }
            state.pendingBytes -= state.pending.remove(at: index).bytes.count
            return true
        }
    }

    /// For the process's sweep: drops the lines too late to write by `now` and returns their
    /// ids (the sweep accounts for them itself: ``droppedUnwritten`` is not told), and takes the
    /// requests unanswered a while past their own as answered late (``State/release(_:)``).
    func dropLate(now: NIODeadline) -> [UInt64] {
        let (dropped, wake) = self.state.withLock { state -> ([UInt64], Wake?) in
            var dropped = state.dropLate(now: now)
            let overdue = state.unanswered.filter { $0.value.deadline + self.unansweredFor <= now }
            for (id, _) in overdue.sorted(by: { $0.value.order < $1.value.order }) { state.release(id) }
            let wake = state.wakeWriter(now: now, dropped: &dropped)
            return (dropped, wake)
        }
        if let wake { wake.writer.resume(returning: wake.lines) }
        return dropped
    }

    /// The pending lines still due that the window has room for, waiting until there are some;
    /// `nil` once closed and drained. The writer asks once it has written what it took before.
    func next() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            var dropped: [UInt64] = []
            let ready = self.state.withLock { state -> [UInt8]?? in
                state.bytesBeingWritten = 0
                if let lines = state.takeLines(now: .now(), dropped: &dropped) { return .some(lines) }
                if state.isClosed && state.pending.isEmpty { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            // Told before the writer waits, which may be long: until then a dropped request would
            // count as owed, and a plugin that answered all the rest be killed for its silence.
            if !dropped.isEmpty { self.droppedUnwritten(dropped) }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops accepting lines; the writer drains what is pending, then gets `nil`.
    func close() {
        var dropped: [UInt64] = []
        defer { if !dropped.isEmpty { self.droppedUnwritten(dropped) } }
        let wake = self.state.withLock { state -> Wake? in
            state.isClosed = true
            return state.wakeWriter(now: .now(), dropped: &dropped)
        }
        if let wake { wake.writer.resume(returning: wake.lines) }
    }

    /// How many requests the window lets the plugin owe now (for tests).
    var windowSize: Int { self.state.withLock { Int($0.window.size) } }

    /// How many requests written are still unanswered (for tests).
    var unansweredCount: Int { self.state.withLock { $0.unanswered.count } }
}

import NIOCore
import Synchronization

/// Lines waiting to be written to one plugin process's stdin.
///
/// Requests append their lines without waiting; the single stdin writer takes what is pending,
/// so a burst of requests becomes one write. It takes no more than the ``AnswerWindow`` lets
/// the plugin owe: its pipe would deliver the rest however old, and a plugin that fell behind
/// would spend its time on requests nobody waits for, and never catch up. While the window holds
/// lines back, the newest go first (of those no room event waits before): they have the most time
/// left. A line whose request has less than half its timeout left when the writer takes it is
/// dropped unwritten: the plugin would most likely answer it late. At most `limit` bytes wait,
/// those the writer took and is still writing included (and, once the input closes, its last
/// notices of missed events, some 700 KB at most): a plugin that reads slowly or not at all
/// cannot grow the server.
///
/// Room event lines (PLUGINS.md, "Room events") need no answer and take no place in the window,
/// but keep their place among their room's requests (``RoomEventGates``): an event is written
/// after every request of its room queued before it (or once those are dropped as late) and
/// before every one queued after it. A member's requests and its room's events are queued inside
/// the room, so a plugin hears each room's events where they happened among its requests. An
/// event that does not fit may be counted (``MissedRoomEvents``) for an `events_missed` notice,
/// queued as an event of its room once there is room: until then no line of that room is queued.
final class PluginInput: Sendable {
    /// What the writer's wait ends with. A wake only tells it to look again: it takes its lines
    /// itself once it runs, so that a writer held up (its task waiting for a thread) does not
    /// write lines that became late meanwhile, taken by whoever woke it.
    private enum Turn {
        case write([UInt8])
        case finish
        case lookAgain
    }
    private typealias Writer = CheckedContinuation<Turn, Never>

    /// A request's line.
    private struct Line {
        let bytes: [UInt8]
        let id: UInt64
        /// When its request times out.
        let deadline: NIODeadline
        /// After this it is not written.
        let writeBy: NIODeadline
        /// The sender's room, for a member's request.
        let room: String?
        /// The event of its room it may not be written before, while that one waits.
        var gate: UInt64?
        /// The event of its room queued after it, which waits for it.
        var heldBy: UInt64?
    }

    /// A request written whose answer has not come.
    private struct Written {
        let deadline: NIODeadline
        /// Its place in the order of writing.
        let order: UInt64
        /// When the writer took it.
        let takenAt: NIODeadline
    }

    private struct State {
        /// In the order they came (so nearly by deadline: every request gets the same timeout).
        var pending: [Line] = []
        var pendingBytes = 0
        /// What the writer took last: being written until it asks for more.
        var bytesBeingWritten = 0
        /// While the writer writes: when it last got bytes into the pipe (took its lines, or
        /// wrote a piece of them, ``PluginInput/writePieceBytes``). Nil while it waits for lines.
        var lastWriteProgress: NIODeadline?
        /// When a request last came, queued or refused (its queue full, say).
        var lastRequestAsked: NIODeadline?
        /// Whether a stall was reported (``PluginInput/reportStall(now:silence:lastAnswer:)``): once.
        var stallReported = false
        /// Where the next write's room events start: the room after the one the last write's
        /// budget ran out in (``RoomEventGates/takeReady(into:budget:from:)``).
        var nextEventRoom: String?
        /// The requests written whose answers have not come, by id.
        var unanswered: [UInt64: Written] = [:]
        /// Requests written so far: the last one's place in the order of writing.
        var written: UInt64 = 0
        /// Requests queued so far, written or not (for tests).
        var requestsQueued = 0
        /// The latest-written request answered so far (its place in the order of writing).
        var newestAnswered: UInt64 = 0
        /// When the last answers to requests written came, in time or late.
        var pace = AnswerPace()
        var window: AnswerWindow
        var waiter: Writer?
        /// The requests dropped unwritten since the process's last sweep, which reports them
        /// (``PluginInput/sweep(now:forgetting:)``): no answer can come for them. Reported there, in the same
        /// turn as the sweep times requests out, no dropped request is ever taken as owed.
        var droppedUnreported: [UInt64] = []
        var isClosed = false
        /// The room events waiting, with what each waits for.
        var events = RoomEventGates()
        /// Rooms whose events did not fit, for a plugin that asked to be told (`events_missed`).
        var missed = MissedRoomEvents()
        /// Most bytes of lines that may wait (those being written included).
        let limit: Int

        /// Closed, and nothing left to write.
        var isDrained: Bool { self.isClosed && self.pending.isEmpty && self.events.isEmpty && self.missed.isEmpty }

        /// Queues a request's line, gated by the last event of its room waiting, if any.
        mutating func queue(_ line: Line) {
            var line = line
            line.gate = line.room.flatMap { self.events.gate(forRequestIn: $0) }
            self.pending.append(line)
            self.pendingBytes += line.bytes.count
            self.requestsQueued += 1
        }

        /// Queues event `bytes` of `room`, behind the requests of its room queued since its last event.
        mutating func queueEvent(_ bytes: [UInt8], room: String) {
            let before = self.pending.indices.filter { self.pending[$0].room == room && self.pending[$0].heldBy == nil }
            let number = self.events.queue(bytes, room: room, requestsBefore: before.count)
            for index in before { self.pending[index].heldBy = number }
            self.pendingBytes += bytes.count
        }

        /// Queues the `events_missed` notices that fit under the limit (all of them, some 700 KB at
        /// most, with `ignoringLimit`), each as an event of its room: after the room's requests
        /// queued before, before any line of the room queued after. One pass over the queue for all.
        /// Whether it queued any.
        @discardableResult
        mutating func queueMissedNotices(ignoringLimit: Bool = false) -> Bool {
            guard !self.missed.isEmpty else { return false }
            let space = ignoringLimit ? .max : self.limit - self.pendingBytes - self.bytesBeingWritten
            let notices = self.missed.takeNotices(fitting: space)
            guard !notices.isEmpty else { return false }
            let rooms = Set(notices.map(\.room))
            var before: [String: [Int]] = [:]
            for index in self.pending.indices where self.pending[index].heldBy == nil {
                if let room = self.pending[index].room, rooms.contains(room) { before[room, default: []].append(index) }
            }
            for notice in notices {
                let held = before[notice.room] ?? []
                let number = self.events.queue(notice.line, room: notice.room, requestsBefore: held.count)
                for index in held { self.pending[index].heldBy = number }
                self.pendingBytes += notice.line.count
            }
            return true
        }

        /// `line` left the queue: the event it held back, if any, waits for one request less.
        private mutating func left(_ line: Line) {
            if let heldBy = line.heldBy, let room = line.room { self.events.requestLeft(heldBy: heldBy, room: room) }
        }

        /// Forgets the lines too late to write by `now`, their ids kept for the sweep; whether
        /// there were any. All are looked at: a request's deadline is set before its line is
        /// appended, so two senders' lines may come out of the order of their deadlines.
        @discardableResult
        mutating func dropLate(now: NIODeadline) -> Bool {
            var lateBytes = 0
            var left: [Line] = []
            self.pending.removeAll { line in
                guard line.writeBy <= now else { return false }
                lateBytes += line.bytes.count
                left.append(line)
                return true
            }
            for line in left {
                self.left(line)
                self.droppedUnreported.append(line.id)
            }
            self.pendingBytes -= lateBytes
            return !left.isEmpty
        }

        /// Forgets request `id`'s line if it is still queued; whether it was.
        mutating func forget(_ id: UInt64) -> Bool {
            guard let index = self.pending.firstIndex(where: { $0.id == id }) else { return false }
            let line = self.pending.remove(at: index)
            self.left(line)
            self.pendingBytes -= line.bytes.count
            return true
        }

        /// The lines for the writer, after dropping those too late: of the requests no waiting
        /// event gates, as many as the window has room for (the newest, if it holds some back; all
        /// once the input is closed: the plugin is asked to finish what it was sent), then the
        /// events no request holds back any more, and in turn the requests those events gated,
        /// up to ``PluginInput/eventBytesPerWrite`` of events. Nil if there are none.
        mutating func takeLines(now: NIODeadline) -> [UInt8]? {
            self.dropLate(now: now)
            self.queueMissedNotices()
            var bytes: [UInt8] = []
            var eventBytes = 0
            while true {
                let free = self.pending.indices.filter { self.pending[$0].gate == nil }
                let room = self.isClosed ? free.count : self.window.room(unanswered: self.unanswered.count)
                let taken = free.suffix(room)
                for index in taken {
                    let line = self.pending[index]
                    self.written += 1
                    self.unanswered[line.id] = Written(deadline: line.deadline, order: self.written, takenAt: now)
                    bytes += line.bytes
                    self.left(line)
                }
                if !taken.isEmpty {
                    let takenSet = Set(taken)
                    self.pending = self.pending.indices.compactMap { takenSet.contains($0) ? nil : self.pending[$0] }
                }
                // Events up to a pipe's worth, whatever the requests took: requests they release
                // go behind at most that, and the rest wait for the next write rather than be taken
                // (and owed) behind megabytes the plugin has yet to read.
                guard eventBytes < PluginInput.eventBytesPerWrite else { break }
                let before = bytes.count
                let released = self.events.takeReady(
                    into: &bytes, budget: PluginInput.eventBytesPerWrite - eventBytes, from: &self.nextEventRoom)
                eventBytes += bytes.count - before
                guard !released.isEmpty else { break }
                for index in self.pending.indices {
                    if let gate = self.pending[index].gate, released.contains(gate) { self.pending[index].gate = nil }
                }
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
            let roundTrip = now - request.takenAt
            if now <= request.deadline {
                let pace = self.pace.meanGap(before: now, over: Int(self.window.size)) ?? roundTrip
                self.window.answeredInTime(unanswered: self.unanswered.count + 1, roundTrip: roundTrip, pace: pace)
            } else {
                self.learnLate(request)
            }
            self.newestAnswered = max(self.newestAnswered, request.order)
            self.pace.record(now)
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

        /// Whether ``takeLines(now:)`` would take lines, once the late ones are dropped and the
        /// notices that fit queued: a request no event gates that the window has room for, or an
        /// event no request holds back.
        var hasLinesToTake: Bool {
            let room = self.isClosed || self.window.room(unanswered: self.unanswered.count) > 0
            return self.events.hasReady || (room && self.pending.contains { $0.gate == nil })
        }

        /// The waiting writer, to be told to look again, if there are lines for it now (or the end,
        /// once the input is closed and drained).
        mutating func wakeWriter(now: NIODeadline) -> Writer? {
            guard let waiter = self.waiter else { return nil }
            self.dropLate(now: now)
            self.queueMissedNotices()
            guard self.hasLinesToTake || self.isDrained else { return nil }
            self.waiter = nil
            return waiter
        }
    }

    private let state: Mutex<State>
    /// The most bytes of room events the writer takes at once: a Linux pipe's default buffer.
    static let eventBytesPerWrite = 64 * 1024
    /// The writer writes what it took in pieces of at most this, each noted
    /// (``wrotePiece()``): a plugin that reads at all is told from one that has stopped.
    static let writePieceBytes = 4 * 1024
    /// How much of its timeout a request must have left to be written.
    private let leftToWrite: TimeAmount
    /// How long past its timeout a written request may stay unanswered before it is taken as
    /// answered late and gives its place back: a plugin that skips a request (or answers it with
    /// a line too long to read) must not keep its place, so that the requests after it are
    /// written and their answers show the plugin working before the hang rule's silence ends
    /// (``PluginSettings/silenceBeforeRestart``, at least 5 timeouts from its send).
    private let unansweredFor: TimeAmount

    init(settings: PluginSettings) {
        self.state = Mutex(
            State(
                window: AnswerWindow(maximumSize: settings.maxInFlight, timeout: TimeAmount(settings.requestTimeout)),
                limit: settings.maxQueuedInputBytes))
        self.leftToWrite = TimeAmount(settings.requestTimeout / 2)
        // A timeout, or less where the hang rule's silence is short (at most half what is left of
        // it once the request has timed out): a place is given back before the plugin is killed.
        self.unansweredFor = TimeAmount(
            max(.zero, min(settings.requestTimeout, (settings.silenceBeforeRestart - settings.requestTimeout) / 2)))
    }

    /// Queues `line`, request `id`'s, to be written while at least half the time until
    /// `deadline` is left, and after the events of `room` (the sender's, for a member) already
    /// waiting; `false` once the input is closed, when `limit` bytes of lines still due
    /// already wait, or while a notice of missed events of `room` waits for room.
    func append(_ line: [UInt8], id: UInt64, until deadline: NIODeadline, room: String? = nil) -> Bool {
        let line = Line(
            bytes: line, id: id, deadline: deadline, writeBy: deadline - self.leftToWrite, room: room)
        return self.enqueue(size: line.bytes.count, room: room, isRequest: true) { $0.queue(line) }
    }

    /// Queues event `line` of `room`, to be written once the room's requests queued before it are
    /// written or dropped, and before those queued after it; `false` as for
    /// ``append(_:id:until:room:)``: a plugin that has stopped reading misses events rather than
    /// grow the server. With `noteIfMissed`, one that did not fit is counted for an `events_missed`
    /// notice of its room, queued once there is room for it, before any later line of the room.
    func appendEvent(_ line: [UInt8], room: String, noteIfMissed: Bool = false) -> Bool {
        self.enqueue(size: line.count, room: room, noteIfMissed: noteIfMissed) { $0.queueEvent(line, room: room) }
    }

    /// Queues `size` bytes of a line of `room` with `queue` if the limit allows, and no notice of
    /// missed events of the room still waits for room to be queued. A request (`isRequest`) is
    /// noted as asked either way, for the stall rule (``reportStall(now:silence:lastAnswer:)``).
    private func enqueue(
        size: Int, room: String?, noteIfMissed: Bool = false, isRequest: Bool = false, _ queue: (inout State) -> Void
    ) -> Bool {
        let now = NIODeadline.now()
        let (accepted, writer) = self.state.withLock { state -> (Bool, Writer?) in
            guard !state.isClosed else { return (false, nil) }
            if isRequest { state.lastRequestAsked = now }
            var droppedAny = false
            if state.pendingBytes + state.bytesBeingWritten + size > state.limit || !state.missed.isEmpty {
                droppedAny = state.dropLate(now: now)
            }
            let queuedNotices = state.queueMissedNotices()
            guard state.pendingBytes + state.bytesBeingWritten + size <= state.limit,
                !(room.map(state.missed.contains) ?? false)
            else {
                if noteIfMissed, let room { state.missed.add(room) }
                // Notices just queued, or events late lines held back, may be ready for a writer
                // that waits; else a refusal under overload costs no more than the checks above.
                guard queuedNotices || droppedAny else { return (false, nil) }
                return (false, state.wakeWriter(now: now))
            }
            queue(&state)
            return (true, state.wakeWriter(now: now))
        }
        writer?.resume(returning: .lookAgain)
        return accepted
    }

    /// The plugin answered request `id` (or tried to): if it was written and not yet answered,
    /// the window learns whether the answer came in time, and has room for another line. Whether
    /// it was. (`now` is for tests.)
    @discardableResult
    func answered(_ id: UInt64, at now: NIODeadline = .now()) -> Bool {
        let (owed, writer) = self.state.withLock { state -> (Bool, Writer?) in
            guard state.answer(id, now: now) else { return (false, nil) }
            return (true, state.wakeWriter(now: now))
        }
        writer?.resume(returning: .lookAgain)
        return owed
    }

    /// Drops request `id`'s line if it is still waiting to be written (its sender has gone);
    /// whether it was: the plugin never sees it.
    @discardableResult
    func forget(_ id: UInt64) -> Bool {
        self.state.withLock { $0.forget(id) }
    }

    /// For the process's sweep: drops the lines too late to write by `now`, and those of the
    /// requests `forgetting` (their senders gone), takes the requests unanswered a while past their
    /// own as answered late (``State/release(_:)``), and returns the ids of every request dropped
    /// unwritten since its last call, by whatever path, and of those forgotten now.
    func sweep(now: NIODeadline, forgetting: [UInt64] = []) -> [UInt64] {
        let (dropped, writer) = self.state.withLock { state -> ([UInt64], Writer?) in
            state.dropLate(now: now)
            for id in forgetting where state.forget(id) { state.droppedUnreported.append(id) }
            let overdue = state.unanswered.filter { $0.value.deadline + self.unansweredFor <= now }
            for (id, _) in overdue.sorted(by: { $0.value.order < $1.value.order }) { state.release(id) }
            let writer = state.wakeWriter(now: now)
            defer { state.droppedUnreported = [] }
            return (state.droppedUnreported, writer)
        }
        writer?.resume(returning: .lookAgain)
        return dropped
    }

    /// The pending lines still due that the window has room for, waiting until there are some;
    /// `nil` once closed and drained. The writer asks once it has written what it took before.
    func next() async -> [UInt8]? {
        while true {
            let turn = await withCheckedContinuation { (writer: Writer) in
                let turn = self.state.withLock { state -> Turn? in
                    state.bytesBeingWritten = 0
                    state.lastWriteProgress = nil
                    let now = NIODeadline.now()
                    if let lines = state.takeLines(now: now) {
                        state.lastWriteProgress = now
                        return .write(lines)
                    }
                    if state.isDrained { return .finish }
                    state.waiter = writer
                    return nil
                }
                if let turn { writer.resume(returning: turn) }
            }
            switch turn {
            case .write(let lines): return lines
            case .finish: return nil
            case .lookAgain: continue
            }
        }
    }

    /// The writer got another piece of what it took into the pipe.
    func wrotePiece() {
        self.state.withLock { state in
            if state.lastWriteProgress != nil { state.lastWriteProgress = .now() }
        }
    }

    /// Whether the plugin has taken nothing of its stdin, and answered nothing (`lastAnswer`), for
    /// `silence`, while a request came for it: it has stopped reading (hung, most likely, with the
    /// pipe full of room events), so nothing can be sent to it and every request times out
    /// unwritten or is refused, never owed: the hang rule's answers-owed silence would never
    /// start. Measured from the later of the two: a last answer after the stdin's last progress
    /// (a request answered late, then no more read) must not put the stall off for ever. One that
    /// only listens is never asked anything, so never stalled. True once.
    func reportStall(now: NIODeadline, silence: TimeAmount, lastAnswer: NIODeadline?) -> Bool {
        self.state.withLock { state in
            guard !state.isClosed, !state.stallReported, let progress = state.lastWriteProgress,
                now - max(progress, lastAnswer ?? progress) >= silence,
                !state.pending.isEmpty || state.lastRequestAsked.map({ $0 >= progress }) == true
            else { return false }
            state.stallReported = true
            return true
        }
    }

    /// Stops accepting lines; the writer drains what is pending, then gets `nil`.
    func close() {
        let writer = self.state.withLock { state -> Writer? in
            state.isClosed = true
            state.queueMissedNotices(ignoringLimit: true)  // the last lines it will be sent
            return state.wakeWriter(now: .now())
        }
        writer?.resume(returning: .lookAgain)
    }

    /// How many requests the window lets the plugin owe now (for tests).
    var windowSize: Double { self.state.withLock { $0.window.size } }

    /// How many answers the pace remembers (for tests).
    var answersTimed: Int { self.state.withLock { $0.pace.count } }

    /// Whether the writer waits for lines (for tests).
    var writerWaits: Bool { self.state.withLock { $0.waiter != nil } }

    /// How many requests written are still unanswered (for tests).
    var unansweredCount: Int { self.state.withLock { $0.unanswered.count } }

    /// How many requests were queued to be written, since the start (for tests).
    var requestsQueued: Int { self.state.withLock { $0.requestsQueued } }

    /// How many requests the writer has taken to write, since the start (for tests).
    var requestsTaken: Int { self.state.withLock { Int($0.written) } }

    /// How many requests wait for the writer to take them (for tests).
    var requestsWaiting: Int { self.state.withLock { $0.pending.count } }

    /// Whether lines wait to be written: the stall check (``reportStall(now:silence:lastAnswer:)``)
    /// has something to watch.
    var hasLinesWaiting: Bool { self.state.withLock { !$0.isClosed && !$0.pending.isEmpty } }
}

public import Logging
public import NIOCore
import Relay
import Subprocess
import Synchronization
import SystemPackage

/// One plugin program, kept running: started, handshaken, restarted with backoff when it
/// stops or hangs, and asked by many connections at once, each request with its own id.
///
/// Everything about the running process is in `state` behind one lock; the process's
/// pipes are served by the tasks of ``supervise()``.
public final class PluginProcess: Sendable {
    public let executable: PluginExecutable
    let settings: PluginSettings
    let logger: Logger
    let eventLoop: any EventLoop
    private let state = Mutex(State())
    private let startGroup: PluginStartGroup
    private let readiness: PluginReadiness
    /// The stderr lines logged, over every process started (PLUGINS.md §5): a bucket of each
    /// process's own gave a crash loop a fresh burst at each restart, ~1,000 lines in 1.6 s.
    let standardErrorLog = Mutex(StandardErrorBudget())

    private struct Pending {
        let slot: PluginAnswerSlot
        let deadline: NIODeadline
        /// What was asked, so that an answer of the wrong kind is refused where lines are read.
        let kind: PluginRequest.Kind
        let messageType: String
        /// Once the sender's connection has closed: when the wait ends anyway (`abandoned`).
        var abandonAt: NIODeadline?
        /// Its line was dropped unwritten (``PluginInput``): the plugin will never answer it.
        var neverWritten = false
    }

    private struct State {
        /// The running incarnation's stdin, once it said hello; `nil` while down.
        var input: PluginInput?
        /// Its stdin once the shutdown has closed it, until it has gone: still swept, so that what
        /// it drops as late is not taken as owed, nor an abandoned request's line written.
        var closingInput: PluginInput?
        /// The running incarnation's stdin from its start until its hello is taken (or it ends): a
        /// shutdown closes it too, so that a plugin still starting reads end-of-file.
        var startingInput: PluginInput?
        /// The stdin whose lines the sweep looks after.
        var sweptInput: PluginInput? { self.input ?? self.closingInput }
        /// Stops the running incarnation.
        var kill: AsyncStream<Void>.Continuation?
        var nextID: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        /// Requests that timed out unanswered: a late answer to one still shows the plugin working.
        var overdue = OverdueRequestIDs(capacity: PluginProcess.overdueIDsRemembered)
        /// When the oldest request it owes an answer was queued for it, if it has answered nothing since.
        var silentSince: NIODeadline?
        /// When the last answer to a request it was sent came, late or not.
        var lastAnswer: NIODeadline?
        /// The first hello; every restart must announce the same.
        var hello: PluginHello?
        var isShuttingDown = false
        /// A sweep (``expireOverdue()``) is scheduled: while there is something for it to look
        /// after, and only then (``armSweep()``).
        var sweepScheduled = false
        /// Supervision has ended: no sweep is scheduled after it.
        var sweepsEnded = false
        /// Between spawning a process and seeing it gone.
        var isRunning = false
        /// Events not written since the last warning of them.
        var eventsMissed = 0
        var missedEventsLog = TokenBucket(rate: 1, burst: 1)

        /// The events missed since the last warning of them, if there are some and a warning may
        /// go now (at most one a second).
        mutating func missedEventsToLog() -> Int? {
            guard self.eventsMissed > 0, self.missedEventsLog.take() else { return nil }
            defer { self.eventsMissed = 0 }
            return self.eventsMissed
        }
    }

    /// How often overdue requests are looked for, while some wait: a request times out between
    /// `requestTimeout` and `requestTimeout` + this. Swept all the time, a plugin woke its loop 200
    /// times a second with nothing to do: 2.4 % of a core for the three example plugins, idle.
    static let sweepInterval = TimeAmount.milliseconds(5)

    public convenience init(
        executable: PluginExecutable, settings: PluginSettings, eventLoop: any EventLoop, logger: Logger
    ) {
        self.init(
            executable: executable, settings: settings, eventLoop: eventLoop, logger: logger,
            startGroup: PluginStartGroup())
    }

    /// A plugin started with others: one of them failing its first start fails this one's.
    init(
        executable: PluginExecutable, settings: PluginSettings, eventLoop: any EventLoop, logger: Logger,
        startGroup: PluginStartGroup
    ) {
        self.startGroup = startGroup
        self.readiness = PluginReadiness(startGroup: startGroup)
        self.executable = executable
        self.settings = settings
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "plugin"] = "\(executable)"
        self.logger = logger
    }

    /// The plugin's first hello, or why it could not start.
    public func waitUntilReady() async throws(PluginStartupError) -> PluginHello {
        try await self.readiness.wait()
    }

    /// Whether the server is stopping this plugin for good.
    var isShuttingDown: Bool { self.state.withLock { $0.isShuttingDown } }

    /// Whether a process of this plugin is alive (said hello or not).
    var isRunning: Bool { self.state.withLock { $0.isRunning } }

    // MARK: Requests

    /// Sends `request` and waits for its answer, at most the request timeout, and at most
    /// ``PluginSettings/closedConnectionGrace`` after the sender's connection closes (`abandoned`:
    /// a request sent once that has passed is not even written). Queued where it is called: a
    /// request of a room member sent from outside the room may come before or after an event of
    /// the room that happened meanwhile (the server's own handlers queue inside the room).
    public func send(_ request: PluginRequest, from connection: ConnectionClosing? = nil) async -> PluginOutcome {
        await self.outcome(of: self.enqueue(request, from: connection))
    }

    /// Queues `request` at once, for ``outcome(of:)``. A room member's request is queued inside
    /// the room, so that the plugin hears it in its place among the room's events.
    func enqueue(_ request: PluginRequest, from connection: ConnectionClosing? = nil) -> PluginTicket {
        let ticket = PluginTicket(slot: PluginAnswerSlot(), connection: connection)
        let grace = TimeAmount(self.settings.closedConnectionGrace)
        if let closedAt = connection?.closedAt, NIODeadline.now() >= closedAt + grace {
            ticket.slot.fill(.abandoned)
            return ticket
        }
        let admitted = self.state.withLock { state -> (UInt64, PluginInput, NIODeadline)? in
            guard let input = state.input, state.pending.count < self.settings.maxInFlight else { return nil }
            let id = state.nextID
            state.nextID += 1
            let deadline = NIODeadline.now() + TimeAmount(self.settings.requestTimeout)
            state.pending[id] = Pending(
                slot: ticket.slot, deadline: deadline, kind: request.kind, messageType: request.message.type)
            return (id, input, deadline)
        }
        guard let (id, input, deadline) = admitted else {
            ticket.slot.fill(.unavailable)
            return ticket
        }
        self.armSweep()
        connection?.onClose { [self] closedAt in self.abandon(id, at: closedAt + grace) }
        if !input.append(request.line(id: id), id: id, until: deadline, room: request.roomID) {
            self.complete(id, with: .unavailable)
        }
        return ticket
    }

    /// Waits for the outcome of a request ``enqueue(_:from:)`` queued.
    func outcome(of ticket: PluginTicket) async -> PluginOutcome {
        defer { ticket.connection?.stopWaiting() }
        return await ticket.slot.outcome()
    }

    /// Writes event `line` of `room` to the running plugin, after the room's requests queued before
    /// it. A plugin not running hears nothing (a restarted one starts afresh); one that has left its
    /// input full misses the event, logged at most once a second with how many it missed, and told
    /// in an `events_missed` notice once it reads again, if it asked for those.
    func tell(event line: [UInt8], room: String) {
        let running = self.state.withLock { state in
            state.input.map { ($0, state.hello?.events.contains(.eventsMissed) ?? false) }
        }
        guard let (input, noteIfMissed) = running else { return }
        // Swept while its line waits: a plugin that stops reading is found stalled by the sweep.
        defer { self.armSweep() }
        guard !input.appendEvent(line, room: room, noteIfMissed: noteIfMissed) else { return }
        let missed = self.state.withLock { state -> Int? in
            state.eventsMissed += 1
            return state.missedEventsToLog()
        }
        self.logMissedEvents(missed)
    }

    /// Warns of `count` events missed, if any: at most once a second, when one is missed or by the
    /// sweep (``expireOverdue()``), so that the last of a burst are logged too.
    private func logMissedEvents(_ count: Int?) {
        guard let count else { return }
        self.logger.warning(
            "plugin.events.missed",
            metadata: ["count": "\(count)", "reason": "its input is full (it has stopped reading)"])
    }

    /// Ends request `id` with the plugin's `answer`, unless it does not fit the request: a verdict
    /// to a message request, actions to a filter request, a rewrite that changes the type. Then
    /// the request ends with `invalidAnswer`, and the reason is returned for the reader's
    /// rate-limited log (one warning per answer was thousands a second from one chatting client).
    func complete(_ id: UInt64, answer: PluginAnswer) -> String? {
        let misfit = self.state.withLock { state in state.pending[id].flatMap { Self.misfit(of: answer, for: $0) } }
        self.complete(id, with: misfit.map { .invalidAnswer($0) } ?? .answered(answer))
        return misfit
    }

    private static func misfit(of answer: PluginAnswer, for request: Pending) -> String? {
        switch (request.kind, answer) {
        case (.message, .actions), (.filter, .verdict(.pass)), (.filter, .verdict(.drop)),
            (.filter, .verdict(.reject)):
            return nil
        case (.message, .verdict): return "a verdict answers a message request"
        case (.filter, .actions): return "actions answer a filter request"
        case (.filter, .verdict(.rewrite(let fields))):
            return fields["type"]?.stringValue?.isSpelled(as: request.messageType) == true
                ? nil : "a rewrite changed the type"
        }
    }

    /// Ends request `id` with `outcome`: the plugin's answer (valid or not), or `unavailable`.
    func complete(_ id: UInt64, with outcome: PluginOutcome) {
        let pending = self.state.withLock { state in
            let pending = state.pending.removeValue(forKey: id)
            // Any answer to a request it was asked, late or not, shows the plugin working: one
            // that is behind catches up once it is spared the requests that expired unsent. Answers
            // to ids nobody asked, or repeated, show nothing.
            if outcome != .unavailable, pending != nil || state.overdue.remove(id) {
                state.silentSince = nil
                state.lastAnswer = .now()
            }
            return pending
        }
        guard let pending else {
            self.logger.debug("plugin.answer.late", metadata: ["request.id": "\(id)"])
            return
        }
        pending.slot.fill(outcome)
    }

    /// Ends the wait for request `id` at `time`, if it is still waiting then (the sweep ends it).
    private func abandon(_ id: UInt64, at time: NIODeadline) {
        self.state.withLock { state in state.pending[id]?.abandonAt = time }
    }

    /// Whether request `id` still waits for its answer, though the writer has not taken its line
    /// yet: an answer to it was not worked out from it. (One taken but still in a full pipe is
    /// owed already: its answer is taken.)
    func waitsUnwritten(_ id: UInt64, owedByInput: Bool) -> Bool {
        !owedByInput && self.state.withLock { $0.pending[id] != nil }
    }

    /// Answers every overdue request with `timedOut` (`abandoned` once its sender has gone and
    /// the grace has passed); kills a plugin that has owed answers without giving any for
    /// ``PluginSettings/silenceBeforeRestart``.
    ///
    /// Silence, not a count of timeouts: a burst of requests to a plugin that answers each in
    /// turn times out many at once, and killing it would only lose its work and its state. And
    /// only requests the plugin was sent: those that time out before their line is written (a
    /// plugin behind, its stdin pipe full) say nothing of it, and, remembered as owed, thousands a
    /// second of them would push out the ids it is answering (``OverdueRequestIDs`` is bounded).
    private func expireOverdue() {
        defer { self.sweepAgainIfNeeded() }
        let now = NIODeadline.now()
        let timeout = TimeAmount(self.settings.requestTimeout)
        typealias Sweep = (
            overdue: [(Pending, PluginOutcome)], hung: (AsyncStream<Void>.Continuation?, reason: String)?,
            missedEvents: Int?
        )
        let (overdue, hung, missedEvents) = self.state.withLock { state -> Sweep in
            let missedEvents = state.missedEventsToLog()
            var overdue: [(Pending, PluginOutcome)] = []
            // Every request dropped unwritten so far (by the writer too), and the lines of those
            // abandoned now, not to be acted on if the plugin has not read them yet: all in one turn
            // of the input, so that none of them is taken as owed below.
            let abandoned = state.pending.compactMap { id, pending in
                pending.deadline > now && pending.abandonAt.map { $0 <= now } == true ? id : nil
            }
            for id in state.sweptInput?.sweep(now: now, forgetting: abandoned) ?? [] {
                state.pending[id]?.neverWritten = true
            }
            for (id, pending) in state.pending {
                if pending.deadline <= now {
                    overdue.append((pending, .timedOut))
                } else if let abandonAt = pending.abandonAt, abandonAt <= now {
                    overdue.append((pending, .abandoned))
                } else {
                    continue
                }
                state.pending[id] = nil
                guard !pending.neverWritten else { continue }
                state.overdue.insert(id)
                let queued = pending.deadline - timeout
                if state.silentSince.map({ queued < $0 }) ?? true { state.silentSince = queued }
            }
            let silence = TimeAmount(self.settings.silenceBeforeRestart)
            if state.input?.reportStall(now: now, silence: silence, lastAnswer: state.lastAnswer) == true {
                state.silentSince = nil
                return (overdue, (state.kill, "stdin_stalled"), missedEvents)
            }
            guard let silentSince = state.silentSince, now - silentSince >= silence
            else { return (overdue, nil, missedEvents) }
            state.silentSince = nil
            return (overdue, (state.kill, "answers_owed"), missedEvents)
        }
        self.logMissedEvents(missedEvents)
        for (pending, outcome) in overdue { pending.slot.fill(outcome) }
        if let (kill, reason) = hung, let kill {
            self.logger.error(
                "plugin.hung", metadata: ["silent_for": "\(self.settings.silenceBeforeRestart)", "reason": "\(reason)"])
            kill.yield()
        }
    }

    /// Schedules a sweep unless one is: called as a request or an event line is queued.
    private func armSweep() {
        let arm = self.state.withLock { state -> Bool in
            guard !state.sweepScheduled, !state.sweepsEnded else { return false }
            state.sweepScheduled = true
            return true
        }
        if arm { self.scheduleSweep() }
    }

    /// After a sweep: the next, if there is still something to look after (requests waiting,
    /// lines waiting to be written, events missed and not yet logged, answers owed); else none,
    /// until ``armSweep()``.
    private func sweepAgainIfNeeded() {
        let again = self.state.withLock { state -> Bool in
            let busy =
                !state.pending.isEmpty || state.eventsMissed > 0 || state.silentSince != nil
                || state.sweptInput?.hasLinesWaiting == true
            state.sweepScheduled = busy && !state.sweepsEnded
            return state.sweepScheduled
        }
        if again { self.scheduleSweep() }
    }

    private func scheduleSweep() {
        self.eventLoop.scheduleTask(in: Self.sweepInterval) { [self] in self.expireOverdue() }
    }

    /// Whether a sweep is scheduled (for tests).
    var sweepIsScheduled: Bool { self.state.withLock { $0.sweepScheduled } }

    /// Ids of timed-out requests kept for their late answers (``OverdueRequestIDs``).
    static let overdueIDsRemembered = 4096

    /// How many requests the plugin is taken to owe answers to, late (for tests).
    var overdueCount: Int { self.state.withLock { $0.overdue.count } }

    /// How many requests wait for their answers, against ``PluginSettings/maxInFlight`` (for tests).
    var requestsPending: Int { self.state.withLock { $0.pending.count } }

    /// How many requests the running incarnation was given to write, how many of those its writer
    /// has yet to take, and how many it took, if one runs (for tests).
    var requestsQueued: (given: Int, waiting: Int, taken: Int)? {
        self.state.withLock { $0.input }.map { ($0.requestsQueued, $0.requestsWaiting, $0.requestsTaken) }
    }

    // MARK: Life cycle

    /// Runs the plugin until ``beginShutdown()``, restarting it with backoff when it stops.
    func supervise() async {
        defer { self.state.withLock { $0.sweepsEnded = true } }
        var backoff = RestartBackoff(self.settings)
        while true {
            let started = ContinuousClock.now
            await self.runOnce()
            guard !self.isShuttingDown, !Task.isCancelled, !self.readiness.hasFailed else { return }
            let delay = backoff.delay(afterRunningFor: ContinuousClock.now - started)
            self.logger.warning("plugin.restarting", metadata: ["delay": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    /// Closes the plugin's stdin, asking it to exit; new requests answer `unavailable`.
    func beginShutdown() {
        let (input, starting) = self.state.withLock { state in
            state.isShuttingDown = true
            state.closingInput = state.input ?? state.closingInput
            defer { (state.input, state.startingInput) = (nil, nil) }
            return (state.input, state.startingInput)
        }
        input?.close()
        starting?.close()
    }

    /// Kills the running incarnation, if any (after the grace period of a shutdown).
    func kill() {
        self.state.withLock { $0.kill }?.yield()
    }

    /// One incarnation: start, hello, answers, until the process is gone.
    private func runOnce() async {
        let input = PluginInput(settings: self.settings)
        let (killRequests, kill) = AsyncStream.makeStream(of: Void.self)
        // Not once the shutdown has begun: it waits only for an incarnation that was running when
        // it looked, so a restart resumed after that (a busy machine) would run unwatched.
        let starts = self.state.withLock { state in
            guard !state.isShuttingDown else { return false }
            state.kill = kill
            state.isRunning = true
            state.startingInput = input
            return true
        }
        guard starts else { return }
        defer { self.state.withLock { $0.isRunning = false } }
        let helloDeadline = self.eventLoop.scheduleTask(in: TimeAmount(self.settings.startupTimeout)) { [self] in
            // Not once it said hello, though its output may have ended since; nor once the
            // shutdown has begun (``beginShutdown()`` clears `startingInput`; the plugin may be
            // saving its state): the shutdown's grace period, then its kill, bound it.
            guard self.state.withLock({ $0.startingInput === input }) else { return }
            self.readiness.fail(
                PluginStartupError(
                    plugin: self.executable,
                    // The commonest cause: a hello printed but not flushed (a pipe is block-buffered).
                    reason: "no hello within \(self.settings.startupTimeout) (is each line flushed? PLUGINS.md §1)"))
            self.logger.error("plugin.hello.timeout")
            kill.yield()
        }
        defer { helloDeadline.cancel() }

        await self.spawnUntilExit(input: input, killRequests: killRequests, kill: kill)
        self.endIncarnation(input)
        self.failStartIfNoHello()
    }

    /// Fails the first start, if it has not succeeded: the plugin is gone without a hello.
    private func failStartIfNoHello() {
        self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "exited before its hello"))
    }

    /// Runs the executable and serves it until it exits. A file still open for writing is tried
    /// again within the start-up timeout; any other failure to start fails the start.
    private func spawnUntilExit(
        input: PluginInput, killRequests: AsyncStream<Void>, kill: AsyncStream<Void>.Continuation
    ) async {
        var options = PlatformOptions()
        // Its own session: a Ctrl-C at the server's terminal reaches the server, which then
        // stops its plugins in order, instead of killing them all at once.
        options.createSession = true
        // Cancelled only once the plugin was told to stop by the end of its input, and given its
        // grace period: no SIGTERM then (PLUGINS.md promises none), the group is killed.
        options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .zero)]
        let firstTry = ContinuousClock.now
        var isBusyLogged = false
        while true {
            if let shortage = FreeDescriptors.shortageForAPluginStart(free: self.settings.freeDescriptors()) {
                // Failed as any start that cannot begin: restarted after its back-off.
                self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "cannot start: \(shortage)"))
                self.logger.error("plugin.start.failed", metadata: ["error": "\(shortage)"])
                break
            }
            do {
                let result = try await Subprocess.run(
                    .path(FilePath(self.executable.path)),
                    arguments: Arguments(self.executable.arguments),
                    // Not the server's API key: a plugin has no use for it, and one that logs its
                    // environment, or is compromised, would hand out the key to every score.
                    environment: .inherit.updating([
                        "RELAY_PLUGIN_PROTOCOL": "\(PluginLine.protocolVersion)", "API_KEY": nil,
                    ]),
                    platformOptions: options,
                    input: .inputWriter, output: .sequence, error: .sequence
                ) { execution in
                    // Its own session, so the group of its pid: killed too by a forced exit.
                    let group = execution.processIdentifier.value
                    LivePluginGroups.add(group)
                    defer { LivePluginGroups.remove(group) }
                    await self.serve(execution, input: input, killRequests: killRequests, kill: kill)
                    // Whatever the plugin started goes with it (its own session, so its own group):
                    // a shell wrapper's child or a background worker would otherwise outlive every restart.
                    try? execution.send(signal: .kill, toProcessGroup: true)
                }
                // Before its line: a hello of another plugin read after it must find the start failed.
                self.failStartIfNoHello()
                self.logger.log(
                    level: self.isShuttingDown ? .info : .error,
                    "plugin.exited", metadata: ["status": "\(result.terminationStatus)"])
            } catch let error as SubprocessError
                where error.underlyingError == .textFileBusy
                && ContinuousClock.now - firstTry < self.settings.startupTimeout
            {
                // The file is still open for writing: being installed, or a descriptor that a
                // process forked meanwhile inherited. `exec` works once it is closed. Said once
                // at info: the tries come every 50 ms.
                self.logger.log(level: isBusyLogged ? .debug : .info, "plugin.start.busy")
                isBusyLogged = true
                do { try await Task.sleep(for: .milliseconds(50)) } catch { break }
                continue
            } catch {
                var why = "\(error)"
                if let problem = self.executable.interpreterProblem() {
                    why = "\(why.hasSuffix(".") ? String(why.dropLast()) : why): \(problem)"
                }
                self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "cannot start: \(why)"))
                self.logger.error("plugin.start.failed", metadata: ["error": "\(why)"])
            }
            break
        }
    }

    /// Takes a hello: the first one fixes the plugin's types, a restart must repeat them.
    /// Returns why it is refused, if it is.
    func accept(_ hello: PluginHello, input: PluginInput) -> String? {
        var lateForShutdown = false
        let refusal = self.state.withLock { state -> String? in
            if let first = state.hello, !first.announcesTheSame(as: hello) {
                let fields = first.fieldsDiffering(from: hello).joined(separator: ", ")
                return "its hello after a restart differs from its first one in \(fields)"
            }
            guard !state.isShuttingDown else {
                lateForShutdown = true
                return nil
            }
            state.hello = hello
            state.input = input
            state.startingInput = nil
            state.overdue.removeAll()
            state.silentSince = nil
            return nil
        }
        // A hello after the shutdown began: the shutdown closed this stdin as a starting one's
        // (``State/startingInput``); closed again here, as it is not to be served.
        if lateForShutdown { input.close() }
        // Not "ready" once the start has failed (this plugin's, or another's of its group) or the
        // shutdown has begun: it would be logged among the lines of a server that stops.
        if refusal == nil, !lateForShutdown, !self.startGroup.hasFailed {
            // Logged first: the start waits for every plugin's readiness, then logs `relay.starting`.
            self.logger.info(
                "plugin.ready",
                metadata: [
                    "name": "\(hello.name)", "handles": "\(hello.handles)", "filters": "\(hello.filters)",
                    "events": "\(hello.events.map(\.rawValue).sorted())",
                    "max_message_bytes": "\(hello.maxMessageBytes.map(String.init) ?? "none")",
                ])
        }
        if refusal == nil { self.readiness.succeed(hello) }
        return refusal
    }

    /// Fails the first start with `reason`, if it has not succeeded yet: the plugin broke the
    /// protocol before its hello (rather than fail later, with a timeout or an exit that hides
    /// why), or a stop signal came during start-up.
    func refuseStart(because reason: String) {
        self.readiness.fail(PluginStartupError(plugin: self.executable, reason: reason))
    }

    /// The incarnation is over: its requests answer `unavailable`, its stdin closes (unless not
    /// `closingInput`: the caller closes it), and its silence is forgotten (the next incarnation
    /// is not killed for it before its hello).
    func endIncarnation(_ input: PluginInput, closingInput: Bool = true) {
        let orphans = self.state.withLock { state -> [Pending] in
            if state.startingInput === input { state.startingInput = nil }
            guard state.input === input || state.input == nil else { return [] }
            state.input = nil
            state.closingInput = nil
            state.silentSince = nil
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        if closingInput { input.close() }
        for pending in orphans { pending.slot.fill(.unavailable) }
    }
}

/// A request queued to a plugin, whose outcome its sender waits for.
struct PluginTicket: Sendable {
    let slot: PluginAnswerSlot
    /// The sender's connection, whose close ends the wait early.
    let connection: ConnectionClosing?
}

/// The stderr lines a plugin may have logged (50 a second, in bursts of 200), and those it
/// could not since the last one logged, whichever of its processes wrote them.
struct StandardErrorBudget {
    private var bucket = TokenBucket(rate: 50, burst: 200)
    /// Lines not logged (over the budget, or over 4 KiB) since the last one logged.
    var dropped = 0

    /// The lines dropped before this one, which may be logged (the count starts again); nil if
    /// it may not, and is counted as dropped.
    mutating func take() -> Int? {
        guard self.bucket.take() else {
            self.dropped += 1
            return nil
        }
        defer { self.dropped = 0 }
        return self.dropped
    }
}

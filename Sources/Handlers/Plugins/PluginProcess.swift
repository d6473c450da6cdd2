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
    private let eventLoop: any EventLoop
    private let state = Mutex(State())
    private let readiness = Readiness()

    private struct Pending {
        let continuation: CheckedContinuation<PluginOutcome, Never>
        let deadline: NIODeadline
    }

    private struct State {
        /// The running incarnation's stdin, once it said hello; `nil` while down.
        var input: PluginInput?
        /// Stops the running incarnation.
        var kill: AsyncStream<Void>.Continuation?
        var nextID: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        var consecutiveTimeouts = 0
        /// The first hello; every restart must announce the same.
        var hello: PluginHello?
        var isShuttingDown = false
        /// Between spawning a process and seeing it gone.
        var isRunning = false
    }

    /// How often overdue requests are looked for: a request times out between
    /// `requestTimeout` and `requestTimeout` + this.
    static let sweepInterval = TimeAmount.milliseconds(5)

    public init(executable: PluginExecutable, settings: PluginSettings, eventLoop: any EventLoop, logger: Logger) {
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

    /// Whether an incarnation is running and has said hello.
    public var isAvailable: Bool { self.state.withLock { $0.input != nil } }

    /// Whether a process of this plugin is alive (said hello or not).
    var isRunning: Bool { self.state.withLock { $0.isRunning } }

    // MARK: Requests

    /// Sends `request` and waits for its answer, at most the request timeout.
    public func send(_ request: PluginRequest) async -> PluginOutcome {
        await withCheckedContinuation { continuation in
            let admitted = self.state.withLock { state -> (UInt64, PluginInput)? in
                guard let input = state.input, state.pending.count < self.settings.maxInFlight else { return nil }
                let id = state.nextID
                state.nextID += 1
                let deadline = NIODeadline.now() + .nanoseconds(Int64(self.settings.requestTimeout.nanoseconds))
                state.pending[id] = Pending(continuation: continuation, deadline: deadline)
                return (id, input)
            }
            guard let (id, input) = admitted else {
                continuation.resume(returning: .unavailable)
                return
            }
            if !input.append(request.line(id: id)) {
                self.complete(id, with: .unavailable)
            }
        }
    }

    private func complete(_ id: UInt64, with outcome: PluginOutcome) {
        let pending = self.state.withLock { state in
            if case .answered = outcome { state.consecutiveTimeouts = 0 }
            return state.pending.removeValue(forKey: id)
        }
        guard let pending else {
            self.logger.debug("plugin.answer.late", metadata: ["request.id": "\(id)"])
            return
        }
        pending.continuation.resume(returning: outcome)
    }

    /// Answers every overdue request with `timedOut`; kills a plugin that keeps timing out.
    private func expireOverdue() {
        let now = NIODeadline.now()
        let (overdue, hung) = self.state.withLock { state -> ([Pending], AsyncStream<Void>.Continuation?) in
            guard !state.pending.isEmpty else { return ([], nil) }
            var overdue: [Pending] = []
            for (id, pending) in state.pending where pending.deadline <= now {
                overdue.append(pending)
                state.pending[id] = nil
            }
            state.consecutiveTimeouts += overdue.count
            let isHung = !overdue.isEmpty && state.consecutiveTimeouts >= self.settings.timeoutsBeforeRestart
            if isHung { state.consecutiveTimeouts = 0 }
            return (overdue, isHung ? state.kill : nil)
        }
        for pending in overdue { pending.continuation.resume(returning: .timedOut) }
        if let hung {
            self.logger.error("plugin.hung", metadata: ["timeouts": "\(self.settings.timeoutsBeforeRestart)"])
            hung.yield()
        }
    }

    // MARK: Life cycle

    /// Runs the plugin until ``beginShutdown()``, restarting it with backoff when it stops.
    func supervise() async {
        let sweeper = self.eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) {
            [self] _ in self.expireOverdue()
        }
        defer { sweeper.cancel() }
        var delay = self.settings.minRestartDelay
        while true {
            let started = ContinuousClock.now
            await self.runOnce()
            guard !self.state.withLock({ $0.isShuttingDown }), !Task.isCancelled else { return }
            if ContinuousClock.now - started >= self.settings.healthyRunTime { delay = self.settings.minRestartDelay }
            self.logger.warning("plugin.restarting", metadata: ["delay": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { return }
            delay = min(delay * 2, self.settings.maxRestartDelay)
        }
    }

    /// Closes the plugin's stdin, asking it to exit; new requests answer `unavailable`.
    func beginShutdown() {
        let input = self.state.withLock { state in
            state.isShuttingDown = true
            defer { state.input = nil }
            return state.input
        }
        input?.close()
    }

    /// Kills the running incarnation, if any (after the grace period of a shutdown).
    func kill() {
        self.state.withLock { $0.kill }?.yield()
    }

    /// One incarnation: start, hello, answers, until the process is gone.
    private func runOnce() async {
        let input = PluginInput()
        let (killRequests, kill) = AsyncStream.makeStream(of: Void.self)
        self.state.withLock { state in
            state.kill = kill
            state.isRunning = true
        }
        defer { self.state.withLock { $0.isRunning = false } }
        let helloDeadline = self.eventLoop.scheduleTask(in: .nanoseconds(Int64(self.settings.startupTimeout.nanoseconds))) {
            [self] in
            guard self.state.withLock({ $0.input !== input }) else { return }
            self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "no hello within \(self.settings.startupTimeout)"))
            self.logger.error("plugin.hello.timeout")
            kill.yield()
        }
        defer { helloDeadline.cancel() }

        var options = PlatformOptions()
        // Its own session: a Ctrl-C at the server's terminal reaches the server, which then
        // stops its plugins in order, instead of killing them all at once.
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))]
        do {
            let result = try await Subprocess.run(
                .path(FilePath(self.executable.path)),
                arguments: Arguments(self.executable.arguments),
                environment: .inherit.updating(["RELAY_PLUGIN_PROTOCOL": "\(PluginLine.protocolVersion)"]),
                platformOptions: options,
                input: .inputWriter, output: .sequence, error: .sequence
            ) { execution in
                await self.serve(execution, input: input, killRequests: killRequests, kill: kill)
            }
            self.logger.log(
                level: self.state.withLock { $0.isShuttingDown } ? .info : .error,
                "plugin.exited", metadata: ["status": "\(result.terminationStatus)"])
        } catch {
            self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "cannot start: \(error)"))
            self.logger.error("plugin.start.failed", metadata: ["error": "\(error)"])
        }
        self.endIncarnation(input)
        self.readiness.fail(PluginStartupError(plugin: self.executable, reason: "exited before its hello"))
    }

    private enum PipeTask { case stdin, stderr, killer, deadline }

    /// Serves the pipes of a running process until it has gone.
    private func serve(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>, input: PluginInput,
        killRequests: AsyncStream<Void>, kill: AsyncStream<Void>.Continuation
    ) async {
        await withTaskGroup(of: PipeTask.self) { group in
            group.addTask {
                let writer = execution.standardInputWriter
                while let bytes = await input.next() {
                    do { _ = try await writer.write(bytes) } catch { break }
                }
                try? await writer.finish()
                return .stdin
            }
            group.addTask {
                await self.logStandardError(execution.standardError)
                return .stderr
            }
            group.addTask {
                for await _ in killRequests {
                    try? execution.send(signal: .kill)
                    break
                }
                return .killer
            }
            await self.readAnswers(execution.standardOutput, input: input, kill: kill)
            // Stdout is closed: the plugin has exited, or is of no more use and is stopped.
            self.endIncarnation(input)
            if !self.state.withLock({ $0.isShuttingDown }) { kill.yield() }
            // Stderr ends when the process does; keep its last words (a traceback) if they come soon.
            group.addTask {
                try? await Task.sleep(for: .seconds(1))
                return .deadline
            }
            while let ended = await group.next(), ended != .stderr, ended != .deadline {}
            group.cancelAll()
        }
    }

    /// Reads stdout lines until it closes or the plugin breaks the protocol.
    private func readAnswers(_ output: SubprocessOutputSequence, input: PluginInput, kill: AsyncStream<Void>.Continuation) async {
        var splitter = LineSplitter(maxLineBytes: self.settings.maxLineBytes)
        var saidHello = false
        var violation: String?
        var garbageLines = 0
        do {
            for try await buffer in output {
                buffer.withUnsafeBytes { bytes in
                    splitter.feed(bytes) { line in
                        guard violation == nil else { return }
                        switch PluginLine.decode(line) {
                        case .hello(let hello):
                            violation = saidHello ? "a second hello" : self.accept(hello, input: input)
                            saidHello = true
                        case .answer(let id, let answer):
                            guard saidHello else { violation = "an answer before its hello"; return }
                            self.complete(id, with: .answered(answer))
                        case .invalidAnswer(let id, let reason):
                            self.logger.warning("plugin.answer.invalid", metadata: ["request.id": "\(id)", "reason": "\(reason)"])
                            self.complete(id, with: .invalidAnswer(reason))
                        case .garbage(let reason):
                            garbageLines += 1
                            self.logSometimes("plugin.line.garbage", count: garbageLines, reason: reason, line: line)
                        }
                    } onOversized: {
                        garbageLines += 1
                        self.logSometimes("plugin.line.too_long", count: garbageLines, reason: "over \(self.settings.maxLineBytes) bytes", line: nil)
                    }
                }
                if let violation {
                    self.logger.error("plugin.protocol.violation", metadata: ["reason": "\(violation)"])
                    kill.yield()
                    return
                }
            }
        } catch {
            self.logger.debug("plugin.stdout.ended", metadata: ["error": "\(error)"])
        }
    }

    /// Takes a hello: the first one fixes the plugin's types, a restart must repeat them.
    /// Returns why it is refused, if it is.
    private func accept(_ hello: PluginHello, input: PluginInput) -> String? {
        let refusal = self.state.withLock { state -> String? in
            if let first = state.hello, first != hello {
                return "its hello after a restart differs from its first one"
            }
            guard !state.isShuttingDown else { return nil }
            state.hello = hello
            state.input = input
            state.consecutiveTimeouts = 0
            return nil
        }
        if refusal == nil {
            self.readiness.succeed(hello)
            self.logger.info(
                "plugin.ready",
                metadata: ["name": "\(hello.name)", "handles": "\(hello.handles)", "filters": "\(hello.filters)"])
        }
        return refusal
    }

    /// The incarnation is over: its requests answer `unavailable`, its stdin closes.
    private func endIncarnation(_ input: PluginInput) {
        let orphans = self.state.withLock { state -> [Pending] in
            guard state.input === input || state.input == nil else { return [] }
            state.input = nil
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        input.close()
        for pending in orphans { pending.continuation.resume(returning: .unavailable) }
    }

    private func logStandardError(_ errors: SubprocessOutputSequence) async {
        var splitter = LineSplitter(maxLineBytes: 4096)
        var bucket = TokenBucket(rate: 50, burst: 200)
        var dropped = 0
        do {
            for try await buffer in errors {
                buffer.withUnsafeBytes { bytes in
                    splitter.feed(bytes) { line in
                        guard bucket.take() else {
                            dropped += 1
                            return
                        }
                        self.logger.info(
                            "plugin.stderr",
                            metadata: ["line": "\(String(decoding: line, as: UTF8.self))", "dropped": "\(dropped)"])
                    } onOversized: {
                        dropped += 1
                    }
                }
            }
        } catch {
            self.logger.debug("plugin.stderr.ended", metadata: ["error": "\(error)"])
        }
    }

    /// Logs the first few bad lines of an incarnation, then one in a thousand.
    private func logSometimes(_ event: Logger.Message, count: Int, reason: String, line: UnsafeRawBufferPointer?) {
        guard count <= 10 || count % 1000 == 0 else { return }
        let sample = line.map { String(decoding: $0.prefix(200), as: UTF8.self) } ?? ""
        self.logger.warning(event, metadata: ["reason": "\(reason)", "line": "\(sample)", "count": "\(count)"])
    }
}

/// Why a plugin did not come up at start-up.
public struct PluginStartupError: Error, CustomStringConvertible, Sendable {
    public let plugin: PluginExecutable
    public let reason: String
    public var description: String { "plugin \(self.plugin.path): \(self.reason)" }
}

/// The outcome of a plugin's first start, awaited by the host before the server opens.
private final class Readiness: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Result<PluginHello, PluginStartupError>, Never>])
        case done(Result<PluginHello, PluginStartupError>)
    }

    private let state = Mutex(State.waiting([]))

    func wait() async throws(PluginStartupError) -> PluginHello {
        let result = await withCheckedContinuation { continuation in
            let done = self.state.withLock { state -> Result<PluginHello, PluginStartupError>? in
                switch state {
                case .done(let result): return result
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                }
            }
            if let done { continuation.resume(returning: done) }
        }
        return try result.get()
    }

    func succeed(_ hello: PluginHello) { self.finish(.success(hello)) }
    func fail(_ error: PluginStartupError) { self.finish(.failure(error)) }

    /// The first outcome wins; later ones (restarts) change nothing.
    private func finish(_ result: Result<PluginHello, PluginStartupError>) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Result<PluginHello, PluginStartupError>, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

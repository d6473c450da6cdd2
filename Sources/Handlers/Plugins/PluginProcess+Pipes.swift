import Logging
import Relay
import Subprocess

/// The pipes of one running plugin process: requests out on stdin, answers in on stdout,
/// stderr into the log.
extension PluginProcess {
    enum PipeTask { case stdin, stdout, stderr, killer, deadline }

    /// Serves the pipes of a running process until it has gone.
    func serve(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>, input: PluginInput,
        killRequests: AsyncStream<Void>, kill: AsyncStream<Void>.Continuation
    ) async {
        await withTaskGroup(of: PipeTask.self) { group in
            // On the plugin's event loop, not the shared task pool: woken for lines, a writer that
            // waited there for a thread (a busy pool) would find requests the plugin could have
            // answered in time too late to write.
            group.addTask(executorPreference: EventLoopTaskExecutor(self.eventLoop)) {
                let writer = execution.standardInputWriter
                while let bytes = await input.next() {
                    do {
                        // In pieces, each noted: a plugin that reads at all is told from one stalled.
                        for start in stride(from: 0, to: bytes.count, by: PluginInput.writePieceBytes) {
                            let end = min(start + PluginInput.writePieceBytes, bytes.count)
                            _ = try await writer.write(end - start == bytes.count ? bytes : Array(bytes[start..<end]))
                            input.wrotePiece()
                        }
                    } catch {
                        // Its stdin is closed: it has exited, or closed it and runs on deaf. What it
                        // is sent would only time out, so it is stopped now, and restarted.
                        if !self.isShuttingDown {
                            await self.logIfRunning(execution.processIdentifier.value, event: "plugin.stdin.closed")
                            kill.yield()
                        }
                        break
                    }
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
                    try? execution.send(signal: .kill, toProcessGroup: true)
                    break
                }
                return .killer
            }
            group.addTask {
                await self.readAnswers(execution.standardOutput, input: input, kill: kill)
                return .stdout
            }
            var (stdoutEnded, stderrEnded) = (false, false)
            waiting: while let ended = await group.next() {
                switch ended {
                case .stdout:
                    stdoutEnded = true
                    // Stdout is closed: the plugin has exited, or is of no more use and is stopped.
                    // Its stdin closes only once the server has looked whether it runs on: a
                    // plugin that closed its stdout exits at the end of its input, as it should,
                    // and closed first, that exit looked like a crash, with no reason logged.
                    // Read once: a shutdown beginning between two reads would leave it open.
                    let shuttingDown = self.isShuttingDown
                    self.endIncarnation(input, closingInput: shuttingDown)
                    if !shuttingDown {
                        await self.logIfRunning(execution.processIdentifier.value, event: "plugin.stdout.closed")
                        input.close()
                        if !self.isShuttingDown { kill.yield() }  // else the shutdown's grace bounds it
                    }
                    // Killed, its stderr closed: no last words to wait for.
                    if stderrEnded, !self.isShuttingDown { break waiting }
                    // Stderr ends when the process does: its last words (a traceback) are kept if
                    // they come soon. Stderr closed before stdout says nothing of an exit, so a
                    // plugin stopping (saving its state) has the grace in full, unless it exits.
                    group.addTask {
                        await ProcessExit.wait(
                            for: execution.processIdentifier.value, atMost: self.settings.closedOutputGrace)
                        return .deadline
                    }
                case .stderr:
                    stderrEnded = true
                    // Its last words are in. But a plugin stopping may close both outputs and then save
                    // its state (PLUGINS.md §5): it keeps the grace (the deadline) unless it has exited.
                    if stdoutEnded, !self.isShuttingDown || ProcessExit.hasExited(execution.processIdentifier.value) {
                        break waiting
                    }
                case .deadline:
                    break waiting
                case .stdin, .killer:
                    continue
                }
            }
            group.cancelAll()
        }
    }

    /// Says why a plugin still running is killed once it closed its stdout or stdin (PLUGINS.md
    /// §5: as a crash); its exit line alone said `signaled(9)`. A process exiting closes its pipes
    /// a moment before it counts as exited, so that moment is waited out first: a crash is not
    /// logged so.
    private func logIfRunning(_ pid: pid_t, event: Logger.Message) async {
        await ProcessExit.wait(for: pid, atMost: .milliseconds(100))
        guard !ProcessExit.hasExited(pid) else { return }
        self.logger.warning(event, metadata: ["effect": "the plugin is killed and restarted, as after a crash"])
    }

    /// Reads stdout lines until it closes or the plugin breaks the protocol.
    private func readAnswers(
        _ output: SubprocessOutputSequence, input: PluginInput, kill: AsyncStream<Void>.Continuation
    ) async {
        var splitter = LineSplitter(maxLineBytes: self.settings.maxLineBytes)
        var saidHello = false
        var violation: String?
        var garbageLines = 0
        var invalidAnswers = 0
        var badLineLog = SometimesLog()
        var turn = PoolTurn()
        do {
            for try await buffer in output {
                turn.readReturned()
                buffer.withUnsafeBytes { bytes in
                    splitter.feed(bytes) { line in
                        guard violation == nil else { return }
                        switch PluginLine.decode(line) {
                        case .hello(let hello):
                            violation = saidHello ? "a second hello" : self.accept(hello, input: input)
                            saidHello = true
                        case .answer(let id, let answer):
                            guard saidHello else {
                                violation = "an answer before its hello"
                                return
                            }
                            guard !self.waitsUnwritten(id, owedByInput: input.answered(id)) else {
                                invalidAnswers += 1
                                badLineLog.log(
                                    "plugin.answer.invalid", to: self.logger, count: invalidAnswers,
                                    reason: "request \(id) was not sent to it yet", line: line)
                                return
                            }
                            if let reason = self.complete(id, answer: answer) {
                                invalidAnswers += 1
                                badLineLog.log(
                                    "plugin.answer.invalid", to: self.logger, count: invalidAnswers,
                                    reason: "\(reason) (request \(id))", line: line)
                            }
                        case .invalidAnswer(let id, let reason):
                            guard saidHello else {
                                violation = "an answer before its hello"
                                return
                            }
                            let unsent = self.waitsUnwritten(id, owedByInput: input.answered(id))
                            invalidAnswers += 1
                            badLineLog.log(
                                "plugin.answer.invalid", to: self.logger, count: invalidAnswers,
                                reason: "\(reason) (request \(id))", line: line)
                            if !unsent { self.complete(id, with: .invalidAnswer(reason)) }
                        case .badHello(let reason):
                            violation = "a bad hello: \(reason)"
                        case .garbage(let reason):
                            garbageLines += 1
                            badLineLog.log(
                                "plugin.line.garbage", to: self.logger, count: garbageLines, reason: reason, line: line)
                        }
                    } onOversized: {
                        garbageLines += 1
                        badLineLog.log(
                            "plugin.line.too_long", to: self.logger, count: garbageLines,
                            reason: "over \(self.settings.maxLineBytes) bytes", line: nil)
                    }
                }
                if let violation {
                    self.logger.error("plugin.protocol.violation", metadata: ["reason": "\(violation)"])
                    // Before any hello of the first incarnation, start-up fails with the reason
                    // (once a plugin has started, this changes nothing).
                    if !saidHello { self.refuseStart(because: violation) }
                    kill.yield()
                    return
                }
                if turn.handled() { await Task.yield() }
            }
        } catch {
            self.logger.debug("plugin.stdout.ended", metadata: ["error": "\(error)"])
        }
    }

    private func logStandardError(_ errors: SubprocessOutputSequence) async {
        var splitter = LineSplitter(maxLineBytes: 4096)
        var turn = PoolTurn()
        do {
            for try await buffer in errors {
                turn.readReturned()
                buffer.withUnsafeBytes { bytes in
                    splitter.feed(bytes) { line in
                        guard let dropped = self.standardErrorLog.withLock({ $0.take() }) else { return }
                        self.logger.info(
                            "plugin.stderr",
                            metadata: ["line": "\(String(loggable: line))", "dropped": "\(dropped)"])
                    } onOversized: {
                        self.standardErrorLog.withLock { $0.dropped += 1 }
                    }
                }
                if turn.handled() { await Task.yield() }
            }
        } catch {
            self.logger.debug("plugin.stderr.ended", metadata: ["error": "\(error)"])
        }
    }
}

/// The log of one incarnation's bad lines: the first ten, then one a second however fast the
/// plugin writes them (one in a thousand was ~3,000 lines a second for a plugin writing garbage
/// in a loop), each saying how many went unlogged before it.
private struct SometimesLog {
    private var bucket = TokenBucket(rate: 1, burst: 10)
    private var unlogged = 0

    mutating func log(
        _ event: Logger.Message, to logger: Logger, count: Int, reason: String, line: UnsafeRawBufferPointer?
    ) {
        guard self.bucket.take() else {
            self.unlogged += 1
            return
        }
        var metadata: Logger.Metadata = [
            "reason": "\(String(loggable: reason.utf8))", "count": "\(count)", "unlogged": "\(self.unlogged)",
        ]
        // Its first 200 bytes; none for a line too long to keep.
        if let line { metadata["line"] = "\(String(loggable: line.prefix(200)))" }
        logger.warning(event, metadata: metadata)
        self.unlogged = 0
    }
}

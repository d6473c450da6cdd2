import Logging
import Relay
import Subprocess

/// The pipes of one running plugin process: requests out on stdin, answers in on stdout,
/// stderr into the log.
extension PluginProcess {
    enum PipeTask { case stdin, stderr, killer, deadline }

    /// Serves the pipes of a running process until it has gone.
    func serve(
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
                    try? execution.send(signal: .kill, toProcessGroup: true)
                    break
                }
                return .killer
            }
            await self.readAnswers(execution.standardOutput, input: input, kill: kill)
            // Stdout is closed: the plugin has exited, or is of no more use and is stopped.
            self.endIncarnation(input)
            if !self.isShuttingDown { kill.yield() }
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
    private func readAnswers(
        _ output: SubprocessOutputSequence, input: PluginInput, kill: AsyncStream<Void>.Continuation
    ) async {
        var splitter = LineSplitter(maxLineBytes: self.settings.maxLineBytes)
        var saidHello = false
        var violation: String?
        var garbageLines = 0
        var invalidAnswers = 0
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
                            guard saidHello else {
                                violation = "an answer before its hello"
                                return
                            }
                            self.complete(id, with: .answered(answer))
                        case .invalidAnswer(let id, let reason):
                            invalidAnswers += 1
                            self.logSometimes("plugin.answer.invalid", count: invalidAnswers, reason: "\(reason) (request \(id))", line: nil)
                            self.complete(id, with: .invalidAnswer(reason))
                        case .badHello(let reason):
                            violation = "a bad hello: \(reason)"
                        case .garbage(let reason):
                            garbageLines += 1
                            self.logSometimes("plugin.line.garbage", count: garbageLines, reason: reason, line: line)
                        }
                    } onOversized: {
                        garbageLines += 1
                        self.logSometimes(
                            "plugin.line.too_long", count: garbageLines,
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
            }
        } catch {
            self.logger.debug("plugin.stdout.ended", metadata: ["error": "\(error)"])
        }
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

import Foundation
import Logging
import NIOCore
import Relay
import Testing

@testable import Handlers

/// A test plugin in Python whose behaviour each message picks with its `do` field (and
/// the whole process with its first argument), so the tests drive every path of the
/// plugin protocol through a real process.
/// Where ``ProbePlugin/path`` is written: a global, so that the `atexit` hook can name it.
private let probeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-probe-\(getpid())")
    .path

enum ProbePlugin {
    static let source = #"""
        import json, os, signal, sys, time

        started = time.time()
        mode = sys.argv[1] if len(sys.argv) > 1 else "normal"
        pid_file = sys.argv[2] if len(sys.argv) > 2 else None
        if pid_file:
            with open(pid_file, "a") as f:
                f.write(f"{os.getpid()}\n")

        def say(line):
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

        def wait_while_exists(path):  # until the test removes the file, or 120 s (a failed test's)
            asked = time.time()
            while os.path.exists(path) and time.time() - asked < 120:
                time.sleep(0.01)

        if mode == "exit_at_once":
            sys.exit(1)
        if mode == "notes_sigterm":  # a SIGTERM (the server sends none) makes the pid file plus ".term"
            signal.signal(signal.SIGTERM, lambda *_: open(pid_file + ".term", "w").close())
        if mode == "no_hello":
            time.sleep(60)
        if mode == "no_hello_saves_at_eof":  # loading, no hello yet: at end-of-file appends "saved", exits
            sys.stdin.read()
            with open(pid_file, "a") as f:
                f.write("saved\n")
            sys.exit(0)
        if mode == "slow_hello":
            time.sleep(1)
        if mode == "hello_when_told":  # once the test creates the file named as the pid file, plus ".go"
            told_by = time.time() + 120  # a bound on a hang, for a test that failed before telling it
            while not os.path.exists(pid_file + ".go") and time.time() < told_by:
                time.sleep(0.01)
        if mode == "hello_at_first_start" and len(open(pid_file).read().split()) > 1:
            told_by = time.time() + 120  # a restart says hello once the pid file plus ".go" exists
            while not os.path.exists(pid_file + ".go") and time.time() < told_by:
                time.sleep(0.01)
        if mode == "bad_protocol":
            say({"kind": "hello", "protocol": 99, "name": "probe", "handles": ["probe"]})
            time.sleep(60)
        if mode == "answers_before_hello":
            say({"kind": "answer", "id": 1, "actions": []})
        if mode == "invalid_answer_before_hello":
            say({"kind": "answer", "id": 1, "actions": "none"})
        hello = {"kind": "hello", "protocol": 1, "name": "probe", "handles": ["probe"]}
        if mode == "claims_chat":
            hello["handles"] = ["chat"]
        if mode == "filters_unknown":
            hello["filters"] = ["no_such_type"]
        if mode in ("filter", "filter_fail_open"):
            hello["filters"] = ["chat"]
        if mode == "filter_fail_open":
            hello["filter_failure"] = "pass"
        if mode == "filters_own_type":  # judges its own type before it answers it
            hello["filters"] = ["probe"]
        if mode == "filter_no_shouting":  # a filter alone, refusing chat in capitals
            hello["handles"] = []
            hello["filters"] = ["chat"]
        if mode in ("listens_noread", "reads_slowly", "answers_late_then_stops"):  # a type, and room events
            hello["events"] = ["member_joined"]
        if mode == "small_messages":  # reads 64 bytes of a message at most, and a failing filter would pass
            hello.update(filters=["chat"], filter_failure="pass", max_message_bytes=64)
        if mode == "second_probe":
            hello["handles"] = ["probe_two"]
        if mode == "changes_on_restart" and len(open(pid_file).read().split()) > 1:
            hello["handles"] = ["something_else"]
        if mode == "reorders_on_restart":  # as a Python set of types may list them, run to run
            hello["handles"] = ["probe", "probe_two"]
            hello["filters"] = ["chat", "emote"]
            if len(open(pid_file).read().split()) > 1:
                hello["handles"].reverse()
                hello["filters"].reverse()
        say(hello)
        if mode == "exits_after_hello":  # every incarnation, so that each restart is soon due again
            sys.exit(0)
        if mode in ("closes_stdout_then_saves", "closes_stderr"):  # the second exits at end-of-file
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        if mode in ("noread", "listens_noread"):
            time.sleep(60)
        if mode == "notes_sigterm":  # asleep on its main thread, where Python runs a signal's handler at once
            time.sleep(60)
        if mode == "reads_slowly":  # a line each ms (some 1 MB/s of 1 KB lines), answering requests
            for line in sys.stdin:
                time.sleep(0.001)
                request = json.loads(line)
                if request["kind"] == "message":
                    say({"kind": "answer", "id": request["id"], "actions": []})
            sys.exit(0)
        if mode == "answers_late_then_stops":  # reads to its first request, answers when told, reads no more
            for line in sys.stdin:
                request = json.loads(line)
                if request["kind"] == "message":
                    open(pid_file + ".read", "w").close()
                    told_by = time.time() + 120  # the test creates pid file + ".go"
                    while not os.path.exists(pid_file + ".go") and time.time() < told_by:
                        time.sleep(0.01)
                    say({"kind": "answer", "id": request["id"], "actions": []})
                    break
            time.sleep(60)
        if mode == "noread_chatter":
            while True:
                say({"kind": "answer", "id": 10 ** 12, "actions": []})
                time.sleep(0.01)
        if mode == "forks" and os.fork() == 0:
            with open(pid_file, "a") as f:
                f.write(f"{os.getpid()}\n")
            time.sleep(3600)
            os._exit(0)

        seen = 0
        for line in sys.stdin:
            seen += 1
            request = json.loads(line)
            message = request["message"]
            answer = {"kind": "answer", "id": request["id"]}
            if request["kind"] == "filter":
                text = message.get("message", "")
                if text == "slow":
                    time.sleep(1)
                if text == "crash":
                    os._exit(3)
                if message.get("hold"):  # a file: judged once the test removes it
                    wait_while_exists(message["hold"])
                if mode == "filter_no_shouting":  # refuses capitals, passes the rest as it is
                    if text.isupper():
                        answer.update(verdict="reject", error={"code": "no_shouting", "message": "Not in capitals"})
                    else:
                        answer.update(verdict="pass")
                elif text.startswith("rewrite"):
                    answer.update(verdict="rewrite", message=dict(message, message=text.upper()))
                elif text == "retype":
                    answer.update(verdict="rewrite", message=dict(message, type="emote"))
                elif text == "act":  # actions, where a verdict is due
                    answer.update(actions=[{"send": "sender", "message": {"type": "acted"}}])
                elif text == "drop":
                    answer.update(verdict="drop")
                elif text == "reject":
                    answer.update(verdict="reject", error={"code": "no_thanks", "message": "Rejected by the probe"})
                else:
                    answer.update(verdict="pass")
                say(answer)
                continue
            if message.get("hold"):  # a file: answered once the test removes it
                wait_while_exists(message["hold"])
            do = message.get("do", "")
            room = request["room"]
            context = {"type": "probe_reply", "player_id": request["player_id"], "seen": seen, "pid": os.getpid(),
                       "room_id": room["room_id"] if room else None,
                       "players": len(room["players"]) if room else 0, "echo": message.get("echo")}
            if do == "room":
                answer["actions"] = [{"send": "room", "message": context}]
            elif do == "others":
                answer["actions"] = [{"send": "others", "message": context}]
            elif do == "room_and_others":
                answer["actions"] = [{"send": "room", "message": context}, {"send": "others", "message": context}]
            elif do == "player":
                answer["actions"] = [{"send": "player", "player_id": message["to"], "message": context}]
            elif do == "error":
                answer["actions"] = [{"error": {"code": "probe_says_no", "message": "The probe refuses"}}]
            elif do == "several":
                answer["actions"] = [{"send": "sender", "message": dict(context, n=1)},
                                     {"error": {"code": "probe_says_no", "message": "The probe refuses"}},
                                     {"send": "sender", "message": dict(context, n=2)}]
            elif do == "drop":
                answer["actions"] = []
            elif do == "mixed_when_told":  # makes file `mark`, and answers once the test removes it
                open(message["mark"], "w").close()
                wait_while_exists(message["mark"])
                answer["actions"] = [{"send": "sender", "message": dict(context, n=1)},
                                     {"send": "room", "message": context},
                                     {"error": {"code": "probe_says_no", "message": "The probe refuses"}},
                                     {"send": "sender", "message": dict(context, n=2)}]
            elif do == "forges_when_told":  # once told, answers request id + `ahead` before it was sent
                open(message["mark"], "w").close()
                wait_while_exists(message["mark"])
                say({"kind": "answer", "id": request["id"] + message["ahead"],
                     "actions": [{"send": "sender", "message": {"type": "probe_forged"}}]})
                # Reading nothing until told again: the request it named stays unsent.
                wait_while_exists(message["resume"])
                answer["actions"] = [{"send": "sender", "message": context}]
            elif do == "slow":
                time.sleep(message.get("seconds", 1))
                answer["actions"] = [{"send": "sender", "message": context}]
            elif do == "crash":
                os._exit(3)
            elif do == "hello_again":  # which breaks the protocol: this request is never answered
                say(hello)
                continue
            elif do == "crash_after":
                time.sleep(message.get("seconds", 0.3))
                os._exit(3)
            elif do == "hang":
                time.sleep(3600)
            elif do == "close_stdout":
                os.close(1)
                time.sleep(3600)
            elif do == "close_stdout_then_exit_at_eof":  # as `exec >/dev/null` in a shell plugin
                os.close(1)
                sys.stdin.read()
                sys.exit(0)
            elif do == "close_stdin":
                os.close(0)
                time.sleep(3600)
            elif do == "garbage":
                sys.stdout.write("this is not json\n[1,2,3]\n{\"kind\":\"weird\"}\n")
                sys.stdout.write("x" * (2 * 1024 * 1024) + "\n")
                answer["actions"] = [{"send": "sender", "message": context}]
            elif do == "unknown_action":
                answer["actions"] = [{"send": "the_moon", "message": context}]
            elif do == "bad_error_code":
                answer["actions"] = [{"error": {"code": "has spaces", "message": "x"}}]
            elif do == "message_without_type":
                answer["actions"] = [{"send": "sender", "message": {"no": "type"}}]
            elif do == "verdict":
                answer["verdict"] = "pass"
            elif do == "nan":  # json.dumps writes NaN, which JSON does not have
                answer["actions"] = [{"send": "sender", "message": dict(context, value=float("nan"))}]
            elif do == "huge_number":
                answer["actions"] = [{"send": "sender", "message": dict(context, value=10 ** 400)}]
            elif do == "lone_surrogate":
                answer["actions"] = [{"send": "sender", "message": dict(context, text="\ud800")}]
            elif do == "invalid_utf8":
                sys.stdout.buffer.write(json.dumps(answer).encode()[:-1]
                                        + b',"actions":[{"send":"sender","message":{"type":"x","text":"\xff"}}]}\n')
                sys.stdout.buffer.flush()
                continue
            elif do == "unknown_id":
                answer["id"] = 10 ** 12
                say(answer | {"actions": []})
                answer["id"] = request["id"]
                answer["actions"] = [{"send": "sender", "message": context}]
            else:
                answer["actions"] = [{"send": "sender", "message": context}]
            say(answer)

        if mode == "ignore_eof":
            time.sleep(60)
        if mode == "closes_stdout_then_saves":  # its stderr closed from the start (a wrapper's 2>/dev/null)
            os.close(1)
            time.sleep(0.3)
            with open(pid_file, "a") as f:
                f.write("saved\n")
        if mode == "closes_outputs_then_saves":  # stdout, then stderr, then it saves
            os.close(1)
            time.sleep(0.2)
            os.close(2)
            time.sleep(0.3)
            with open(pid_file, "a") as f:
                f.write("saved\n")
        if mode == "saves_at_eof":  # its state, saved until 11 s from its start, then it exits
            time.sleep(max(0, started + 11 - time.time()))
            with open(pid_file, "a") as f:
                f.write("saved\n")
        """#

    /// The script, written once per test process, into a folder removed when the process exits.
    static let path: String = {
        let directory = URL(fileURLWithPath: probeDirectory)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: probeDirectory) }
        let file = directory.appendingPathComponent("probe.py")
        try? ("#!/usr/bin/env python3\n" + source).write(to: file, atomically: true, encoding: .utf8)
        chmod(file.path, 0o755)
        return file.path
    }()

    /// The probe in `mode`; with `pidFile`, each of its processes appends its pid there.
    ///
    /// Started through its interpreter (`env python3 probe.py`, the script's own shebang) rather
    /// than executed itself: a child that another test forks while this process writes the script
    /// inherits the write descriptor, and while any process holds one, `exec` of the file fails
    /// with "Text file busy" (it did in a CI run, for every plugin test at once).
    static func executable(_ mode: String = "normal", pidFile: String? = nil) -> PluginExecutable {
        let arguments = ["python3", self.path, mode] + (pidFile.map { [$0] } ?? [])
        return PluginExecutable(path: "/usr/bin/env", arguments: arguments)
    }

    /// A fresh path for a pid file; the test removes it with ``removePidFile(_:)``.
    static func pidFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("probe-pids-\(UInt64.random(in: 0 ... .max))")
            .path
    }

    static func removePidFile(_ pidFile: String) {
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    /// The pids written to `pidFile`.
    static func pids(in pidFile: String) -> [Int32] {
        ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// How long a test waits for a probe to start (or say hello) before calling it a hang. It
    /// only bounds a hang, so it is generous: as the suite starts, every test's task queues at
    /// once, and one that spawns a probe has waited 32 s for a thread (CI, 1,194 tests), past
    /// the 30 s this was.
    static let startBound: Duration = .seconds(120)

    /// Fast settings for tests: short shutdown and restarts, and generous start-up and request
    /// timeouts, which here only bound a hang (so that a busy CI machine does not time out the
    /// hellos and answers that should arrive: the task pool these tests share with every other
    /// suite has been seen 2.35 s late, a task 32 s late as the suite starts, 2 s timed out a
    /// plugin's answer behind 2 MB of garbage, and a fresh Python process beside CPU hogs took
    /// over 10 s to answer). Tests of timeouts set their own.
    static func settings(requestTimeout: Duration = .seconds(30)) -> PluginSettings {
        var settings = PluginSettings()
        settings.requestTimeout = requestTimeout
        settings.startupTimeout = startBound
        settings.shutdownGracePeriod = .seconds(1)
        settings.minRestartDelay = .milliseconds(20)
        settings.maxRestartDelay = .milliseconds(200)
        return settings
    }

    /// Runs `body` with a harness whose dispatcher has the built-ins and the plugins' handlers and
    /// filters, and whose rooms tell the plugins the events they asked for.
    static func withHarness(
        _ executables: [PluginExecutable], settings: PluginSettings = settings(), logger: Logger = quietLogger,
        _ body: (Harness) async throws -> Void
    ) async throws {
        try await PluginHost.withPlugins(
            executables, settings: settings, builtIns: BuiltInHandlers.all, eventLoopGroup: testEventLoopGroup,
            logger: logger
        ) { plugins in
            let dispatcher = try MessageDispatcher(
                handlers: BuiltInHandlers.all + plugins.handlers, filters: plugins.filters)
            try await body(Harness(dispatcher: dispatcher, observers: plugins.observers))
        }
    }
}

extension ProbePlugin {
    /// ``withHarness(_:settings:logger:_:)``, with the first plugin's process, for tests that
    /// look inside it.
    static func withProcess(
        _ executables: [PluginExecutable], settings: PluginSettings, logger: Logger = quietLogger,
        _ body: (PluginProcess, Harness) async throws -> Void
    ) async throws {
        try await PluginHost.withPlugins(
            executables, settings: settings, builtIns: BuiltInHandlers.all, eventLoopGroup: testEventLoopGroup,
            logger: logger
        ) { plugins in
            let processes = plugins.handlers.compactMap { ($0 as? PluginMessageHandler)?.plugin }
            let process = try #require(processes.first)
            let dispatcher = try MessageDispatcher(
                handlers: BuiltInHandlers.all + plugins.handlers, filters: plugins.filters)
            try await body(process, Harness(dispatcher: dispatcher, observers: plugins.observers))
        }
    }
}

extension TestClient {
    /// Sends `text` and returns what came back by the time its handling finished.
    func exchange(_ text: String) async -> [JSONValue] {
        await self.send(text)
        return await self.received()
    }

    /// Sends `text` until `process`'s writer takes it for the plugin (a writer held up past half
    /// the request's timeout, on a loaded machine, drops it unwritten instead), and returns what
    /// came back for the one taken; nothing after ten tries. For a client alone in asking.
    func exchangeWritten(_ text: String, to process: PluginProcess) async -> [JSONValue] {
        for _ in 0..<10 {
            let taken = process.requestsQueued?.taken
            let replies = await self.exchange(text)
            if let taken, let now = process.requestsQueued?.taken, now > taken { return replies }
        }
        return []
    }

    /// The pid of the probe process that answers a plain `probe`, if one answers.
    func probePID() async -> JSONValue? {
        await self.exchange(#"{"type":"probe"}"#).first?["pid"]
    }

    /// Waits (bounded) until the probe answers again, e.g. after a restart, and returns its pid.
    /// Generous (``ProbePlugin/startBound``): beside CPU hogs a fresh Python process took over
    /// 10 s to answer, and as the suite starts a test with a 100 ms request timeout had none of
    /// its asks answered in time for 30 s.
    func probePIDOnceAnswering(in harness: Harness) async throws -> JSONValue? {
        var pid: JSONValue?
        try await harness.eventually(timeout: ProbePlugin.startBound) {
            pid = await self.probePID()
            return pid != nil
        }
        return pid
    }
}

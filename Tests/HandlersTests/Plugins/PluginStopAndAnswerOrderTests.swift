import Foundation
import Logging
import RecordedLogs
import Testing

@testable import Handlers
@testable import Relay

extension PluginStartupTests {
    /// A stop that comes while a restart waits out its delay ends at once, and starts nothing.
    /// The stop waits only for incarnations still running; what ends the delay is the
    /// `group.cancelAll()` after `stop` in `PluginHost.withPlugins`, which cancels the
    /// `Task.sleep(for: delay)` in `supervise()` (its `catch { return }`). Without it the task
    /// group would wait the delay out: ten minutes, so that only that (failing the time limit)
    /// can pass it.
    @Test(.timeLimit(.minutes(3))) func aStopDuringALongRestartDelayEndsAtOnce() async throws {
        let pidFile = ProbePlugin.pidFile()
        defer { ProbePlugin.removePidFile(pidFile) }
        var settings = ProbePlugin.settings()
        (settings.minRestartDelay, settings.maxRestartDelay) = (.seconds(600), .seconds(600))
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        let bodyEnded = try await PluginHost.withPlugins(
            [ProbePlugin.executable("exits_after_hello", pidFile: pidFile)], settings: settings,
            builtIns: BuiltInHandlers.all, eventLoopGroup: testEventLoopGroup, logger: logger
        ) { _ in
            // It said hello and exited: its restart is due in 600 s. (A bound on a hang: see `startBound`.)
            let deadline = ContinuousClock.now + ProbePlugin.startBound
            while !records.entries.contains(where: { $0.message == "plugin.restarting" }),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(10))
            }
            return ContinuousClock.now
        }
        let stopTook = ContinuousClock.now - bodyEnded
        // A bound on a hang, not a speed check: the stop itself is a few milliseconds.
        #expect(stopTook < .seconds(60), "the stop waited \(stopTook) for the restart delay")
        let delays = records.entries.filter { $0.message == "plugin.restarting" }.compactMap { $0.metadata["delay"] }
        #expect(delays == [Logger.MetadataValue.string("\(settings.minRestartDelay)")], "stopped in it: \(delays)")
        #expect(ProbePlugin.pids(in: pidFile).count == 1, "started again after the stop")
    }
}

extension PluginRoutingTests {
    /// A plugin that holds the first request it reads (making the file named by its `mark`) and
    /// answers the second at once, twice in one write; it answers the first once the test
    /// removes that file. Each answer tells the sender its `tag`, its request's id and which copy
    /// it is.
    private static let swapperSource = #"""
        import json, os, sys, time
        sys.stdin.reconfigure(encoding="utf-8")
        sys.stdout.reconfigure(encoding="utf-8")

        def answer(request, copy):
            reply = {"type": "swap_reply", "tag": request["message"].get("tag"),
                     "request_id": str(request["id"]), "copy": copy}
            return json.dumps({"kind": "answer", "id": request["id"],
                               "actions": [{"send": "sender", "message": reply}]}) + "\n"

        sys.stdout.write(json.dumps({"kind": "hello", "protocol": 1, "name": "swapper", "handles": ["swap"]}) + "\n")
        sys.stdout.flush()
        held = None
        for line in sys.stdin:
            request = json.loads(line)
            if request["kind"] != "message":
                continue
            if held is None:
                held = request
                open(request["message"]["mark"], "w").close()
                continue
            sys.stdout.write(answer(request, 1) + answer(request, 2))
            sys.stdout.flush()
            told_by = time.time() + 120  # a bound on a hang, for a test that failed before telling it
            while os.path.exists(held["message"]["mark"]) and time.time() < told_by:
                time.sleep(0.01)
            sys.stdout.write(answer(held, 1))
            sys.stdout.flush()
            held = None
        """#

    /// PLUGINS.md §2: answers may come in any order, matched by `id`; §5 and §7: an answer to a
    /// request no longer waiting (here, answered already) is ignored, logged as
    /// `plugin.answer.late` at debug, neither refused as a guessed id nor a protocol violation.
    /// The repeat comes while the other request still waits: it must not be taken as that one's.
    @Test(.timeLimit(.minutes(3))) func answersOutOfOrderReachTheirOwnSendersAndARepeatIsDropped() async throws {
        let (script, mark) = (ProbePlugin.pidFile(), ProbePlugin.pidFile())  // fresh paths
        defer { for file in [script, mark] { ProbePlugin.removePidFile(file) } }
        try Self.swapperSource.write(toFile: script, atomically: true, encoding: .utf8)
        // Through its interpreter, as the probe is (``ProbePlugin/executable(_:pidFile:)``).
        let swapper = PluginExecutable(path: "/usr/bin/env", arguments: ["python3", script])
        let settings = ProbePlugin.settings(requestTimeout: .seconds(60))  // a bound on a hang
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await ProbePlugin.withProcess([swapper], settings: settings, logger: logger) { process, harness in
            let (first, second) = (harness.client(), harness.client())
            async let firstReplies = first.exchange(#"{"type":"swap","tag":"first","mark":"\#(mark)"}"#)
            // The plugin holds the first request: the second is asked while the first waits.
            try await harness.eventually(timeout: ProbePlugin.startBound) {
                FileManager.default.fileExists(atPath: mark)
            }
            let secondGot = await second.exchange(#"{"type":"swap","tag":"second"}"#)
            #expect(secondGot.map(\.type) == ["swap_reply"], "\(secondGot)")
            #expect(secondGot.first?["tag"] == "second")
            #expect(secondGot.first?["copy"] == 1, "its first answer, not the repeat")
            let secondID = try #require(secondGot.first?["request_id"]?.stringValue)
            // The repeat, read right after in the same write, is dropped as answering nothing waiting.
            try await harness.eventually(timeout: ProbePlugin.startBound) {
                records.entries.contains {
                    $0.message == "plugin.answer.late" && "\($0.metadata["request.id"] ?? "")" == secondID
                }
            }
            #expect(process.requestsPending == 1, "the first still waits: the repeat did not answer it")

            ProbePlugin.removePidFile(mark)
            let firstGot = await firstReplies
            #expect(firstGot.map(\.type) == ["swap_reply"], "\(firstGot)")
            #expect(firstGot.first?["tag"] == "first")
            #expect(firstGot.first?["copy"] == 1)
            #expect(firstGot.first?["request_id"]?.stringValue != secondID)
            #expect(await second.received().isEmpty, "nothing more for the second sender")

            let late = records.entries.filter { $0.message == "plugin.answer.late" }
            #expect(late.map { "\($0.metadata["request.id"] ?? "")" } == [secondID], "the repeat alone")
        }
        // Not refused as an answer to a request not yet sent, nor taken for a broken protocol (a kill, a restart).
        let refusals = records.entries.filter {
            ["plugin.answer.invalid", "plugin.protocol.violation", "plugin.restarting"].contains($0.message)
        }
        #expect(refusals.isEmpty, "\(refusals.map(\.message))")
    }
}

import Foundation
import Logging
import RecordedLogs
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

/// A plugin that keeps stopping is restarted ever more slowly; one that breaks the protocol
/// after its start is restarted; one with too many requests waiting is not asked more.
@Suite("Plugins: restarts and the request cap")
struct PluginRestartTests {
    @Test func restartsBackOffDoublingToTheMaximumAndAHealthyRunStartsAgainAtTheMinimum() {
        var backoff = RestartBackoff(PluginSettings())  // 100 ms, doubling to 10 s; 10 s is healthy
        let quick = Duration.milliseconds(50)
        let delays = (0..<9).map { _ in backoff.delay(afterRunningFor: quick) }
        #expect(delays == [100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000].map { Duration.milliseconds($0) })
        #expect(backoff.delay(afterRunningFor: .seconds(10)) == .milliseconds(100))
        #expect(backoff.delay(afterRunningFor: quick) == .milliseconds(200))
        #expect(backoff.delay(afterRunningFor: .milliseconds(9_999)) == .milliseconds(400), "not quite healthy")
    }

    /// With one or two descriptors free, swift-subprocess ended the process, or lost the
    /// restarted plugin's exit for good: a start with fewer than 10 free is a failed start.
    @Test(.timeLimit(.minutes(3))) func aRestartWithTooFewDescriptorsFreeFailsAndIsTriedAgain() async throws {
        let pidFile = ProbePlugin.pidFile()
        defer { ProbePlugin.removePidFile(pidFile) }
        var settings = ProbePlugin.settings()
        settings.healthyRunTime = .seconds(3_600)
        // Plenty for the first start, 5 for the next two, plenty again after.
        let asked = Atomic(0)
        settings.freeDescriptors = { (2...3).contains(asked.add(1, ordering: .relaxed).newValue) ? 5 : nil }
        let records = RecordedLogs()
        let process = PluginProcess(
            executable: ProbePlugin.executable("exits_after_hello", pidFile: pidFile), settings: settings,
            eventLoop: testEventLoopGroup.next(), logger: Logger(label: "test") { _ in records })
        let supervisor = Task { await process.supervise() }
        _ = try await process.waitUntilReady()
        let deadline = ContinuousClock.now + ProbePlugin.startBound
        while ProbePlugin.pids(in: pidFile).count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        process.beginShutdown()
        await supervisor.value
        let failures = records.entries.filter { $0.message == "plugin.start.failed" }
        #expect(
            failures.map { $0.metadata["error"] }
                == Array(repeating: "only 5 file descriptors are free (ulimit -n); a start needs 10", count: 2))
        #expect(ProbePlugin.pids(in: pidFile).count >= 3, "started again once descriptors were free")
    }

    @Test(.timeLimit(.minutes(3))) func aPluginThatKeepsExitingIsRestartedWithTheBackoff() async throws {
        let pidFile = ProbePlugin.pidFile()
        defer { ProbePlugin.removePidFile(pidFile) }
        var settings = ProbePlugin.settings()
        settings.minRestartDelay = .milliseconds(20)
        settings.maxRestartDelay = .milliseconds(80)
        settings.healthyRunTime = .seconds(3_600)  // however slowly a loaded machine starts each one
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        let executable = ProbePlugin.executable("exits_after_hello", pidFile: pidFile)
        try await ProbePlugin.withHarness([executable], settings: settings, logger: logger) { harness in
            try await harness.eventually(timeout: ProbePlugin.startBound) {
                ProbePlugin.pids(in: pidFile).count >= 5
            }
        }
        let delays = records.entries.filter { $0.message == "plugin.restarting" }.compactMap { $0.metadata["delay"] }
        let expected = [20, 40, 80, 80].map { Logger.MetadataValue.string("\(Duration.milliseconds($0))") }
        #expect(Array(delays.prefix(4)) == expected)
    }

    /// PLUGINS.md: the hello deadline holds for each restart as for the first start. A restart
    /// that never says hello would otherwise hold the plugin's types unavailable for good.
    @Test(.timeLimit(.minutes(3))) func aRestartWithoutAHelloInTimeIsKilledAndStartedAgain() async throws {
        var settings = ProbePlugin.settings()
        settings.startupTimeout = .seconds(5)
        // The first start must say hello within the same 5 s: on a loaded machine a Python
        // process can take longer, which is not what this tests, so it is tried again, for 90 s.
        let tryUntil = ContinuousClock.now + .seconds(90)
        while true {
            let pidFile = ProbePlugin.pidFile()
            defer { for file in [pidFile, pidFile + ".go"] { ProbePlugin.removePidFile(file) } }
            let records = RecordedLogs()
            let logger = Logger(label: "test") { _ in records }
            let executable = ProbePlugin.executable("hello_at_first_start", pidFile: pidFile)
            do {
                try await ProbePlugin.withHarness([executable], settings: settings, logger: logger) { harness in
                    let client = harness.client()
                    _ = try #require(try await client.probePIDOnceAnswering(in: harness))
                    await client.expectError("plugin_unavailable", after: #"{"type":"probe","do":"crash"}"#)
                    // Restarted, it says nothing: killed at its deadline, and started again.
                    try await harness.eventually(timeout: ProbePlugin.startBound) {
                        ProbePlugin.pids(in: pidFile).count >= 3
                    }
                    #expect(records.entries.contains { $0.message == "plugin.hello.timeout" })
                    _ = FileManager.default.createFile(atPath: pidFile + ".go", contents: nil)
                    #expect(try await client.probePIDOnceAnswering(in: harness) != nil)
                }
                return
            } catch is PluginStartupError where ContinuousClock.now < tryUntil {
                continue
            }
        }
    }

    @Test func aSecondHelloGetsThePluginKilledAndRestarted() async throws {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in records }
        try await ProbePlugin.withHarness([ProbePlugin.executable()], logger: logger) { harness in
            let client = harness.client()
            let before = try #require(try await client.probePIDOnceAnswering(in: harness))
            await client.expectError("plugin_unavailable", after: #"{"type":"probe","do":"hello_again"}"#)
            #expect(try await client.probePIDOnceAnswering(in: harness) != before)
        }
        let violations = records.entries.filter { $0.message == "plugin.protocol.violation" }
        #expect(violations.map { $0.metadata["reason"] } == ["a second hello"])
    }

    @Test(.timeLimit(.minutes(3))) func requestsPastTheCapAnswerUnavailableUntilAnswersMakeRoom() async throws {
        var settings = ProbePlugin.settings()
        settings.maxInFlight = 3
        let hold = ProbePlugin.pidFile()
        #expect(FileManager.default.createFile(atPath: hold, contents: nil))
        defer { ProbePlugin.removePidFile(hold) }
        try await ProbePlugin.withProcess([ProbePlugin.executable()], settings: settings) { process, harness in
            // The first is answered once the test removes `hold`; the other two wait behind it.
            let waiting = (0..<3).map { _ in harness.client() }
            async let first = waiting[0].exchange(#"{"type":"probe","hold":"\#(hold)"}"#)
            try await harness.eventually(timeout: ProbePlugin.startBound) { process.requestsPending == 1 }
            async let second = waiting[1].exchange(#"{"type":"probe"}"#)
            async let third = waiting[2].exchange(#"{"type":"probe"}"#)
            try await harness.eventually(timeout: ProbePlugin.startBound) { process.requestsPending == 3 }

            let latecomer = harness.client()
            await latecomer.expectError("plugin_unavailable", after: #"{"type":"probe"}"#)
            #expect(process.requestsPending == 3)

            ProbePlugin.removePidFile(hold)
            let replies = await [first, second, third]
            #expect(replies.map { $0.first?.type } == ["probe_reply", "probe_reply", "probe_reply"])
            #expect(await latecomer.exchange(#"{"type":"probe"}"#).first?.type == "probe_reply")
        }
    }
}

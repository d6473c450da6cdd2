import Testing

@testable import Handlers

/// The sweep for overdue requests (``PluginProcess/sweepInterval``) runs only while something
/// waits: swept all the time, three idle plugins woke the server's loop 200 times a second each.
@Suite("Plugins: the overdue sweep")
struct PluginSweepTests {
    @Test(.timeLimit(.minutes(3))) func anIdlePluginIsNotSweptAndATimeoutStillComes() async throws {
        let settings = ProbePlugin.settings(requestTimeout: .seconds(2))
        try await ProbePlugin.withProcess([ProbePlugin.executable()], settings: settings) { process, harness in
            _ = try #require(try await harness.client().probePIDOnceAnswering(in: harness))
            // Answered: the next sweep finds nothing to look after, and schedules none.
            try await harness.eventually { !process.sweepIsScheduled }
            try await Task.sleep(for: .milliseconds(100))
            #expect(!process.sweepIsScheduled, "an idle plugin stays unswept")
            // A request it answers late still times out: its queueing scheduled the sweep again.
            await harness.client().expectError("plugin_timeout", after: #"{"type":"probe","do":"slow","seconds":3}"#)
            // Once the late answer has come, nothing is owed: idle again.
            try await harness.eventually(timeout: .seconds(30)) { !process.sweepIsScheduled }
        }
    }
}

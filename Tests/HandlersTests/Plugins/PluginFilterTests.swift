import Foundation
import Testing

@testable import Handlers
@testable import Relay

/// Filter plugins see a built-in type before its handler and pass, rewrite, drop or reject it.
@Suite("Plugins: filters")
struct PluginFilterTests {
    @Test func verdictsPassRewriteDropAndReject() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter")]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()

            await host.send(#"{"type":"chat","message":"hello"}"#)
            #expect(try await guest.receive().first?["message"] == "hello")
            _ = await host.received()

            await host.send(#"{"type":"chat","message":"rewrite me"}"#)
            #expect(try await guest.receive().first?["message"] == "REWRITE ME")
            _ = await host.received()

            #expect(await host.exchange(#"{"type":"chat","message":"drop"}"#).isEmpty)
            await host.expectError("no_thanks", after: #"{"type":"chat","message":"reject"}"#)
            await host.expectError("plugin_error", after: #"{"type":"chat","message":"retype"}"#)
            await host.expectError("plugin_error", after: #"{"type":"chat","message":"act"}"#)
            #expect(await guest.received().isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(3))) func aRewriteOfTheDeepestMessageAClientMaySendIsTaken() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter")]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            // As deep as a client message may nest; the request and its answer carry it one level deeper.
            let deep =
                String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
            await host.send(#"{"type":"chat","message":"rewrite me","deep":\#(deep)}"#)
            #expect(try await guest.receive().first?["message"] == "REWRITE ME")
        }
    }

    /// PLUGINS.md §1: a plugin may filter a type it also handles; its filter judges first.
    @Test func aPluginMayFilterTheTypeItHandlesAndItsFilterJudgesFirst() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable("filters_own_type")]) { harness in
            let (host, _, _) = try await harness.roomWithTwoPlayers()
            await host.expectError("no_thanks", after: #"{"type":"probe","message":"reject"}"#)
            let replies = await host.exchange(#"{"type":"probe"}"#)
            #expect(replies.map(\.type) == ["probe_reply"])
            // Its third line: two filter requests (the rejected message, then this one), then this message.
            #expect(replies.first?["seen"] == 3)
        }
    }

    @Test func theExampleChatGuardMasksAndBlocks() async throws {
        try await ProbePlugin.withHarness([PluginExecutable(path: examplePluginPath("chat_guard.py"))]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(#"{"type":"chat","message":"you noob"}"#)
            #expect(try await guest.receive().first?["message"] == "you ****")
            _ = await host.received()
            await host.expectError("chat_link_blocked", after: #"{"type":"chat","message":"see https://example.com"}"#)
            #expect(await guest.received().isEmpty)
        }
    }

    /// The plugin inherits the server's environment: under a Latin-1 locale Python read and wrote
    /// the pipes as Latin-1, and a rewritten chat reached the room garbled.
    @Test func theExampleChatGuardKeepsNonASCIIChatWholeWhateverTheLocale() async throws {
        let underLatin1 = PluginExecutable(
            path: "/usr/bin/env",
            arguments: ["LC_ALL=C", "PYTHONIOENCODING=latin-1", "python3", examplePluginPath("chat_guard.py")])
        try await ProbePlugin.withHarness([underLatin1]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(#"{"type":"chat","message":"Ça va NOOB 😀"}"#)
            #expect(try await guest.receive().first?["message"] == "Ça va **** 😀")
        }
    }

    @Test func aLateFilterRejectsByDefaultAndPassesWhenFailOpen() async throws {
        let settings = ProbePlugin.settings(requestTimeout: .milliseconds(200))
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter")], settings: settings) { harness in
            let (host, _, _) = try await harness.roomWithTwoPlayers()
            await host.expectError("plugin_timeout", after: #"{"type":"chat","message":"slow"}"#)
        }
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter_fail_open")], settings: settings) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(#"{"type":"chat","message":"slow"}"#)
            #expect(try await guest.receive().first?["message"] == "slow")
        }
    }

    /// "act" gets actions where a verdict is due (`plugin_error`); "crash" gets the probe's exit
    /// (`plugin_unavailable`).
    @Test(arguments: [("act", "plugin_error"), ("crash", "plugin_unavailable")])
    func aFailingFilterRejectsByDefaultAndPassesWhenFailOpen(text: String, code: String) async throws {
        let chat = #"{"type":"chat","message":"\#(text)"}"#
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter")]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.expectError(code, after: chat)
            #expect(await guest.received().isEmpty)
        }
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter_fail_open")]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(chat)
            #expect(try await guest.receive().first?["message"] == .string(text))
        }
    }

    /// "filter" capitalises "rewrite …" and "filter_no_shouting" refuses capitals, so which runs
    /// first decides what the room gets.
    @Test func filtersOfOneTypeRunInTheOrderThePluginsAreNamed() async throws {
        let chat = #"{"type":"chat","message":"rewrite me"}"#
        let capitalising = ProbePlugin.executable("filter")
        let refusingCapitals = ProbePlugin.executable("filter_no_shouting")
        try await ProbePlugin.withHarness([capitalising, refusingCapitals]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.expectError("no_shouting", after: chat)
            #expect(await guest.received().isEmpty)
        }
        try await ProbePlugin.withHarness([refusingCapitals, capitalising]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(chat)
            #expect(try await guest.receive().first?["message"] == "REWRITE ME")
        }
    }

    @Test func aFailOpenFilterNeverPassesTheMessagesOfAClosedConnection() async throws {
        // The filter holds its verdict until told; the sender closes meanwhile, and its wait ends
        // 200 ms later. Passed unjudged, as a failure of the filter, a client could get anything
        // past it by hanging up.
        var settings = ProbePlugin.settings(requestTimeout: .seconds(10))
        settings.closedConnectionGrace = .milliseconds(200)
        let hold = ProbePlugin.pidFile()
        #expect(FileManager.default.createFile(atPath: hold, contents: nil))
        defer { ProbePlugin.removePidFile(hold) }
        try await ProbePlugin.withHarness([ProbePlugin.executable("filter_fail_open")], settings: settings) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            async let sent: Void = guest.send(#"{"type":"chat","message":"held","hold":"\#(hold)"}"#)
            try await Task.sleep(for: .milliseconds(50))
            guest.session.closing.close()
            await sent
            #expect(await guest.received().isEmpty)
            ProbePlugin.removePidFile(hold)  // the filter passes it now, and its verdict is discarded
            // Answered in order, so after that verdict.
            #expect(await harness.client().exchange(#"{"type":"probe"}"#).first?.type == "probe_reply")
            try await Task.sleep(for: .milliseconds(500))  // what a passed chat would need to reach the host
            #expect(await host.received().isEmpty)
        }
    }
}

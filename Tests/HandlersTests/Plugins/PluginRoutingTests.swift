import Foundation
import Testing

@testable import Handlers
@testable import Relay

/// A real plugin process answers messages: every kind of answer, with the sender's context.
@Suite("Plugins: routing and answers")
struct PluginRoutingTests {
    @Test func theSenderOutsideARoomGetsTheAnswerWithoutRoomContext() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let client = harness.client()
            let replies = await client.exchange(#"{"type":"probe","echo":"hi"}"#)
            #expect(replies.count == 1)
            #expect(replies.first?.type == "probe_reply")
            #expect(replies.first?["echo"] == "hi")
            #expect(replies.first?["player_id"] == .null)
            #expect(replies.first?["room_id"] == .null)
        }
    }

    @Test func roomOthersAndOnePlayerAreAddressed() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let (host, guest, code) = try await harness.roomWithTwoPlayers()

            await host.send(#"{"type":"probe","do":"room"}"#)
            let toHost = await host.received()
            let toGuest = try await guest.receive()
            for messages in [toHost, toGuest] {
                #expect(messages.map(\.type) == ["probe_reply"])
                #expect(messages.first?["player_id"] == "host")
                #expect(messages.first?["room_id"]?.stringValue == code)
                #expect(messages.first?["players"] == 2)
            }

            #expect(await guest.exchange(#"{"type":"probe","do":"others"}"#).isEmpty)
            #expect(try await host.receive().map(\.type) == ["probe_reply"])

            #expect(await guest.exchange(#"{"type":"probe","do":"player","to":"host"}"#).isEmpty)
            let direct = try await host.receive()
            #expect(direct.map(\.type) == ["probe_reply"])
            #expect(direct.first?["player_id"] == "guest")
        }
    }

    @Test func errorsDropsAndSeveralActionsInOrder() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let client = harness.client()
            await client.expectError("probe_says_no", after: #"{"type":"probe","do":"error"}"#)
            #expect(await client.exchange(#"{"type":"probe","do":"drop"}"#).isEmpty)
            let several = await client.exchange(#"{"type":"probe","do":"several"}"#)
            #expect(several.map(\.type) == ["probe_reply", "error", "probe_reply"])
            #expect(several.first?["n"] == 1)
            #expect(several.last?["n"] == 2)
        }
    }

    /// A member's answer is carried out inside the room, where what is for the sender alone
    /// (their own messages, an error) must still come, in its place among the room-wide sends:
    /// only the path outside a room had an answer of several actions, so an error dropped inside
    /// went unseen.
    @Test func aMemberGetsEveryActionOfOneAnswerInOrder() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let (host, guest, code) = try await harness.roomWithTwoPlayers()
            // To the sender (n 1), to the room, an error, to the sender (n 2).
            try await Self.mixedAnswer(to: guest, in: harness) {}
            let toGuest = await guest.received()
            #expect(toGuest.map(\.type) == ["probe_reply", "probe_reply", "error", "probe_reply"], "\(toGuest)")
            #expect(toGuest.first?["n"] == 1)
            #expect(toGuest.dropFirst().first?["n"] == nil, "the room's, without `n`")
            #expect(toGuest.compactMap { $0["code"]?.stringValue } == ["probe_says_no"])
            #expect(toGuest.last?["n"] == 2)
            let toHost = await host.received()
            #expect(toHost.map(\.type) == ["probe_reply"], "the room's send alone: \(toHost)")
            #expect(toHost.first?["n"] == nil)
            #expect(toHost.first?["player_id"] == "guest")
            #expect(toHost.first?["room_id"]?.stringValue == code)
        }
    }

    @Test func roomActionsOutsideARoomAnswerNotInRoom() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            await harness.client().expectError("not_in_room", after: #"{"type":"probe","do":"room"}"#)
            // Once per answer, and once until the connection is in a room again, as for built-ins
            // (the game shows each error as a popup): it was once per room action.
            let client = harness.client()
            let first = await client.exchange(#"{"type":"probe","do":"room_and_others"}"#)
            #expect(first.map { $0["code"] } == ["not_in_room"], "\(first)")
            #expect(await client.exchange(#"{"type":"probe","do":"room_and_others"}"#).isEmpty)
        }
    }

    @Test func aSenderRemovedWhileThePluginAnswersStillGetsWhatIsForThemAlone() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let (host, guest, code) = try await harness.roomWithTwoPlayers()
            try await Self.mixedAnswer(to: guest, in: harness) {
                // A game's handler kicks the guest while the plugin holds its answer.
                let room = try #require(harness.registry.room(code: code))
                #expect(await room.removeMember("guest"))
            }
            let toGuest = await guest.received()
            #expect(toGuest.map(\.type) == ["room_left", "probe_reply", "error", "error", "probe_reply"], "\(toGuest)")
            #expect(toGuest.compactMap { $0["code"]?.stringValue } == ["not_in_room", "probe_says_no"])
            #expect(toGuest.dropFirst().first?["room_id"]?.stringValue == code, "asked while the guest was a member")
            #expect(toGuest.last?["n"] == 2)
            #expect(await host.received().map(\.type) == ["player_left"], "no room-wide send once the guest is out")
        }
    }

    /// Has `client` ask the probe for its answer of several actions (to the sender, to the room,
    /// an error, to the sender again), runs `meanwhile` while the probe holds it, then lets it go
    /// and waits until it is carried out.
    private static func mixedAnswer(
        to client: TestClient, in harness: Harness, meanwhile: () async throws -> Void
    ) async throws {
        let mark = ProbePlugin.pidFile()  // a fresh path
        defer { ProbePlugin.removePidFile(mark) }
        async let answered: Void = client.send(#"{"type":"probe","do":"mixed_when_told","mark":"\#(mark)"}"#)
        try await harness.eventually { FileManager.default.fileExists(atPath: mark) }
        try await meanwhile()
        try FileManager.default.removeItem(atPath: mark)
        await answered
    }

    @Test func answersComeBackToTheirOwnRequestsUnderConcurrency() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable()]) { harness in
            let clients = (0..<20).map { _ in harness.client() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        for round in 0..<10 {
                            let replies = await client.exchange(#"{"type":"probe","echo":"\#(index)-\#(round)"}"#)
                            try #require(replies.count == 1)
                            #expect(replies[0]["echo"]?.stringValue == "\(index)-\(round)")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func builtInsStillWorkBesidePlugins() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable(), ProbePlugin.executable("second_probe")]) {
            harness in
            let client = harness.client()
            #expect(await client.exchange(#"{"type":"ping","timestamp":1}"#).map(\.type) == ["pong"])
            #expect(await client.exchange(#"{"type":"probe_two"}"#).map(\.type) == ["probe_reply"])
            await client.expectError("unknown_type", after: #"{"type":"probe_three"}"#)
        }
    }

    @Test func theExampleDicePluginRollsForTheRoom() async throws {
        try await ProbePlugin.withHarness([PluginExecutable(path: examplePluginPath("dice.sh"))]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(#"{"type":"roll_dice","sides":20}"#)
            for messages in [await host.received(), try await guest.receive()] {
                #expect(messages.map(\.type) == ["dice_rolled"])
                #expect(messages.first?["player_id"] == "host")
                #expect(messages.first?["sides"] == 20)
                let value = try #require(messages.first?["value"]?.doubleValue)
                #expect((1...20).contains(value))
            }
            await host.expectError("invalid_field", after: #"{"type":"roll_dice","sides":"many"}"#)
            // Its hello reads 1 KiB of a message at most: a padded roll costs it nothing.
            let padded = #"{"type":"roll_dice","sides":6,"pad":"\#(String(repeating: "x", count: 1024))"}"#
            await host.expectError("too_long", after: padded)
        }
    }

    @Test func theExampleDicePluginReadsTheRequestNotTheFieldsAClientAdds() async throws {
        try await ProbePlugin.withHarness([PluginExecutable(path: examplePluginPath("dice.sh"))]) { harness in
            // Outside a room the request's player_id is null: the client's own must not stand in.
            let loner = harness.client()
            let rolled = await loner.exchange(#"{"type":"roll_dice","player_id":"someone","sides":12}"#)
            #expect(rolled.map(\.type) == ["dice_rolled"], "\(rolled)")
            #expect(rolled.first?["player_id"] == .null)
            #expect(rolled.first?["sides"] == 12)
            let (host, _, _) = try await harness.roomWithTwoPlayers()
            let inRoom = await host.exchange(#"{"type":"roll_dice","player_id":"guest"}"#)
            #expect(inRoom.first?["player_id"] == "host", "\(inRoom)")
        }
    }

    /// README, "Adding a message type": its plugin, as printed there, answers for the room and
    /// refuses what is longer than its hello says it reads.
    @Test func theReadmesExamplePluginWorksAsPrinted() async throws {
        let readme = try String(contentsOfFile: examplePluginPath("../../README.md"), encoding: .utf8)
        let afterHeading = try #require(readme.range(of: "**As a plugin**"))
        let opening = try #require(readme.range(of: "```sh\n", range: afterHeading.upperBound..<readme.endIndex))
        let closing = try #require(readme.range(of: "```", range: opening.upperBound..<readme.endIndex))
        let script = FileManager.default.temporaryDirectory.appendingPathComponent(
            "readme-plugin-\(UInt32.random(in: 0 ... .max))")
        try String(readme[opening.upperBound..<closing.lowerBound]).write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        defer { try? FileManager.default.removeItem(at: script) }
        try await ProbePlugin.withHarness([PluginExecutable(path: script.path)]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            await host.send(#"{"type":"say_hello"}"#)
            #expect(await host.received().map(\.type) == ["hello"])
            #expect(try await guest.receive().map(\.type) == ["hello"])
            let long = #"{"type":"say_hello","pad":"\#(String(repeating: "x", count: 256))"}"#
            await host.expectError("too_long", after: long)
        }
    }
}

/// A file of `examples/plugins`.
func examplePluginPath(_ name: String) -> String {
    let testsDirectory = #filePath.split(separator: "/").dropLast(4).joined(separator: "/")
    return "/" + testsDirectory + "/examples/plugins/" + name
}

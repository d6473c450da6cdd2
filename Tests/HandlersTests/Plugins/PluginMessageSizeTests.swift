import Foundation
import Testing

@testable import Handlers
@testable import Relay

/// PLUGINS.md §1: a plugin's `max_message_bytes` refuses longer messages before they reach it.
@Suite("Plugins: message size")
struct PluginMessageSizeTests {
    /// `{"type":"probe","echo":"…"}` with `length` bytes of JSON, as the plugin would read it.
    private func probe(bytes length: Int) -> String {
        let frame = #"{"type":"probe","echo":""}"#
        return #"{"type":"probe","echo":"\#(String(repeating: "x", count: length - frame.utf8.count))"}"#
    }

    @Test func aLongerMessageGetsTooLongAndTheHandlingPluginNeverReadsIt() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable("small_messages")]) { harness in
            let (host, _, _) = try await harness.roomWithTwoPlayers()
            let longest = await host.exchange(self.probe(bytes: 64))
            #expect(longest.map(\.type) == ["probe_reply"])
            #expect(longest.first?["seen"] == 1)

            let refused = await host.exchange(self.probe(bytes: 65))
            #expect(refused.map(\.type) == ["error"])
            #expect(refused.first?["code"] == "too_long")
            #expect(refused.first?["message"] == "Message 'probe' is longer than 64 bytes")

            // The next line the plugin read is the next message's: the refused one never reached it.
            #expect(await host.exchange(self.probe(bytes: 30)).first?["seen"] == 2)

            // What counts is the JSON the plugin reads, compact: spaces a client adds are not.
            let spaced = self.probe(bytes: 64).replacingOccurrences(of: ":", with: " :    ")
            #expect(spaced.utf8.count > 64)
            #expect(await host.exchange(spaced).first?["seen"] == 3)
        }
    }

    @Test func aLongerMessageOfAFilteredTypeIsRefusedThoughTheFilterWouldPassOnFailure() async throws {
        try await ProbePlugin.withHarness([ProbePlugin.executable("small_messages")]) { harness in
            let (host, guest, _) = try await harness.roomWithTwoPlayers()
            let short = #"{"type":"chat","message":"hi"}"#
            await host.send(short)
            #expect(try await guest.receive().first?["message"] == "hi")
            _ = await host.received()

            let long = #"{"type":"chat","message":"\#(String(repeating: "a", count: 60))"}"#
            await host.expectError("too_long", after: long)
            #expect(await guest.received().isEmpty)
            // The plugin read only the chat it judged before: the probe is its second line.
            #expect(await host.exchange(self.probe(bytes: 30)).first?["seen"] == 2)
        }
    }
}

import Foundation
import Testing

@testable import Handlers
@testable import Relay

@Suite("emote / ping / time_sync")
struct MiscHandlerTests {
    @Test func allowedEmoteIsBroadcast() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        for emote in EmoteHandler.allowed.sorted() {
            await guest.send(.object(["type": "emote", "emote": .string(emote)]))
            let expected: JSONValue = ["type": "emote", "player_id": "guest", "emote": .string(emote)]
            #expect(await host.received() == [expected])
            #expect(await guest.received() == [expected])
        }
    }

    @Test func unknownEmoteIsInvalid() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.expectError("invalid_field", after: #"{"type":"emote","emote":"dance"}"#)
        await guest.expectError("invalid_field", after: #"{"type":"emote","emote":"WAVE"}"#)
        await guest.expectError("invalid_field", after: #"{"type":"emote"}"#)
        #expect(await host.received().isEmpty)
    }

    @Test func pingAnswersPong() async throws {
        let harness = try Harness()
        let client = harness.client()
        await client.send(#"{"type":"ping"}"#)
        #expect(await client.received() == [["type": "pong"]])
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"ping","extra":[1,2]}"#)
        #expect(await host.received() == [["type": "pong"]])
        #expect(await guest.received().isEmpty)
    }

    @Test func timeSyncOutsideARoom() async throws {
        let client = try Harness().client()
        let before = Date().timeIntervalSince1970 * 1000
        await client.send(#"{"type":"time_sync","client_time":1234.5}"#)
        let after = Date().timeIntervalSince1970 * 1000
        let response = try #require(await client.received().first)
        #expect(response.type == "time_sync_response")
        #expect(response["client_time"] == .number(1234.5))
        #expect(response["sequence_id"] == 0)
        let serverTime = try #require(response["server_time"]?.doubleValue)
        #expect(serverTime >= before - 1 && serverTime <= after + 1)
        guard case .number = response["server_time"] else {
            Issue.record("server_time is not a float: \(String(describing: response["server_time"]))")
            return
        }
        await client.send(#"{"type":"time_sync"}"#)
        #expect(await client.received().first?["client_time"] == .null)
        await client.send(#"{"type":"time_sync","client_time":42}"#)
        #expect(await client.received().first?["client_time"] == 42)
    }

    @Test func timeSyncSequenceGrowsByOnePerRoom() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        var sequences: [Int64] = []
        for client in [host, host, guest, host] {
            await client.send(#"{"type":"time_sync","client_time":1}"#)
            let response = try #require(await client.received().first)
            guard case .integer(let sequence) = response["sequence_id"] else {
                Issue.record("sequence_id missing: \(response)")
                return
            }
            sequences.append(sequence)
        }
        #expect(sequences == [1, 2, 3, 4])
        // another room counts on its own
        let other = harness.client()
        _ = try await other.createRoom(playerID: "solo", name: "Solo")
        await other.send(#"{"type":"time_sync","client_time":1}"#)
        #expect(await other.received().first?["sequence_id"] == 1)
    }
}

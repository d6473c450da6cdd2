import Foundation
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

@Suite("emote / ping / time_sync")
struct MiscHandlerTests {
    @Test func allowedEmoteIsBroadcast() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let documented = ["cheer", "laugh", "sad", "thumbs_up", "wave"]  // written out, not read from the handler
        #expect(EmoteHandler.allowed == Set(documented))
        for emote in documented {
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
        // As the old server answered: 0 for none, and a `null` sent back as it came.
        await client.send(#"{"type":"time_sync"}"#)
        #expect(await client.received().first?["client_time"] == 0)
        await client.send(#"{"type":"time_sync","client_time":null}"#)
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

    /// The room takes the id and queues the answer in one step: the sender's task, held after
    /// that step, must find the answer queued before a broadcast with a later id.
    @Test func aTimeSyncIsAnsweredInTheStepThatTakesItsID() async throws {
        let harness = try Harness()
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let room = try #require(guest.session.membership?.room)
        let executor = HoldingExecutor()
        let sent = Task {
            await withTaskExecutorPreference(executor) {
                await guest.send(#"{"type":"time_sync","client_time":1}"#)
            }
        }
        // The guest's task has left the room and waits for the executor: the host syncs meanwhile.
        try await harness.eventually { executor.heldJobs > 0 }
        #expect(await room.state.sequenceID == 1)
        await host.send(#"{"type":"sync_entities","enemies":[],"coins":[]}"#)
        executor.release()
        await sent.value
        let messages = await guest.received()
        #expect(messages.map(\.type) == ["time_sync_response", "entities_sync"], "\(messages)")
        #expect(messages.map { $0["sequence_id"] } == [1, 2])
    }
}

/// A task executor that runs a task's first job, then holds every later one until released:
/// it stops a task at its first hop back from an actor.
private final class HoldingExecutor: TaskExecutor, Sendable {
    private let state = Mutex<(started: Bool, released: Bool, held: [UnownedJob])>((false, false, []))

    var heldJobs: Int { self.state.withLock { $0.held.count } }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let runNow = self.state.withLock { state in
            guard state.started, !state.released else {
                state.started = true
                return true
            }
            state.held.append(job)
            return false
        }
        if runNow { self.run(job) }
    }

    func release() {
        let held = self.state.withLock { state in
            state.released = true
            defer { state.held = [] }
            return state.held
        }
        for job in held { self.run(job) }
    }

    private func run(_ job: UnownedJob) {
        Thread { job.runSynchronously(on: self.asUnownedTaskExecutor()) }.start()
    }
}

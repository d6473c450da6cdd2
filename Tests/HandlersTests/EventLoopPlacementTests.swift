import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

/// Connections' tasks run on their channel's event loop, and rooms live on their creator's,
/// so a message can go from socket to room to socket on one thread.
@Suite("Event-loop placement")
struct EventLoopPlacementTests {
    @Test func tasksPreferringTheExecutorRunOnItsLoop() async {
        let loop = testEventLoopGroup.next()
        let placements = await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            var placements = [loop.inEventLoop]
            await Task.yield()
            placements.append(loop.inEventLoop)
            await withDiscardingTaskGroup { group in
                group.addTask { #expect(loop.inEventLoop, "child task") }
            }
            placements.append(loop.inEventLoop)
            return placements
        }
        #expect(placements == [true, true, true])
        #expect(!loop.inEventLoop)
    }

    @Test(
        "Many tasks sharing a loop's executor, woken from other threads at once, each run on the loop",
        .timeLimit(.minutes(3)))
    func sharedExecutorRunsEveryWokenTask() async throws {
        let loop = testEventLoopGroup.next()
        let executor = EventLoopTaskExecutor(loop)
        let queues = (0..<500).map { _ in OutboundQueue(capacity: 4) }
        let onLoop = await withTaskGroup(of: Bool.self) { group in
            for queue in queues {
                group.addTask(executorPreference: executor) {
                    var onLoop = loop.inEventLoop
                    for _ in 0..<3 {
                        _ = await queue.next()  // woken by another thread
                        onLoop = onLoop && loop.inEventLoop
                    }
                    return onLoop
                }
            }
            // Three rounds of wake-ups from two other threads, racing the loop's drains.
            for _ in 0..<3 {
                try? await Task.sleep(for: .milliseconds(10))
                await withDiscardingTaskGroup { wakers in
                    for (index, queue) in queues.enumerated() {
                        wakers.addTask { _ = queue.enqueue(ByteBuffer(string: "\(index)")) }
                    }
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(onLoop, "every task finished, each time on its loop")
    }

    @Test func aTaskWokenFromAnotherThreadContinuesOnItsLoop() async throws {
        let loop = testEventLoopGroup.next()
        let queue = OutboundQueue(capacity: 4)
        let consumer = Task {
            await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
                _ = await queue.next()
                return loop.inEventLoop
            }
        }
        // Suspended in `next()` before the frame comes, so that it is woken from this thread: a
        // frame already there would be taken without a wake-up. (A bound on a hang, not a speed
        // check: as the whole suite starts, a new task may wait ~20 s for a thread.)
        let deadline = ContinuousClock.now + .seconds(60)
        while !queue.hasWaitingWriter, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        try #require(queue.hasWaitingWriter, "the consumer never waited")
        #expect(queue.enqueue(ByteBuffer(string: "wake")) == .queued)
        #expect(await consumer.value)
    }

    @Test func aRoomLivesOnTheLoopItIsCreatedFor() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: group, logger: quietLogger)
        for loop in loops.reversed() {  // not the order the group hands its loops out in
            let room = try registry.createRoom(name: "r", maxPlayers: 2, eventLoop: loop)
            #expect(await room.enter { _ in loop.inEventLoop })
        }
        try await group.shutdownGracefully()
    }

    @Test func createRoomPlacesTheRoomOnTheCreatorsLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let creatorsLoop = Array(group.makeIterator())[1]
        let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: group, logger: quietLogger)
        let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all)
        let connection = PlayerConnection(queueCapacity: 8) { _ in }
        let session = ConnectionSession(
            connection: connection, urlRoomID: "new", registry: registry, logger: quietLogger, eventLoop: creatorsLoop)
        await dispatcher.dispatch(#"{"type":"create_room","player_name":"Host"}"#, session: session)
        let room = try #require(session.membership?.room)
        #expect(await room.enter { _ in creatorsLoop.inEventLoop })
        try await group.shutdownGracefully()
    }

    @Test func enteringFromTheRoomsLoopDoesNotHop() async throws {
        let loop = testEventLoopGroup.next()
        let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: testEventLoopGroup, logger: quietLogger)
        let room = try registry.createRoom(name: "r", maxPlayers: 2, eventLoop: loop)
        let laterJob = Flag()
        let sawLaterJob = await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            // Queued behind us on the loop: a hop into the room would let it run first.
            loop.execute { laterJob.raise() }
            return await room.enterFromAnywhere(with: laterJob) { _, laterJob in laterJob.isRaised }
        }
        #expect(sawLaterJob == false)
    }

    @Test func enteringFromElsewhereHopsAndKeepsTypedErrors() async throws {
        let registry = RoomRegistry(limits: RelayLimits(), eventLoopGroup: testEventLoopGroup, logger: quietLogger)
        let room = try registry.createRoom(name: "r", maxPlayers: 2)
        let code = await room.enterFromAnywhere(with: ()) { room, _ in room.code }
        #expect(code == room.code)
        await #expect(throws: RelayError.notInRoom) {
            try await room.enterFromAnywhere(with: ()) { _, _ throws(RelayError) in throw .notInRoom }
        }
        let loop = testEventLoopGroup.next()
        _ = await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            await #expect(throws: RelayError.notHost) {
                try await room.enterFromAnywhere(with: ()) { _, _ throws(RelayError) in throw .notHost }
            }
        }
    }
}

/// A flag one thread raises and another reads.
private final class Flag: Sendable {
    private let raised = Atomic(false)
    var isRaised: Bool { self.raised.load(ordering: .relaxed) }
    func raise() { self.raised.store(true, ordering: .relaxed) }
}

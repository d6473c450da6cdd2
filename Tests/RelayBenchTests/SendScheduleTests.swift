import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import RelayBenchKit

#if canImport(Glibc)
    import Glibc
#endif

/// One timer per loop sends for every connection on it, each at its own fixed rate.
@Suite("Send schedule")
struct SendScheduleTests {
    /// Records when it was asked to send; sends every `period` from its first due time.
    final class Sender: ScheduledSender {
        let loop: EmbeddedEventLoop
        let period: TimeAmount
        var next: NIODeadline
        var generation = 0
        var sentAt: [NIODeadline] = []
        var scheduledAt: [NIODeadline] = []

        init(loop: EmbeddedEventLoop, first: NIODeadline, period: TimeAmount) {
            self.loop = loop
            self.next = first
            self.period = period
        }

        func sendDue(generation: Int, scheduledAt: NIODeadline) -> NIODeadline? {
            guard generation == self.generation else { return nil }
            self.sentAt.append(self.loop.now)
            self.scheduledAt.append(scheduledAt)
            self.next = self.next + self.period
            return self.next
        }
    }

    /// Records the real time of each send, on a real loop.
    final class ClockSender: ScheduledSender {
        var next: NIODeadline
        var generation = 0
        var sentAt: [NIODeadline] = []
        var scheduledAt: [NIODeadline] = []

        init(first: NIODeadline) { self.next = first }

        func sendDue(generation: Int, scheduledAt: NIODeadline) -> NIODeadline? {
            guard generation == self.generation else { return nil }
            (self.sentAt, self.scheduledAt) = (self.sentAt + [.now()], self.scheduledAt + [scheduledAt])
            self.next = self.next + SendScheduleTests.period
            return self.next
        }
    }

    static let period = TimeAmount.nanoseconds(1_000_000_000 / 30)

    /// Sends due in the first `window` for a sender whose first send is at `phase`.
    static func expectedSends(phase: TimeAmount, window: TimeAmount = .seconds(1)) -> Int {
        Int((window - phase).nanoseconds / Self.period.nanoseconds) + 1
    }

    static func senders(on loop: EmbeddedEventLoop, schedule: SendSchedule, phasesMs: [Int64]) -> [Sender] {
        let start = loop.now
        return phasesMs.map { phase in
            let sender = Sender(loop: loop, first: start + .milliseconds(phase), period: Self.period)
            schedule.add(sender, due: sender.next, generation: 0)
            return sender
        }
    }

    @Test func everySenderSendsAtItsOwnTimesAndRate() {
        let loop = EmbeddedEventLoop()
        let start = loop.now
        let schedule = SendSchedule(eventLoop: loop, grid: .zero)
        let senders = Self.senders(on: loop, schedule: schedule, phasesMs: [20, 0, 10, 10])
        loop.advanceTime(by: .seconds(1))
        for sender in senders {
            let phase = sender.sentAt[0] - start
            #expect(sender.sentAt.count == Self.expectedSends(phase: phase))
            for (index, sentAt) in sender.sentAt.enumerated() {
                #expect(sentAt == start + phase + .nanoseconds(Self.period.nanoseconds * Int64(index)))
            }
        }
        #expect(
            senders.map { $0.sentAt[0] - start } == [.milliseconds(20), .zero, .milliseconds(10), .milliseconds(10)])
    }

    @Test func aStoppedSenderSendsNoMore() {
        let loop = EmbeddedEventLoop()
        let schedule = SendSchedule(eventLoop: loop, grid: .zero)
        let senders = Self.senders(on: loop, schedule: schedule, phasesMs: [0, 5])
        loop.advanceTime(by: .milliseconds(100))
        #expect(senders.map(\.sentAt.count) == [4, 3])
        senders[0].generation += 1  // stopped
        loop.advanceTime(by: .milliseconds(900))
        #expect(senders[0].sentAt.count == 4)
        #expect(senders[1].sentAt.count == Self.expectedSends(phase: .milliseconds(5)))
        #expect(schedule.count == 1, "the stopped sender's entry is gone once it came up")
    }

    @Test func aGridRoundsSendTimesUpWithoutChangingTheRate() {
        let loop = EmbeddedEventLoop()
        let start = loop.now
        let schedule = SendSchedule(eventLoop: loop, grid: .milliseconds(4))
        let senders = Self.senders(on: loop, schedule: schedule, phasesMs: [1, 2, 7])
        loop.advanceTime(by: .seconds(1))
        for (sender, phase) in zip(senders, [1, 2, 7] as [Int64]) {
            // Sent when the grid step holding the due time ends; the last one may still be pending.
            let dueTimes = (0..<32).map { Int64($0) * Self.period.nanoseconds + phase * 1_000_000 }
            let sentTimes = sender.sentAt.map { ($0 - start).nanoseconds }
            #expect(
                sentTimes == dueTimes.map { ($0 + 3_999_999) / 4_000_000 * 4_000_000 }.filter { $0 <= 1_000_000_000 })
            #expect(sender.scheduledAt == sender.sentAt, "due at the grid step it is sent in")
        }
        #expect(senders[0].sentAt[0] == senders[1].sentAt[0], "due in the same grid step: sent together")
    }

    @Test func aLateLoopCatchesUpInOneGo() {
        let loop = EmbeddedEventLoop()
        let schedule = SendSchedule(eventLoop: loop, grid: .zero)
        let senders = Self.senders(on: loop, schedule: schedule, phasesMs: [0, 3])
        // The loop runs its timers only now, 200 ms late: everything due so far goes out at once.
        let start = loop.now
        loop.advanceTime(to: loop.now + .milliseconds(200))
        #expect(senders.map(\.sentAt.count) == [7, 6])
        // Each says when it was due.
        for (sender, phase) in zip(senders, [0, 3] as [Int64]) {
            #expect(
                sender.scheduledAt
                    == (0..<sender.scheduledAt.count).map {
                        start + .milliseconds(phase) + .nanoseconds(Self.period.nanoseconds * Int64($0))
                    })
        }
        loop.advanceTime(by: .milliseconds(800))
        #expect(
            senders.map(\.sentAt.count) == [
                Self.expectedSends(phase: .zero), Self.expectedSends(phase: .milliseconds(3)),
            ])
    }

    /// On a real loop timers fire a little late; a send due between grid steps must still wait for
    /// its step, not go out early stamped with a time still to come (its latency would shrink).
    @Test func onAGridNoSendCarriesATimeStillToCome() throws {
        final class GridSender: ScheduledSender {
            var next: NIODeadline
            var generation = 0
            var late: [TimeAmount] = []

            init(first: NIODeadline) { self.next = first }

            func sendDue(generation: Int, scheduledAt: NIODeadline) -> NIODeadline? {
                guard generation == self.generation else { return nil }
                self.late.append(NIODeadline.now() - scheduledAt)
                self.next = self.next + SendScheduleTests.period
                return self.next
            }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let late = try loop.flatSubmit {
            let start = NIODeadline.now()
            let schedule = SendSchedule(eventLoop: loop, grid: .milliseconds(4))
            // 50 senders a third of a millisecond apart: a due time falls just after most grid steps.
            let senders = (0..<50).map { GridSender(first: start + .microseconds(Int64($0) * 333)) }
            for sender in senders { schedule.add(sender, due: sender.next, generation: 0) }
            loop.assumeIsolated().scheduleTask(in: .milliseconds(50)) {  // and one late timer
                holdThisThread(microseconds: 30_000)
            }
            return loop.assumeIsolated().scheduleTask(in: .milliseconds(300)) {
                for sender in senders { sender.generation += 1 }
                return senders.flatMap(\.late)
            }.futureResult
        }.wait()
        #expect(late.count > 300)
        #expect(late.allSatisfy { $0 >= .zero }, "earliest: \(late.min() ?? .zero)")
    }

    @Test func aLateSendStillCarriesTheTimeItWasDue() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let (sentAt, scheduledAt, start) = try loop.flatSubmit {
            let start = NIODeadline.now()
            let sender = ClockSender(first: start + .milliseconds(10))
            SendSchedule(eventLoop: loop, grid: .zero).add(sender, due: sender.next, generation: 0)
            // The loop is held up for 200 ms from 1 ms on: the sends due meanwhile go out late.
            loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { holdThisThread(microseconds: 200_000) }
            return loop.assumeIsolated().scheduleTask(in: .milliseconds(150)) {
                sender.generation += 1
                return (sender.sentAt, sender.scheduledAt, start)
            }.futureResult
        }.wait()
        #expect(sentAt.count >= 6, "due at 10, 43, 77, 110, 143 and 177 ms, all sent once the loop was free")
        #expect(sentAt.allSatisfy { $0 >= start + .milliseconds(200) })
        #expect(
            scheduledAt
                == (0..<scheduledAt.count).map {
                    start + .milliseconds(10) + .nanoseconds(Self.period.nanoseconds * Int64($0))
                })
    }

    /// A loop running behind when the window ends may run the stop before its overdue send timer
    /// (NIO runs the two in either order): stopped at once, the window's last sends were never
    /// made (neither sent nor lost), and with them its latest samples. The stop makes the sends
    /// due before the end.
    @Test func theStopMakesTheSendsDueBeforeTheWindowsEnd() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let (scheduledAt, start) = try loop.submit {
            let start = NIODeadline.now()
            let schedule = SendSchedule(eventLoop: loop, grid: .zero)
            let sender = ClockSender(first: start + .milliseconds(10))
            schedule.add(sender, due: sender.next, generation: 0)
            // Held up here for 200 ms, and stopped in the same task, the window ending at 150 ms:
            // the send timer, due from 10 ms, has not run. (Stopped in a task queued meanwhile, the
            // test failed when NIO ran the timer first, which sent everything due by then.)
            holdThisThread(microseconds: 200_000)
            schedule.sendAll(dueBefore: start + .milliseconds(150))
            sender.generation += 1
            return (sender.scheduledAt, start)
        }.wait()
        let due = (0..<5).map { start + .milliseconds(10) + .nanoseconds(Self.period.nanoseconds * Int64($0)) }
        #expect(scheduledAt == due, "due at 10, 43, 77, 110 and 143 ms: every send of the window, late")
    }

    /// The whole bench, not a fake sender: each message must carry when it was due, so that a bench
    /// held up shows the wait in its send lag and in every latency it is part of. Stamped with the
    /// time it went out instead, the lag read ~0 and the bench's own delay passed for the server's.
    @Test func aHeldUpBenchShowsTheWaitInItsSendLagAndLatency() async throws {
        let holdUp = HoldUp()
        // 2 s: the hold-up comes ~0.1 s in, later if a loaded run delays the relay's loop.
        let window = try await Self.measure(seconds: 2, heldUpBy: holdUp)
        #expect(holdUp.hasHeld, "the window's 10th state never reached the relay")
        // At 50 Hz each sender had a send due in the hold-up's first 20 ms: over 180 ms late (µs).
        #expect(window.latency.sent > 0 && window.latency.sendLagMax >= 150_000, "\(window.latency)")
        #expect(window.latency.max >= 150_000, "\(window.latency)")
    }

    /// The whole bench held up as its window ends: every send due in the window is made, late,
    /// and counted (at 50 Hz, two senders for 1 s: 100), and none due after it. Stopped at once,
    /// a connection's stop could run before its send timer, and a timer before the other's stop:
    /// one missed its last ~10 sends, the other counted ~10 past the end.
    @Test func aBenchHeldUpAtTheWindowsEndStillMakesItsSends() async throws {
        // Sending from 0.5 s before the window opens, so that however late the senders started,
        // each has 50 sends due in it; held from ~0.8 s into the window to ~1.2 s.
        let holdUp = HoldUp(atState: 50 + 80, holdMicroseconds: 400_000)
        let window = try await Self.measure(seconds: 1, warmingUpFor: 0.5, heldUpBy: holdUp)
        #expect(holdUp.hasHeld, "the window's 80th state never reached the relay")
        // A loaded run may hold the loops past the end, or before it: either way all are made.
        #expect(window.latency.sent == 100, "\(window.latency)")
    }

    /// One room of two players sending at 50 Hz for `seconds` (after `warmup` unmeasured), through
    /// a relay that holds the bench's loops up as `holdUp` says: the window.
    private static func measure(
        seconds: Double, warmingUpFor warmup: Double = 0, heldUpBy holdUp: HoldUp
    ) async throws -> WindowResult {
        let relay = MisbehavingServerTests.relayingStamps(ahead: 0)
        var measured: WindowResult?
        try await ScriptedRelay.with(answer: { text in
            holdUp.relayed(text)
            return relay(text)
        }) { server in
            let connector = try MisbehavingServerTests.context(port: server.port).makeConnector()
            let fleet = RoomFleet(connector: connector)
            let setup = await fleet.addRooms(1, players: 2, concurrency: 1)
            holdUp.arm(connector.group)
            measured = await fleet.measure(
                seconds: seconds, hertz: 50, paddingBytes: 0, serverPID: nil, drainSeconds: 1, warmupSeconds: warmup)
            await fleet.closeAll()
            await connector.shutdown()
            #expect(setup.roomsReady == 1, "\(setup.failures)")
        }
        return try #require(measured)
    }
}

/// Holds up every loop of the bench for `holdMicroseconds` (200 ms), once, when the `atState`th
/// (10th) `player_state` reaches the relay: inside the measured window (states are sent only in
/// it), however late the test's task runs.
private final class HoldUp: Sendable {
    private let state = Mutex<(group: (any EventLoopGroup)?, states: Int, held: Bool)>((nil, 0, false))
    let atState: Int
    let holdMicroseconds: UInt32

    init(atState: Int = 10, holdMicroseconds: UInt32 = 200_000) {
        (self.atState, self.holdMicroseconds) = (atState, holdMicroseconds)
    }

    var hasHeld: Bool { self.state.withLock { $0.held } }

    func arm(_ group: any EventLoopGroup) {
        self.state.withLock { $0.group = group }
    }

    func relayed(_ text: String) {
        guard text.contains(#""player_state""#) else { return }
        let group: (any EventLoopGroup)? = self.state.withLock { state in
            state.states += 1
            guard state.states == self.atState, let group = state.group else { return nil }
            state.held = true
            return group
        }
        for loop in group?.makeIterator() ?? EventLoopIterator([]) {
            loop.execute { holdThisThread(microseconds: self.holdMicroseconds) }
        }
    }
}

/// Holds this thread for the whole time: `usleep` ends early when the thread handles a signal.
func holdThisThread(microseconds: UInt32) {
    let end = ContinuousClock.now + .microseconds(microseconds)
    while case let left = end - ContinuousClock.now, left > .zero {
        let (seconds, attoseconds) = left.components
        usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000 + 1))
    }
}

import Dispatch
import NIOCore
import Synchronization
import Testing

@testable import Handlers

@Suite("Plugins: stdin queue", .timeLimit(.minutes(3)))
struct PluginInputTests {
    /// An input of `limit` bytes for requests of `timeout`.
    private func input(limit: Int = 1_000, timeout: Duration = .seconds(60)) -> PluginInput {
        var settings = PluginSettings()
        settings.maxQueuedInputBytes = limit
        settings.requestTimeout = timeout
        return PluginInput(settings: settings)
    }

    /// Appends the lines "1\n"… of `ids`, each due at `deadline`.
    private func append(_ ids: ClosedRange<UInt64>, to input: PluginInput, until deadline: NIODeadline) {
        for id in ids { #expect(input.append(Array("\(id)\n".utf8), id: id, until: deadline)) }
    }

    private func lines(_ ids: ClosedRange<UInt64>) -> [UInt8] {
        ids.flatMap { Array("\($0)\n".utf8) }
    }

    /// The writer's next lines, asked for now and taken once `ready` has run, the writer waiting by
    /// then if it waits at all; nil once the input is closed and drained. A writer still waiting 30 s
    /// after is an issue, and the input is closed to end its wait: a regression then fails the test
    /// instead of hanging it (a waiting writer ignores cancellation), and its nil is not taken for
    /// the end of a closed input.
    private func nextLines(
        of input: PluginInput, sourceLocation: SourceLocation = #_sourceLocation, after ready: () async -> Void
    ) async -> [UInt8]? {
        let taken = Mutex<[UInt8]??>(nil)
        let writer = Task {
            let lines = await input.next()
            taken.withLock { $0 = .some(lines) }
        }
        // Until the writer waits, or has taken lines already (then `ready` comes after them).
        let waiting = ContinuousClock.now + .seconds(10)
        while !input.writerWaits, taken.withLock({ $0 }) == nil, ContinuousClock.now < waiting {
            try? await Task.sleep(for: .milliseconds(5))
        }
        await ready()
        // Long enough for a task started just now to get a thread while the whole suite runs.
        let deadline = ContinuousClock.now + .seconds(30)
        while taken.withLock({ $0 }) == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        guard let lines = taken.withLock({ $0 }) else {
            Issue.record("the writer still waits after 30 s", sourceLocation: sourceLocation)
            // The close ends the writer's wait, unless the input cannot drain (a regression in its
            // events' bookkeeping): then the writer is left waiting rather than the test.
            input.close()
            _ = writer
            return nil
        }
        return lines
    }

    @Test func linesThatExpiredOrWereForgottenAreNotWrittenAndTheExpiredAreReported() async {
        let input = self.input()
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now - .seconds(1)))
        #expect(input.append(Array("2\n".utf8), id: 2, until: now - .milliseconds(1)))
        #expect(input.append(Array("3\n".utf8), id: 3, until: now + .seconds(60)))
        #expect(input.append(Array("4\n".utf8), id: 4, until: now + .seconds(60)))
        input.forget(3)  // its sender has gone
        #expect(await input.next() == Array("4\n".utf8))
        // Timed out unwritten: no answer can come for them, which the process's sweep is told, once.
        #expect(input.sweep(now: now) == [1, 2])
        #expect(input.sweep(now: now) == [])
    }

    /// A line with less than half its timeout left would most likely be answered late.
    @Test func linesWithLessThanHalfTheirTimeoutLeftAreNotWritten() async {
        let input = self.input(timeout: .seconds(10))
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now + .seconds(4)))
        #expect(input.append(Array("2\n".utf8), id: 2, until: now + .seconds(60)))  // however late the next line runs
        #expect(await input.next() == Array("2\n".utf8))
        #expect(input.sweep(now: now) == [1])
    }

    @Test func expiredLinesMakeRoomUnderTheLimit() {
        let input = self.input(limit: 10)
        let now = NIODeadline.now()
        #expect(input.append(Array("12345678\n".utf8), id: 1, until: now - .seconds(1)))
        #expect(input.append(Array("12345678\n".utf8), id: 2, until: now + .seconds(60)))
        #expect(!input.append(Array("x\n".utf8), id: 3, until: now + .seconds(60)), "over the limit with 2 due")
        #expect(input.sweep(now: now) == [1])
    }

    /// What the writer took counts until it asks for more (its write is done): a plugin that
    /// stopped reading mid-write does not get a second limit's worth queued behind it.
    @Test func linesBeingWrittenCountUnderTheLimit() async {
        let input = self.input(limit: 10)
        let due = NIODeadline.now() + .seconds(60)
        #expect(input.append(Array("1234567\n".utf8), id: 1, until: due))
        #expect(await input.next() == Array("1234567\n".utf8))
        #expect(!input.append(Array("1234\n".utf8), id: 2, until: due), "8 bytes still being written")
        #expect(input.append(Array("1\n".utf8), id: 3, until: due))
        #expect(await input.next() == Array("1\n".utf8))  // the first write is done
        #expect(input.append(Array("1234567\n".utf8), id: 4, until: due))
    }

    /// The plugin is written no more than the window of unanswered requests, the newest first
    /// (they have the most time left); the rest wait for answers, and an answer in time with the
    /// window full makes it larger.
    @Test func theWriterTakesNoMoreThanTheWindowNewestFirstAndAnswersMakeRoom() async {
        let input = self.input()
        self.append(1...20, to: input, until: NIODeadline.now() + .seconds(60))
        #expect(input.windowSize == 16)
        #expect(await input.next() == self.lines(5...20))
        // The writer waits: the window is full. An answer in time with the window full grows it
        // by one: room for two.
        #expect(await self.nextLines(of: input) { input.answered(5) } == self.lines(3...4))
        #expect(input.windowSize == 17)
        input.answered(5)  // again: nothing
        input.answered(1)  // never written: nothing
        #expect(input.windowSize == 17)
    }

    /// Answers that come late halve the window, once for the requests that were in the plugin
    /// together; requests unanswered a timeout past their own count as late and give their places back.
    /// Answers and sweeps are timed by the test, against 60 s timeouts: a stalled test process must
    /// neither make an answer late nor a line too late to write.
    @Test func lateAndMissingAnswersShrinkTheWindow() async {
        let input = self.input(timeout: .seconds(60))
        let due = NIODeadline.now() + .seconds(60)
        self.append(1...16, to: input, until: due)
        #expect(await input.next() == self.lines(1...16))
        for id: UInt64 in 1...8 { input.answered(id, at: due + .milliseconds(50)) }  // late, in the order written
        #expect(input.windowSize == 8)
        self.append(17...30, to: input, until: due + .seconds(600))
        // 8 still owed: no room until the sweep finds them a timeout past their own, well before
        // the silence that counts a plugin as hung (5 minutes here).
        let more = await self.nextLines(of: input) {
            #expect(input.sweep(now: due + .seconds(59)) == [])
            #expect(input.windowSize == 8 && input.unansweredCount == 8, "not yet a timeout past")
            #expect(input.sweep(now: due + .seconds(61)) == [], "no line was too late")
        }
        #expect(more == self.lines(23...30), "the 8 released, the window still 8, the newest first")
        #expect(input.windowSize == 8, "released together with the late answers: no second halving")
    }

    /// A late answer that comes after the answer to a request written later says only that its
    /// own request was slow (the plugin answers several at once): it does not shrink the window.
    @Test func aLateAnswerAfterALaterOnesDoesNotShrinkTheWindow() async {
        let input = self.input(timeout: .seconds(60))
        let due = NIODeadline.now() + .seconds(60)
        self.append(1...2, to: input, until: due)
        #expect(await input.next() == self.lines(1...2))
        input.answered(2, at: due - .seconds(30))  // in time
        input.answered(1, at: due + .milliseconds(50))  // late, after 2's answer
        #expect(input.windowSize == 16)
        let laterDue = due + .seconds(1)
        self.append(3...3, to: input, until: laterDue)
        #expect(await input.next() == self.lines(3...3))
        // Late, and the latest written: the plugin's queue made it so.
        input.answered(3, at: laterDue + .milliseconds(50))
        #expect(input.windowSize == 8)
    }

    /// A request given up on gives its place back: with a window of one, a plugin that never
    /// answers one request still gets the next (else its silence would have it killed as hung).
    @Test func aRequestGivenUpOnGivesItsPlaceBack() async {
        var settings = PluginSettings()
        settings.requestTimeout = .seconds(60)
        settings.maxInFlight = 1  // a window of one
        let input = PluginInput(settings: settings)
        let start = NIODeadline.now()
        self.append(1...1, to: input, until: start + .seconds(60))
        #expect(await input.next() == self.lines(1...1))
        self.append(2...2, to: input, until: start + .seconds(600))
        let second = await self.nextLines(of: input) {
            _ = input.sweep(now: start + .seconds(119))
            #expect(input.unansweredCount == 1, "not yet a timeout past its own")
            _ = input.sweep(now: start + .seconds(121))  // 1 is given up on: 2 takes its place
        }
        #expect(second == self.lines(2...2))
        #expect(input.unansweredCount == 1)
        input.answered(1, at: start + .seconds(122))  // its answer after all: nothing owed for it
        #expect(input.unansweredCount == 1 && input.windowSize == 1)
    }

    /// The window learns each answer's round trip, from the writer taking its line, and the
    /// plugin's pace from the answers before, over the window's worth (``AnswerWindowTests``).
    /// Answers are timed by the test: a stalled test process must not make them late.
    @Test func theWindowLearnsEachAnswersRoundTripAndThePluginsPace() async {
        func near(_ size: Double, _ expected: Double) -> Bool { abs(size - expected) < 1e-9 }
        var settings = PluginSettings()
        settings.requestTimeout = .seconds(60)
        settings.maxInFlight = 3
        let input = PluginInput(settings: settings)
        let start = NIODeadline.now()
        self.append(1...3, to: input, until: start + .seconds(60))
        #expect(await input.next() == self.lines(1...3))
        _ = input.sweep(now: start + .seconds(121))  // given up on, a timeout past their own
        #expect(input.windowSize == 1.5, "late at 3")
        self.append(4...4, to: input, until: NIODeadline.now() + .seconds(60))
        #expect(await input.next() == self.lines(4...4))
        let first = NIODeadline.now() + .seconds(31)
        input.answered(4, at: first)  // no room for a second 31 s turn in 60 s: an eighth as fast
        var size = 1.5 + 0.125 / 1.5
        #expect(near(input.windowSize, size))
        self.append(5...5, to: input, until: NIODeadline.now() + .seconds(60))
        #expect(await input.next() == self.lines(5...5))
        input.answered(5, at: first + .milliseconds(500))  // as slow, but half a second after 4's: room
        size += 1 / size
        #expect(near(input.windowSize, size))
        self.append(6...7, to: input, until: NIODeadline.now() + .seconds(60))
        #expect(await input.next() == self.lines(6...7))
        // Both 48 s after they were taken, 16.5 s after 5's answer: 17 s after 4's, 8.5 s an
        // answer over the last two (the window's worth), which leaves room.
        input.answered(6, at: first + .seconds(17))
        input.answered(7, at: first + .seconds(17))
        size += 1 / size
        #expect(near(input.windowSize, size), "full pace, not an eighth")
        #expect(input.answersTimed == 4)
    }

    /// The writer takes its lines itself once it runs. Held up after a wake (its task waiting for
    /// a thread), it used to write the lines taken for it when it was woken, however late by then.
    @Test func aWriterHeldUpAfterItsWakeDoesNotWriteWhatBecameLateMeanwhile() async {
        let input = self.input(timeout: .milliseconds(200))  // written within 100 ms, or not at all
        let executor = HeldExecutor()
        let writer = Task(executorPreference: executor) { await input.next() }
        while !input.writerWaits { try? await Task.sleep(for: .milliseconds(5)) }
        let release = DispatchSemaphore(value: 0)
        executor.queue.async { release.wait() }  // the writer's thread is busy
        #expect(input.append(Array("1\n".utf8), id: 1, until: .now() + .milliseconds(200)))  // wakes it
        try? await Task.sleep(for: .milliseconds(150))  // 1 is too late to write now
        #expect(input.append(Array("2\n".utf8), id: 2, until: .now() + .seconds(60)))
        release.signal()
        #expect(await writer.value == Array("2\n".utf8))
        #expect(input.sweep(now: .now()) == [1], "dropped unwritten, not taken as written")
    }

    /// The sweep forgets an abandoned request's line in the same turn as it reports the drops, so
    /// that the process never takes it as owed: once each, whether the sweep forgot it or it was
    /// dropped as late before; nothing for a line written already.
    @Test func theSweepForgetsAbandonedLinesAndReportsEachDropOnce() async {
        let input = self.input(timeout: .seconds(10))
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now + .seconds(60)))
        #expect(await input.next() == Array("1\n".utf8))
        #expect(input.append(Array("2\n".utf8), id: 2, until: now + .seconds(60)))
        #expect(input.append(Array("3\n".utf8), id: 3, until: now + .seconds(4)))  // late by the sweep
        #expect(input.sweep(now: now + .seconds(1), forgetting: [1, 2, 3]).sorted() == [2, 3])
        #expect(input.sweep(now: now + .seconds(1), forgetting: [2, 3]) == [])
        #expect(input.requestsWaiting == 0)
    }

    /// A request's deadline is set before its line is appended: two senders' lines may come out
    /// of the order of their deadlines, and a late one behind a fresh one is still dropped.
    @Test func aLateLineBehindAFreshOneIsDropped() async {
        let input = self.input(timeout: .seconds(10))
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now + .seconds(60)))
        #expect(input.append(Array("2\n".utf8), id: 2, until: now + .seconds(4)))  // past half its timeout
        #expect(await input.next() == Array("1\n".utf8))
        #expect(input.sweep(now: now) == [2])
    }

    /// At a shutdown the plugin is asked to finish what it was sent: the window no longer holds lines back.
    @Test func closingWritesEveryPendingLine() async {
        let input = self.input()
        self.append(1...20, to: input, until: NIODeadline.now() + .seconds(60))
        #expect(await input.next() == self.lines(5...20))
        input.close()
        #expect(await input.next() == self.lines(1...4))
        #expect(await input.next() == nil)
    }

    // MARK: Room events

    /// An input whose window lets the plugin owe one answer.
    private func inputOwingOne(
        limit: Int = PluginSettings().maxQueuedInputBytes, timeout: Duration = .seconds(60)
    ) -> PluginInput {
        var settings = PluginSettings()
        settings.maxInFlight = 1
        settings.maxQueuedInputBytes = limit
        settings.requestTimeout = timeout
        return PluginInput(settings: settings)
    }

    // The writer's lines are taken through `nextLines`, bounded: an event that never goes would
    // otherwise hang the test.

    /// Appends request `id`'s line, "ID\n", from a member of `room`.
    private func append(_ id: UInt64, of room: String, to input: PluginInput, until deadline: NIODeadline) {
        #expect(input.append(Array("\(id)\n".utf8), id: id, until: deadline, room: room))
    }

    private func event(_ name: String) -> [UInt8] { Array("\(name)\n".utf8) }

    /// An event keeps its place among its room's requests, however the window holds them back:
    /// written after those queued before it and before those queued after it (a new room under
    /// the same code, after a `room_closed`), and it takes no place in the window.
    @Test func anEventIsWrittenAfterItsRoomsRequestsBeforeItAndBeforeThoseAfterIt() async {
        let input = self.inputOwingOne()
        let due = NIODeadline.now() + .seconds(60)
        self.append(1, of: "A", to: input, until: due)
        self.append(2, of: "A", to: input, until: due)
        #expect(input.appendEvent(self.event("eA"), room: "A"))
        self.append(3, of: "A", to: input, until: due)
        #expect(
            await self.nextLines(of: input) {} == self.lines(2...2),
            "the newest that may go; 1 waits for room, 3 for the event")
        let afterOne = await self.nextLines(of: input) { input.answered(2) }
        #expect(afterOne == self.lines(1...1) + self.event("eA"), "the event at once after 1; 3 waits for room")
        #expect(input.unansweredCount == 1)
        #expect(await self.nextLines(of: input) { input.answered(1) } == self.lines(3...3))
    }

    /// Only the event's own room waits: another room's requests, and those of senders in no room,
    /// go newest first past it.
    @Test func otherRoomsRequestsDoNotWaitForAnEvent() async {
        let input = self.inputOwingOne()
        let due = NIODeadline.now() + .seconds(60)
        self.append(1, of: "A", to: input, until: due)
        self.append(2, of: "B", to: input, until: due)
        #expect(input.appendEvent(self.event("eA"), room: "A"))
        self.append(3, of: "B", to: input, until: due)
        self.append(4, of: "A", to: input, until: due)
        #expect(input.append(Array("5\n".utf8), id: 5, until: due))  // a sender in no room
        #expect(await self.nextLines(of: input) {} == self.lines(5...5))
        #expect(await self.nextLines(of: input) { input.answered(5) } == self.lines(3...3), "4 waits for eA")
        #expect(await self.nextLines(of: input) { input.answered(3) } == self.lines(2...2))
        let event = await self.nextLines(of: input) { input.answered(2) }
        #expect(event == self.lines(1...1) + self.event("eA"))
        #expect(await self.nextLines(of: input) { input.answered(1) } == self.lines(4...4))
    }

    /// Two events of a room in a row go together once the requests before the first have gone, in
    /// their order; a request of a sender in no room between them waits for neither.
    @Test func backToBackEventsGoTogetherAndARequestFromNoRoomWaitsForNeither() async {
        let input = self.inputOwingOne()
        let due = NIODeadline.now() + .seconds(60)
        self.append(1, of: "A", to: input, until: due)
        self.append(2, of: "A", to: input, until: due)
        #expect(input.appendEvent(self.event("e1"), room: "A"))
        #expect(input.append(Array("3\n".utf8), id: 3, until: due))
        #expect(input.appendEvent(self.event("e2"), room: "A"))
        #expect(await self.nextLines(of: input) {} == self.lines(3...3))
        #expect(await self.nextLines(of: input) { input.answered(3) } == self.lines(2...2))
        let events = await self.nextLines(of: input) { input.answered(2) }
        #expect(events == self.lines(1...1) + self.event("e1") + self.event("e2"))
    }

    /// The window holds requests back, not events: an event its room's requests do not hold back is
    /// written while the plugin owes all it may, and a request after it still waits for room.
    @Test func anEventIsWrittenWhileTheWindowIsFull() async {
        let input = self.inputOwingOne()
        let due = NIODeadline.now() + .seconds(60)
        self.append(1, of: "A", to: input, until: due)
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))
        #expect(input.appendEvent(self.event("eA"), room: "A"))
        self.append(2, of: "A", to: input, until: due)
        #expect(await self.nextLines(of: input) {} == self.event("eA"))
        #expect(await self.nextLines(of: input) { input.answered(1) } == self.lines(2...2))
    }

    /// A request dropped as too late to write, or forgotten (its sender gone), holds no event
    /// back; an event is never late.
    @Test func anEventGoesOnceItsRoomsRequestsBeforeItAreTooLateOrForgotten() async {
        let input = self.inputOwingOne()
        let now = NIODeadline.now()
        self.append(1, of: "A", to: input, until: now + .seconds(60))
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))  // the window is full
        self.append(2, of: "A", to: input, until: now + .seconds(40))  // written only in the next 10 s
        self.append(3, of: "A", to: input, until: now + .seconds(60))
        #expect(input.appendEvent(self.event("eA"), room: "A"))
        #expect(input.forget(3))
        let event = await self.nextLines(of: input) { #expect(input.sweep(now: now + .seconds(11)) == [2]) }
        #expect(event == self.event("eA"))
        #expect(input.sweep(now: now + .seconds(11)) == [], "each dropped request is reported once")
    }

    /// Events share the byte limit, and a closed input takes none; closing writes what waits,
    /// each room's events in their place.
    @Test func eventsCountUnderTheLimitAndAreWrittenInTheirPlaceAtTheClose() async {
        let input = self.input(limit: 10)
        let due = NIODeadline.now() + .seconds(60)
        #expect(input.appendEvent(self.event("e1"), room: "A"))
        self.append(1, of: "A", to: input, until: due)
        #expect(input.appendEvent(self.event("e2"), room: "A"))
        #expect(!input.appendEvent(self.event("e3"), room: "A"), "11 bytes would wait")
        input.close()
        #expect(!input.appendEvent(self.event("e4"), room: "A"))
        #expect(await self.nextLines(of: input) {} == self.event("e1") + self.lines(1...1) + self.event("e2"))
        #expect(await self.nextLines(of: input) {} == nil)
    }

    // MARK: Missed events

    private func missed(_ room: String, _ count: Int) -> [UInt8] {
        Array(#"{"kind":"event","event":"events_missed","room_id":"\#(room)","count":\#(count)}"#.utf8) + [10]
    }

    /// Events that did not fit are counted for their room when asked (`noteIfMissed`), and told
    /// once there is room, as an event of the room: no line of that room is queued before it.
    @Test func missedEventsAreToldOnceThereIsRoomBeforeAnyLaterLineOfTheirRoom() async {
        let input = self.input(limit: 100)
        let due = NIODeadline.now() + .seconds(60)
        let filler = Array(repeating: UInt8(ascii: "x"), count: 89) + [10]
        #expect(input.append(filler, id: 10, until: due))
        #expect(input.appendEvent(self.event("eA1"), room: "A", noteIfMissed: true))
        self.append(1, of: "A", to: input, until: due)  // 96 bytes wait
        #expect(!input.appendEvent(self.event("eA2-long"), room: "A", noteIfMissed: true), "105 bytes")
        #expect(!input.appendEvent(self.event("eA3"), room: "A", noteIfMissed: true), "behind A's notice")
        #expect(!input.append(Array("3\n".utf8), id: 3, until: due, room: "A"), "behind A's notice")
        #expect(!input.appendEvent(self.event("eB1-long"), room: "B"), "missed, not counted")
        self.append(2, of: "C", to: input, until: due)  // other rooms' lines still go
        let first = await self.nextLines(of: input) {}
        #expect(first == filler + self.lines(2...2) + self.event("eA1") + self.lines(1...1))
        #expect(await self.nextLines(of: input) {} == self.missed("A", 2), "B's was not asked for")
        self.append(4, of: "A", to: input, until: due)
        #expect(await self.nextLines(of: input) {} == self.lines(4...4))
    }

    /// A notice keeps its place behind its room's requests queued before the miss, here one the
    /// answer window holds back.
    @Test func aMissedEventsNoticeWaitsForItsRoomsHeldBackRequest() async {
        let input = self.inputOwingOne(limit: 100)
        let due = NIODeadline.now() + .seconds(60)
        self.append(1, of: "A", to: input, until: due)
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))  // the plugin owes one
        self.append(2, of: "A", to: input, until: due)
        let filler = Array(repeating: UInt8(ascii: "x"), count: 94) + [10]
        #expect(input.append(filler, id: 3, until: due))  // 2 + 2 + 95 bytes
        #expect(!input.appendEvent(self.event("eA"), room: "A", noteIfMissed: true))
        #expect(await self.nextLines(of: input) { input.answered(1) } == filler, "the newest; no room for the notice")
        let notice = await self.nextLines(of: input) { input.answered(3) }
        #expect(notice == self.lines(2...2) + self.missed("A", 1))
    }

    /// A notice that waits for room when the input closes is still written: the close queues every
    /// notice, whatever the limit, and the input is not drained before they are written.
    @Test func closingWritesTheNoticesStillWaiting() async {
        let input = self.input(limit: 100, timeout: .seconds(2))
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now + .seconds(60)))
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))  // 2 bytes being written
        let filler = Array(repeating: UInt8(ascii: "x"), count: 89) + [10]
        #expect(input.append(filler, id: 2, until: .now() + .seconds(2)))
        #expect(!input.appendEvent(self.event("eA-longer"), room: "A", noteIfMissed: true), "2 + 90 + 10 bytes")
        try? await Task.sleep(for: .milliseconds(1_100))  // the filler is too late to write now
        input.close()
        #expect(await self.nextLines(of: input) {} == self.missed("A", 1))
        #expect(await self.nextLines(of: input) {} == nil)
        #expect(input.sweep(now: now) == [2])
    }

    /// The close queues the notices waiting whatever the limit, so they go in the same write as the
    /// lines before them rather than one round later.
    @Test func theCloseQueuesNoticesPastTheLimit() async {
        let input = self.input(limit: 100)
        let filler = Array(repeating: UInt8(ascii: "x"), count: 89) + [10]
        #expect(input.append(filler, id: 1, until: .now() + .seconds(60), room: "B"))
        #expect(!input.appendEvent(self.event("eA-long-line-x"), room: "A", noteIfMissed: true), "90 + 15 bytes")
        input.close()
        #expect(await self.nextLines(of: input) {} == filler + self.missed("A", 1))
        #expect(await self.nextLines(of: input) {} == nil)
    }

    /// A line refused after the notices ahead of it were queued (late lines dropped made room for
    /// them, not for it) still wakes a waiting writer for those notices.
    @Test func aRefusedLineStillWakesTheWriterForTheNoticesQueuedBeforeIt() async {
        let input = self.inputOwingOne(limit: 100, timeout: .seconds(2))
        let now = NIODeadline.now()
        #expect(input.append(Array("1\n".utf8), id: 1, until: now + .seconds(60)))
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))  // the plugin owes one
        let filler = Array(repeating: UInt8(ascii: "x"), count: 89) + [10]
        #expect(input.append(filler, id: 2, until: .now() + .seconds(2)))  // held back by the window
        #expect(!input.appendEvent(self.event("eA-longer"), room: "A", noteIfMissed: true))
        let notice = await self.nextLines(of: input) {
            try? await Task.sleep(for: .milliseconds(1_100))  // the filler is too late to write now
            let big = Array(repeating: UInt8(ascii: "y"), count: 59) + [10]
            #expect(!input.append(big, id: 3, until: now + .seconds(60)), "the notice took the room")
        }
        #expect(notice == self.missed("A", 1))
    }

    /// A line refused though the late lines it dropped freed an event still wakes a waiting writer
    /// for that event.
    @Test func aRefusedLineStillWakesTheWriterForTheEventItsLateDropsFreed() async {
        let input = self.inputOwingOne(limit: 100, timeout: .seconds(2))
        #expect(input.append(Array("1\n".utf8), id: 1, until: .now() + .seconds(60)))
        #expect(await self.nextLines(of: input) {} == self.lines(1...1))  // the plugin owes one
        let held = Array(repeating: UInt8(ascii: "x"), count: 79) + [10]
        #expect(input.append(held, id: 2, until: .now() + .seconds(2), room: "A"))  // held back by the window
        #expect(input.appendEvent(self.event("eA"), room: "A"))  // waits for request 2
        let event = await self.nextLines(of: input) {
            try? await Task.sleep(for: .milliseconds(1_100))  // request 2 is too late to write now
            let big = Array(repeating: UInt8(ascii: "y"), count: 97) + [10]
            #expect(!input.append(big, id: 3, until: .now() + .seconds(60)), "3 + 98 bytes")
        }
        #expect(event == self.event("eA"))
    }

    /// At most ``MissedRoomEvents/maxRooms`` rooms are remembered; the rest are only logged.
    @Test func missedEventsAreRememberedForAtMostTenThousandRooms() {
        var missed = MissedRoomEvents()
        for room in 0...MissedRoomEvents.maxRooms { missed.add("R\(room)") }
        missed.add("R0")
        #expect(!missed.contains("R\(MissedRoomEvents.maxRooms)"))
        let notices = missed.takeNotices(fitting: .max)
        #expect(notices.count == MissedRoomEvents.maxRooms)
        #expect(notices.first?.line == self.missed("R0", 2))
        #expect(missed.isEmpty)
    }

    /// A notice is measured without being written, exactly.
    @Test(arguments: [("ABC123", 1), ("A\"B\\C\u{1}é", 12_345)])
    func aNoticesSizeIsItsLinesLength(room: String, count: Int) {
        #expect(
            MissedRoomEvents.noticeSize(roomID: room, count: count)
                == PluginEvent.missedLine(roomID: room, count: count).count)
    }

    // MARK: A full pipe

    /// An event line of about 1 KB of `room`, numbered `index`.
    private func bigEvent(_ room: String, _ index: Int) -> [UInt8] {
        Array("\(room)\(index) \(String(repeating: "p", count: 1_000))\n".utf8)
    }

    /// Room events go at most a pipe's worth a write, whatever the requests with them took, and
    /// each write starts in the room after the one the last write's budget ran out in: a busy room
    /// does not keep the others waiting.
    @Test func eventsGoAPipesWorthAWriteRoundTheRooms() async {
        let input = self.input(limit: 4 << 20)
        for index in 0..<100 {
            #expect(input.appendEvent(self.bigEvent("A", index), room: "A"))
            #expect(input.appendEvent(self.bigEvent("B", index), room: "B"))
        }
        #expect(
            input.append(Array(String(repeating: "r", count: 70_000).utf8) + [10], id: 1, until: .now() + .seconds(60)))
        let first = await self.nextLines(of: input) {} ?? []
        let eventBytes = first.count - 70_001
        #expect(eventBytes >= PluginInput.eventBytesPerWrite && eventBytes < PluginInput.eventBytesPerWrite + 1_100)
        let events = String(decoding: first.dropFirst(70_001), as: UTF8.self)
        let (busy, other) = events.hasPrefix("A") ? ("A", "B") : ("B", "A")
        #expect(!events.contains("\(other)0 "), "the budget ran out in the first room")
        for index in 100..<200 { #expect(input.appendEvent(self.bigEvent(busy, index), room: busy)) }
        let second = String(decoding: await self.nextLines(of: input) {} ?? [], as: UTF8.self)
        #expect(second.hasPrefix("\(other)0 "), "the other room's turn: \(second.prefix(4))")
        let third = String(decoding: await self.nextLines(of: input) {} ?? [], as: UTF8.self)
        #expect(third.hasPrefix(busy), "then the busy room's again: \(third.prefix(4))")
        input.close()
    }

    /// A stall is reported once the writer has got nothing into the pipe, and no answer came, for
    /// the silence while a request came (queued, or refused: here the queue is full); not for
    /// events alone, nor while pieces go or answers come; once per input.
    @Test func aStallIsReportedOnceAndOnlyWithARequestAsked() async throws {
        let input = self.input(limit: 64)
        #expect(input.appendEvent(self.event("e"), room: "A"))
        let beforeTake = NIODeadline.now()
        let taken = await self.nextLines(of: input) {}
        #expect(taken == self.event("e"), "the writer took it, and writes it for ever")
        let silence = TimeAmount.seconds(1)
        #expect(!input.reportStall(now: beforeTake + .seconds(5), silence: silence, lastAnswer: nil), "events alone")
        // A piece written 0.6 s on: silent for 0.7 s only, 1.3 s after the take, though asked.
        try await Task.sleep(for: .milliseconds(600))
        input.wrotePiece()
        #expect(!input.append(Array(String(repeating: "1", count: 100).utf8), id: 1, until: .now() + .seconds(60)))
        #expect(!input.reportStall(now: beforeTake + .milliseconds(1_300), silence: silence, lastAnswer: nil))
        let lastPiece = NIODeadline.now()
        let later = lastPiece + .seconds(2)
        #expect(
            !input.reportStall(now: later, silence: silence, lastAnswer: later - .milliseconds(500)),
            "it answered within the silence")
        // An answer after the last piece, but a silence ago: it answered late, then read no more.
        #expect(input.reportStall(now: later, silence: silence, lastAnswer: lastPiece + .milliseconds(500)))
        #expect(!input.reportStall(now: later + .seconds(1), silence: silence, lastAnswer: nil), "once")
        input.close()
    }
}

@Suite struct AnswerWindowTests {
    @Test func growsByOneAnswerWhileStartingThenByOneARoundTrip() {
        var window = AnswerWindow(maximumSize: 1024, timeout: .milliseconds(100))
        #expect(window.size == 16)
        window.answeredInTime(unanswered: 3, roundTrip: .milliseconds(1), pace: .milliseconds(1))
        #expect(window.size == 16, "the window was not full")
        window.answeredInTime(unanswered: 16, roundTrip: .milliseconds(90), pace: .milliseconds(90))
        #expect(window.size == 17)
        window.answeredLate(written: 5, newestWritten: 20)
        #expect(window.size == 8.5)
        window.answeredInTime(unanswered: 8, roundTrip: .milliseconds(1), pace: .milliseconds(1))
        #expect(window.size == 8.5 + 1 / 8.5)
    }

    /// A plugin answering in turn slower than half its timeout cannot answer two queued requests
    /// in time: within a halving of the size at which answers last came late, while an answer's
    /// round trip and the plugin's pace leave no room for one more turn, the window grows an
    /// eighth as fast. Further below that size (a stall's halvings, with no answer in time between
    /// them, keep the first), or with room, it grows at full pace.
    @Test func aSlowPluginAnsweringInTurnIsProbedAnEighthAsFast() {
        func near(_ size: Double, _ expected: Double) -> Bool { abs(size - expected) < 1e-9 }
        var window = AnswerWindow(maximumSize: 1024, timeout: .milliseconds(100))
        for order: UInt64 in 16...17 { window.answeredLate(written: order, newestWritten: order) }
        #expect(window.size == 4, "a stall: late at 16")
        window.answeredInTime(unanswered: 4, roundTrip: .milliseconds(90), pace: .milliseconds(20))
        #expect(window.size == 4.25, "more than a halving below 16: full pace, though 90 + 20 ms leave no room")
        for order: UInt64 in 18...19 { window.answeredLate(written: order, newestWritten: order) }
        #expect(window.size == 1.0625, "late at 4.25, then a stall")
        window.answeredInTime(unanswered: 1, roundTrip: .milliseconds(60), pace: .milliseconds(60))
        #expect(near(window.size, 1.0625 + 1 / 1.0625), "more than a halving below 4.25: full pace")
        let lateAt = window.size
        window.answeredLate(written: 20, newestWritten: 20)
        #expect(window.size == lateAt / 2)
        // Near 'lateAt': (answers owed, round trip ms, pace ms) and the growth expected, of 1 / size.
        let answers: [(unanswered: Int, roundTrip: Int64, pace: Int64, growth: Double, why: String)] = [
            (1, 60, 60, 0.125, "no room for a second 60 ms turn: an eighth as fast"),
            (1, 50, 50, 1, "room for a second 50 ms turn: full pace"),
            (2, 70, 31, 0.125, "70 ms, answers 31 ms apart: no room"),
            (2, 70, 30, 1, "70 ms, answers 30 ms apart: room"),
            (2, 40, 5_000, 1, "40 ms after an idle while: room"),
        ]
        for answer in answers {
            let before = window.size
            window.answeredInTime(
                unanswered: answer.unanswered, roundTrip: .milliseconds(answer.roundTrip),
                pace: .milliseconds(answer.pace))
            #expect(near(window.size, before + answer.growth / before), "\(answer.why)")
        }
    }

    @Test func halvesOncePerRoundOfLateAnswersDownToOne() {
        var window = AnswerWindow(maximumSize: 1024, timeout: .milliseconds(100))
        window.answeredLate(written: 1, newestWritten: 16)
        window.answeredLate(written: 16, newestWritten: 20)
        #expect(window.size == 8, "16 was written before the first late answer")
        window.answeredLate(written: 17, newestWritten: 30)
        #expect(window.size == 4)
        for order: UInt64 in 31...40 { window.answeredLate(written: order, newestWritten: order) }
        #expect(window.size == 1)
        #expect(window.room(unanswered: 0) == 1)
        #expect(window.room(unanswered: 3) == 0)
    }

    @Test func neverPastTheRequestsInFlight() {
        var window = AnswerWindow(maximumSize: 18, timeout: .milliseconds(100))
        for _ in 0..<10 {
            window.answeredInTime(unanswered: Int(window.size), roundTrip: .milliseconds(1), pace: .milliseconds(1))
        }
        #expect(window.size == 18)
        #expect(AnswerWindow(maximumSize: 4, timeout: .milliseconds(100)).size == 4)
    }
}

@Suite struct AnswerPaceTests {
    @Test func theMeanGapOverTheLastAnswers() {
        let start = NIODeadline.now()
        var pace = AnswerPace()
        #expect(pace.meanGap(before: start, over: 4) == nil)
        pace.record(start)
        #expect(pace.meanGap(before: start + .milliseconds(30), over: 4) == .milliseconds(30), "fewer than asked: all")
        // Groups of three answers every 60 ms: 20 ms each on average, though 60 go by before a group.
        for group in 1...2 {
            for _ in 0..<3 { pace.record(start + .milliseconds(Int64(60 * group))) }
        }
        #expect(pace.meanGap(before: start + .milliseconds(180), over: 3) == .milliseconds(20))
        #expect(pace.meanGap(before: start + .milliseconds(180), over: 1) == .milliseconds(60))
        #expect(pace.meanGap(before: start + .milliseconds(180), over: 0) == .milliseconds(60), "at least one")
    }

    @Test func aFullRingKeepsTheNewest() {
        let start = NIODeadline.now()
        var pace = AnswerPace()
        for index in 0..<(AnswerPace.capacity + 10) { pace.record(start + .milliseconds(Int64(index))) }
        #expect(pace.count == AnswerPace.capacity)
        let last = start + .milliseconds(Int64(AnswerPace.capacity + 9))
        #expect(pace.meanGap(before: last + .milliseconds(1), over: 1) == .milliseconds(1))
        #expect(pace.meanGap(before: last + .milliseconds(1), over: 10) == .milliseconds(1))
        #expect(pace.meanGap(before: last + .milliseconds(1), over: 1_000) == .milliseconds(1), "the capacity at most")
    }
}

/// Runs its jobs on one dispatch queue, which a test can hold up.
private final class HeldExecutor: TaskExecutor {
    let queue = DispatchQueue(label: "held-executor")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

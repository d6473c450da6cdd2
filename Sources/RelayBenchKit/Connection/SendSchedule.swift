import NIOCore

/// A connection the ``SendSchedule`` sends for.
protocol ScheduledSender: AnyObject {
    /// Sends if `generation` is still current, and returns when the next send is due; nil otherwise.
    /// - Parameter scheduledAt: when the send was due (rounded up to the grid), however late it goes.
    func sendDue(generation: Int, scheduledAt: NIODeadline) -> NIODeadline?
}

/// The `player_state` sends of every connection on one event loop, driven by one timer.
///
/// A timer per connection and send made the bench's own CPU climb with the message rate: each
/// send was a timer-heap insert and removal, a `timerfd_settime` and often a wake-up of its own.
/// Here the loop keeps its senders in due order and one timer, set for the earliest (rounded up
/// to the grid), sends everything that is due when it fires, so a busy loop catches up on all
/// overdue sends at once. Each message carries the time it was due, so that a late loop's delay
/// counts in the latency rather than hiding in it.
final class SendSchedule {
    /// One sender's next send; `generation` tells a stale entry (stopped, or restarted since).
    struct Entry {
        var due: NIODeadline
        let sender: any ScheduledSender
        let generation: Int
    }

    private let eventLoop: any EventLoop
    private let gridNanoseconds: UInt64
    /// In due order (ties in insertion order).
    private var entries = CircularBuffer<Entry>()
    private var timer: Scheduled<Void>?
    private var timerDue: NIODeadline?

    /// - Parameter grid: sends fall due on this grid (zero: each at its own time).
    init(eventLoop: any EventLoop, grid: TimeAmount) {
        self.eventLoop = eventLoop
        self.gridNanoseconds = UInt64(max(0, grid.nanoseconds))
    }

    /// Senders waiting for their next send (stale entries included until they come up).
    var count: Int { self.entries.count }

    /// Schedules `sender`'s next send at `due`.
    func add(_ sender: any ScheduledSender, due: NIODeadline, generation: Int) {
        self.insert(Entry(due: due, sender: sender, generation: generation))
        self.armTimer()
    }

    /// Sends, however late, every send due before `end` (on the grid, and not after now): the
    /// sends a loop running behind has yet to make when a measurement's window ends. Stopped
    /// first, they would be missing from the window (neither sent nor lost, no latency), and they
    /// are its latest, taking the tail's worst samples with them.
    func sendAll(dueBefore end: NIODeadline) {
        let limit = min(end, self.eventLoop.now)
        self.send { $0 < limit }
        self.armTimer()
    }

    private func fire() {
        self.timer = nil
        self.timerDue = nil
        let now = self.eventLoop.now
        self.send { $0 <= now }
        self.armTimer()
    }

    /// Sends for the entries whose time on the grid `isDue`, earliest first.
    private func send(while isDue: (NIODeadline) -> Bool) {
        // Due on the grid: a send due just after a grid step waits for the next one (and is
        // stamped with it), even when a late timer finds its own due time passed.
        while let first = self.entries.first, case let scheduledAt = self.onGrid(first.due), isDue(scheduledAt) {
            self.entries.removeFirst()
            guard let next = first.sender.sendDue(generation: first.generation, scheduledAt: scheduledAt) else {
                continue
            }
            self.insert(Entry(due: next, sender: first.sender, generation: first.generation))
        }
    }

    private func insert(_ entry: Entry) {
        // Every sender advances by the same period, so the one that just sent is almost always last.
        guard let last = self.entries.last, last.due > entry.due else {
            self.entries.append(entry)
            return
        }
        var low = self.entries.startIndex
        var high = self.entries.endIndex
        while low != high {
            let middle = self.entries.index(low, offsetBy: self.entries.distance(from: low, to: high) / 2)
            if self.entries[middle].due <= entry.due {
                low = self.entries.index(after: middle)
            } else {
                high = middle
            }
        }
        self.entries.insert(entry, at: low)
    }

    /// `due` rounded up to the grid.
    private func onGrid(_ due: NIODeadline) -> NIODeadline {
        guard self.gridNanoseconds > 0 else { return due }
        return .uptimeNanoseconds(
            (due.uptimeNanoseconds + self.gridNanoseconds - 1) / self.gridNanoseconds * self.gridNanoseconds)
    }

    /// Sets the timer for the earliest entry, unless it is set for that time or earlier.
    private func armTimer() {
        guard let first = self.entries.first else {
            self.timer?.cancel()
            self.timer = nil
            self.timerDue = nil
            return
        }
        let due = self.onGrid(first.due)
        if let timerDue = self.timerDue, timerDue <= due { return }
        self.timer?.cancel()
        self.timerDue = due
        // Every caller (``BenchSocketHandler``) runs on this loop; checked at run time.
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(deadline: due) { self.fire() }
    }
}

import NIOCore
import Relay

/// The room sockets' age checks (``RelayLimits/outboundQueueAgeLimit``), run by one repeated task
/// of each loop. A task of each connection's own woke an idle server with 4,000 connections
/// 1,600 times a second: 3 % of a core; one task running all of them at once would hold the loop
/// for a `tcp_info` read of every busy socket in one go, every message behind it waiting (the
/// benchmark at 500 rooms could not tell the two apart, its noise being larger). So a loop's
/// checks are spread over ``slices`` buckets, one a tick: each connection's check comes every
/// interval, exactly, from its bucket.
final class MessageAgeChecks: Sendable {
    /// How often each connection is checked: a quarter of the limit.
    let interval: TimeAmount
    /// Ticks an interval, each running one bucket's checks.
    static let slices = 16
    private let loops = PerEventLoop<LoopChecks>()

    /// Checks every `limit / OutboundQueue.ageChecksPerLimit`; nil for no limit.
    init?(limit: Duration) {
        guard limit > .zero else { return nil }
        self.interval = TimeAmount(limit / OutboundQueue.ageChecksPerLimit)
    }

    /// Runs `check` once an interval on `eventLoop` until the registration is cancelled. Call
    /// both on `eventLoop`.
    func register(on eventLoop: any EventLoop, _ check: @escaping () -> Void) -> Registration {
        let loop = self.loops.value(of: eventLoop) { LoopChecks() }
        let tick = TimeAmount.nanoseconds(max(1, self.interval.nanoseconds / Int64(Self.slices)))
        return Registration(loop: loop, key: loop.value.add(check, every: tick, on: eventLoop))
    }

    /// One connection's checks, until cancelled.
    struct Registration {
        fileprivate let loop: NIOLoopBound<LoopChecks>
        fileprivate let key: LoopChecks.Key

        func cancel() { self.loop.value.remove(self.key) }
    }
}

/// One loop's checks in their buckets, and its repeated task while it has some.
private final class LoopChecks {
    typealias Key = (bucket: Int, id: Int)
    private var buckets = [[Int: () -> Void]](repeating: [:], count: MessageAgeChecks.slices)
    private var count = 0
    private var nextID = 0
    /// The bucket the next tick runs.
    private var due = 0
    private var task: RepeatedTask?

    func add(_ check: @escaping () -> Void, every tick: TimeAmount, on eventLoop: any EventLoop) -> Key {
        defer { self.nextID += 1 }
        let key = (bucket: self.nextID % self.buckets.count, id: self.nextID)
        self.buckets[key.bucket][key.id] = check
        self.count += 1
        if self.task == nil {
            let checks = NIOLoopBound(self, eventLoop: eventLoop)
            self.task = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in checks.value.runDue() }
        }
        return key
    }

    func remove(_ key: Key) {
        guard self.buckets[key.bucket].removeValue(forKey: key.id) != nil else { return }
        self.count -= 1
        guard self.count == 0 else { return }
        self.task?.cancel()  // an idle loop wakes for nothing
        self.task = nil
    }

    private func runDue() {
        let bucket = self.buckets[self.due]
        self.due = (self.due + 1) % self.buckets.count
        for check in bucket.values { check() }
    }
}

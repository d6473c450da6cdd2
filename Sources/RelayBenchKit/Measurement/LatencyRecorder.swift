import Histogram
import NIOCore
import Synchronization

/// Microseconds on the monotonic clock: the due time carried in each message and the
/// receive time it is compared with (both taken in this process).
enum BenchClock {
    static func micros() -> Int64 {
        Self.micros(at: .now())
    }

    static func micros(at deadline: NIODeadline) -> Int64 {
        Int64(deadline.uptimeNanoseconds / 1_000)
    }
}

/// Broadcast latencies (HDR histogram, microseconds) and message counts of one measurement
/// window. Only messages due within the window count, so late arrivals from an earlier window
/// or from set-up never pollute it, nor sends due after its end that a loop running behind made
/// before it stopped (``closeWindow(at:)``).
///
/// Each latency runs from when its message was due to its receipt, one sample per delivery. The
/// senders keep a fixed rate whatever the server does (an open loop), so a stall's delayed
/// messages are all measured as they arrive: no coordinated-omission correction is applied, as
/// its made-up samples would count the stall twice (it is for a closed loop, where a slow answer
/// holds back the next request). How late the bench's own sends went out is kept apart, to tell a
/// bench that fell behind from a slow server.
final class LatencyRecorder: Sendable {
    private struct State {
        var histogram = LatencyRecorder.emptyHistogram()
        var sendLag = LatencyRecorder.emptyHistogram()
        var windowStart = Int64.max
        /// Messages due from here on are past the window.
        var windowEnd = Int64.max
        var sent = 0
        var expected = 0
        var delivered = 0
        var repeated = 0
        var outOfOrder = 0
        var beyondRange = 0
        var echoed = 0
        var misrouted = 0
        var mislabelled = 0
        var unreadable = 0
        var unsampled = 0
        var relaysReceived = 0
        var closedWhileSending = 0
        var firstCloseCode: UInt16?

        /// Whether a message due at `dueAt` is the window's.
        func counts(_ dueAt: Int64) -> Bool { dueAt >= self.windowStart && dueAt < self.windowEnd }
    }

    private let state = Mutex(State())

    init() {}

    /// Forgets everything and counts messages due from now on (``BenchClock/micros()``), read under
    /// the lock: a send due after a start read before it, and recorded before the window opened,
    /// would be forgotten while its delivery counted (senders run during a warm-up). Returns the start.
    @discardableResult
    func openWindow() -> Int64 {
        self.state.withLock { state in
            let start = BenchClock.micros()
            state = State(windowStart: start)
            return start
        }
    }

    /// Forgets everything and counts messages due from `start` on.
    func openWindow(at start: Int64) {
        self.state.withLock { $0 = State(windowStart: start) }
    }

    /// Counts no message due from `end` on: the window is the same length, by due time, however
    /// late the senders stop (``SendSchedule/sendAll(dueBefore:)`` makes those due before it).
    func closeWindow(at end: Int64) {
        self.state.withLock { $0.windowEnd = end }
    }

    /// One state message, due at `dueAt` and written at `sentAt`, that `recipients` room-mates
    /// should receive.
    func recordSend(dueAt: Int64, sentAt: Int64, recipients: Int) {
        let lag = UInt64(max(0, sentAt - dueAt))
        self.state.withLock { state in
            guard state.counts(dueAt) else { return }
            state.sent += 1
            state.expected += recipients
            _ = state.sendLag.record(lag)
        }
    }

    /// One matching state relay (`player_state_update`, `enemy_state_update`) of a message due at
    /// `dueAt`, received at `receivedAt`. A repeat (its receiver had it already) is counted, with no
    /// latency sample; one out of order is a delivery like any other, counted apart too.
    func recordDelivery(dueAt: Int64, receivedAt: Int64, arrival: StreamSequences.Arrival = .new) {
        let latency = UInt64(max(1, receivedAt - dueAt))
        self.state.withLock { state in
            if arrival != .repeated { state.relaysReceived += 1 }
            guard state.counts(dueAt) else { return }
            state.delivered += 1
            switch arrival {
            case .repeated:
                state.repeated += 1
                return
            case .outOfOrder: state.outOfOrder += 1
            case .new: break
            }
            // Past a minute: kept as a minute, and counted, rather than left out. Checked here: the
            // histogram takes values up to the top of its last bucket (~67.1 s), not just its
            // highest trackable value.
            if latency > Self.highestLatency || !state.histogram.record(latency) {
                state.beyondRange += 1
                _ = state.histogram.record(Self.highestLatency)
            }
        }
    }

    /// A relay of a message due at `dueAt` that came back to its own sender: not a delivery (a
    /// server that echoed to the sender what it owed a room-mate would otherwise show no loss).
    func recordEcho(dueAt: Int64) {
        self.state.withLock { state in
            guard state.counts(dueAt) else { return }
            state.echoed += 1
        }
    }

    /// A relay of a message due at `dueAt` to a player whose deliveries are not measured (one the
    /// slow-consumer scenario will stall, while it still reads): no latency sample, but work the
    /// server did, counted for its CPU per delivery.
    func recordUnsampledRelay(dueAt: Int64) {
        self.state.withLock { state in
            state.relaysReceived += 1
            guard state.counts(dueAt) else { return }
            state.unsampled += 1
        }
    }

    /// A relay of a message due at `dueAt` sent in another room: not a delivery (a server that sent
    /// it there instead of to a room-mate would otherwise show no loss).
    func recordMisrouted(dueAt: Int64) {
        self.state.withLock { state in
            guard state.counts(dueAt) else { return }
            state.misrouted += 1
        }
    }

    /// A room-mate's relay of a message due at `dueAt` labelled with the receiver's own
    /// `player_id`: not a delivery (the game would move its own player, not the room-mate).
    func recordMislabelled(dueAt: Int64) {
        self.state.withLock { state in
            guard state.counts(dueAt) else { return }
            state.mislabelled += 1
        }
    }

    /// A state relay whose stamp (`t`, an integer of microseconds in the past) could not be read:
    /// counted apart, not guessed at (a server that wrote the number another way, say `7.1E10`).
    func recordUnreadableStamp() {
        self.state.withLock { state in
            guard state.windowStart != .max else { return }
            state.unreadable += 1
        }
    }

    /// A connection that the server closed (`code`, if it sent one) while it was sending in the
    /// window: its sends stopped there, so the load measured was lighter than asked.
    func recordClosedWhileSending(code: UInt16?) {
        self.state.withLock { state in
            guard state.windowStart != .max else { return }
            state.closedWhileSending += 1
            if state.firstCloseCode == nil { state.firstCloseCode = code }
        }
    }

    /// Messages expected, and delivered once, so far (cheaper than a snapshot: no percentiles).
    func counts() -> (expected: Int, delivered: Int) {
        self.state.withLock { ($0.expected, $0.delivered - $0.repeated) }
    }

    /// A consistent copy of the window so far.
    ///
    /// Only the copy is made under the lock; the percentiles are read from it outside. Reading
    /// them walks the whole histogram (~3 ms here), and meanwhile every delivery the bench's
    /// loops record would wait: once a second that stalled the receiving and showed up in p99.
    ///
    /// `inFlight` true: for a look while messages still fly, whose percentiles are of the
    /// deliveries so far (what has not come yet is not lost).
    func snapshot(inFlight: Bool = false) -> LatencySnapshot {
        let state = self.state.withLock { $0 }
        var snapshot = LatencySnapshot(
            histogram: state.histogram, sendLag: state.sendLag, sent: state.sent, expected: state.expected,
            delivered: state.delivered, repeated: state.repeated, outOfOrder: state.outOfOrder,
            rankingTheLost: !inFlight)
        snapshot.beyondRange = state.beyondRange
        snapshot.echoed = state.echoed
        snapshot.misrouted = state.misrouted
        snapshot.mislabelled = state.mislabelled
        snapshot.unreadable = state.unreadable
        snapshot.unsampled = state.unsampled
        snapshot.relaysReceived = state.relaysReceived
        snapshot.closedWhileSending = state.closedWhileSending
        snapshot.firstCloseCode = state.firstCloseCode
        return snapshot
    }

    /// The largest latency the histogram holds, µs (a minute); larger ones are recorded as this.
    static let highestLatency: UInt64 = 60_000_000

    fileprivate static func emptyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: Self.highestLatency, numberOfSignificantValueDigits: .three)
    }
}

/// Counts and latency percentiles (microseconds) of one window.
struct LatencySnapshot: Sendable, Encodable, Equatable {
    var sent, expected, delivered: Int
    /// Deliveries of a message their receiver had already.
    var repeated: Int
    /// First deliveries that came after a later message of their sender's.
    var outOfOrder: Int
    /// Deliveries later than ``LatencyRecorder/highestLatency``, recorded as that.
    var beyondRange = 0
    /// Relays that came back to their own sender (not counted as deliveries).
    var echoed = 0
    /// Relays of messages sent in another room (not counted as deliveries).
    var misrouted = 0
    /// Room-mates' relays labelled with the receiver's own `player_id` (not counted as deliveries).
    var mislabelled = 0
    /// State relays whose stamp could not be read (not counted as deliveries).
    var unreadable = 0
    /// Relays to players whose deliveries are not measured (``LatencyRecorder/recordUnsampledRelay(dueAt:)``).
    var unsampled = 0
    /// Relays received since the window opened, repeats aside, whenever their messages fell due:
    /// also a warm-up's backlog, which the server works off on the window's CPU.
    var relaysReceived = 0
    /// Connections the server closed while they were sending in the window.
    var closedWhileSending = 0
    /// The close code of the first of them, if it sent one.
    var firstCloseCode: UInt16?
    var p50, p90, p99, p999, max: UInt64
    var mean: Double
    /// How late the bench wrote its sends after they were due (part of every latency above).
    var sendLagP99, sendLagMax: UInt64

    /// A percentile (or the max) that falls among the messages lost: it is past the drain, by how
    /// much is not known. Printed `lost`, written as JSON `null`.
    static let pastTheDrain = UInt64.max

    /// Expected deliveries that did not arrive (a repeat does not make up for one).
    var lost: Int { Swift.max(0, self.expected - (self.delivered - self.repeated)) }

    /// Deliveries beyond those expected, repeats aside: a room-mate's messages relayed more often
    /// than to each other member once (each can hide a loss, since those are counted, not matched
    /// by recipient; relays from another room are ``misrouted``, not deliveries).
    var unexpected: Int { Swift.max(0, self.delivered - self.repeated - self.expected) }

    init(
        histogram: Histogram<UInt64>, sendLag: Histogram<UInt64>, sent: Int, expected: Int, delivered: Int,
        repeated: Int = 0, outOfOrder: Int = 0, rankingTheLost: Bool = true
    ) {
        self.sent = sent
        self.expected = expected
        self.delivered = delivered
        self.repeated = repeated
        self.outOfOrder = outOfOrder
        // A message lost counts as later than every delivery (it had not come by the drain's end):
        // a percentile among the lost is not known, only that it is past the drain.
        let lost = rankingTheLost ? Swift.max(0, expected - (delivered - repeated)) : 0
        let samples = histogram.totalCount
        func percentile(_ percent: Double) -> UInt64 {
            guard samples > 0 else { return lost > 0 ? Self.pastTheDrain : 0 }
            guard lost > 0 else { return histogram.valueAtPercentile(percent) }
            // The sample of that rank among all expected, counted as HdrHistogram counts it.
            let rank = Swift.max(1, Int((percent.nextDown / 100 * Double(samples + UInt64(lost))).rounded(.up)))
            guard rank <= samples else { return Self.pastTheDrain }
            return histogram.valueAtPercentile(100 * Double(rank) / Double(samples))
        }
        self.p50 = percentile(50)
        self.p90 = percentile(90)
        self.p99 = percentile(99)
        self.p999 = percentile(99.9)
        self.max = lost > 0 ? Self.pastTheDrain : samples == 0 ? 0 : histogram.max
        self.mean = samples == 0 ? 0 : histogram.mean
        let noSends = sendLag.totalCount == 0
        self.sendLagP99 = noSends ? 0 : sendLag.valueAtPercentile(99)
        self.sendLagMax = noSends ? 0 : sendLag.max
    }

    private enum CodingKeys: String, CodingKey {
        case sent, expected, delivered, repeated, outOfOrder, lost, unexpected, beyondRange, echoed, misrouted,
            mislabelled, unreadable, unsampled, relaysReceived,
            closedWhileSending, firstCloseCode, p50, p90, p99, p999, max, mean, sendLagP99, sendLagMax
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.sent, forKey: .sent)
        try container.encode(self.expected, forKey: .expected)
        try container.encode(self.delivered, forKey: .delivered)
        try container.encode(self.repeated, forKey: .repeated)
        try container.encode(self.outOfOrder, forKey: .outOfOrder)
        try container.encode(self.lost, forKey: .lost)
        try container.encode(self.unexpected, forKey: .unexpected)
        try container.encode(self.beyondRange, forKey: .beyondRange)
        try container.encode(self.echoed, forKey: .echoed)
        try container.encode(self.misrouted, forKey: .misrouted)
        try container.encode(self.mislabelled, forKey: .mislabelled)
        try container.encode(self.unreadable, forKey: .unreadable)
        try container.encode(self.unsampled, forKey: .unsampled)
        try container.encode(self.relaysReceived, forKey: .relaysReceived)
        try container.encode(self.closedWhileSending, forKey: .closedWhileSending)
        try container.encodeIfPresent(self.firstCloseCode, forKey: .firstCloseCode)
        for (value, key) in [
            (self.p50, .p50), (self.p90, .p90), (self.p99, .p99), (self.p999, .p999), (self.max, .max),
        ]
            as [(UInt64, CodingKeys)]
        {
            if value == Self.pastTheDrain {
                try container.encodeNil(forKey: key)
            } else {
                try container.encode(value, forKey: key)
            }
        }
        try container.encode(self.mean, forKey: .mean)
        try container.encode(self.sendLagP99, forKey: .sendLagP99)
        try container.encode(self.sendLagMax, forKey: .sendLagMax)
    }
}

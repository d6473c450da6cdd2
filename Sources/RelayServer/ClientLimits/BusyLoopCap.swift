import Relay

/// How much each room socket on an event loop may read a second while the loop falls behind:
/// nothing more than its own budgets while the loop keeps up; while it does not, a cap that
/// halves until the loop catches up, and then grows back slowly.
///
/// Each connection's budgets (``RelayLimits/inboundBytesPerSecond``, the message budgets) bound
/// what one client costs, and ``InboundBytesPerAddress`` what one address costs; but 32 clients of
/// 32 addresses, each within its budgets, took the whole core, and every other room's messages
/// waited 26–40 ms at the median. A cap on every connection slows only those that send more than it:
/// a player sends ~25 KB a second by this count, a flooder its whole budget, 2 MiB. So the loop's
/// time goes first to those who ask for little, and the heaviest are slowed until it catches up.
///
/// The loop is sampled every ``sampleInterval`` (``BusyLoop``): a sample read ``lateness`` or more
/// after it was sent, while the loop's thread ran at least ``busyShare`` of the time, says the
/// loop is behind with work of its own. Late while its thread hardly ran, the loop was held up by
/// something else, which slowing its clients would not end: a machine or VM that stalled, other
/// processes that had the cores. (A quarter: on a machine that other processes keep busy, a loop
/// flooded by its clients runs less than half the time, and is still behind with work it can cut.)
/// ``lateSamplesToCut`` such samples in a row (not one: a busy machine stalls a loop now and then,
/// and a flood keeps it late) start a cap at half a connection's own budget, or halve the cap,
/// never below the floor. Once ``quietPeriod`` passes with no cut, the cap grows by ``growth``, and
/// is lifted when it no longer bounds anyone.
struct BusyLoopCap {
    /// How often the loop is sampled.
    static let sampleInterval = Duration.milliseconds(10)
    /// A sample this late says the loop is behind: what another room's message waits then.
    static let lateness = Duration.milliseconds(4)
    /// Of a late sample's wait, what the loop's thread must have run for it to count.
    static let busyShare = 0.25
    /// Late samples in a row that cut the cap.
    static let lateSamplesToCut = 2
    /// Time without a cut before the cap grows.
    static let quietPeriod = Duration.seconds(1)
    /// What the cap grows by after each quiet period: from its start (half a connection's own
    /// budget) to lifted in ~7 s, from the 64 KiB floor in ~36 s, so that a flood held back comes
    /// back slowly, and is caught again before it has the whole loop.
    static let growth = 1.1

    /// A change worth logging.
    enum Change: Equatable {
        /// The loop fell behind: connections are capped at this many bytes a second.
        case started(bytesPerSecond: Double)
        /// Still behind: the cap is now this.
        case cut(bytesPerSecond: Double)
        /// The cap grew past every connection's own budget and is lifted.
        case lifted
    }

    /// The least the cap goes down to, bytes a second (``RelayLimits/busyLoopInboundBytesPerSecond``).
    let floor: Double
    /// A connection's own budget (``RelayLimits/inboundBytesPerSecond``): a cap above it bounds no one.
    let ceiling: Double
    /// Bytes a second each connection may read now; nil while the loop keeps up.
    private(set) var bytesPerSecond: Double?
    /// Counts the caps started, so that a connection starts each with a full share (``LoopShareMeter``).
    private(set) var epoch = 0
    private var lateInARow = 0
    private var lastChange: ContinuousClock.Instant?

    /// A cap going no lower than `floor` for connections whose own budget is `ceiling`; a floor of
    /// 0 never caps, nor does one at or above the ceiling, which could slow no one (it would be
    /// started, logged as slowing connections, and lifted, over and over).
    init(floor: Double, ceiling: Double) {
        self.floor = floor
        self.ceiling = ceiling
    }

    /// The cap `limits` set: from ``RelayLimits/busyLoopInboundBytesPerSecond`` down, for
    /// connections whose own budget is ``RelayLimits/inboundBytesPerSecond``.
    init(limits: RelayLimits) {
        self.init(
            floor: Double(max(0, limits.busyLoopInboundBytesPerSecond)), ceiling: Double(limits.inboundBytesPerSecond))
    }

    /// Whether the cap can ever start: not with a floor of 0, nor at or above the ceiling.
    var canStart: Bool { self.floor > 0 && self.floor < self.ceiling }

    /// Takes a sample read `lateness` after it was sent, while the loop's thread ran `busyShare`
    /// of the time.
    mutating func record(lateness: Duration, busyShare: Double, now: ContinuousClock.Instant) -> Change? {
        guard self.canStart else { return nil }
        guard lateness >= Self.lateness, busyShare >= Self.busyShare else {
            self.lateInARow = 0
            return self.growIfQuiet(now: now)
        }
        self.lateInARow += 1
        guard self.lateInARow >= Self.lateSamplesToCut else { return nil }
        self.lateInARow = 0
        self.lastChange = now
        if let current = self.bytesPerSecond {
            let cut = max(self.floor, current / 2)
            guard cut < current else { return nil }  // at the floor already
            self.bytesPerSecond = cut
            return .cut(bytesPerSecond: cut)
        }
        let start = max(self.floor, self.ceiling / 2)
        self.bytesPerSecond = start
        self.epoch += 1
        return .started(bytesPerSecond: start)
    }

    /// Lifts the cap at once (the loop is no longer measured): true if there was one.
    mutating func lift() -> Bool {
        self.lateInARow = 0
        guard self.bytesPerSecond != nil else { return false }
        self.bytesPerSecond = nil
        return true
    }

    private mutating func growIfQuiet(now: ContinuousClock.Instant) -> Change? {
        guard let current = self.bytesPerSecond, let last = self.lastChange, now - last >= Self.quietPeriod else {
            return nil
        }
        self.lastChange = now
        let grown = current * Self.growth
        guard grown < self.ceiling else {
            self.bytesPerSecond = nil
            return .lifted
        }
        self.bytesPerSecond = grown
        return nil
    }
}

/// What one connection has read against its loop's cap (``BusyLoopCap``): a token bucket whose
/// rate is the cap of the moment, full as each cap starts, holding a quarter second's worth.
///
/// Each connection's work counts a random weight of 1–1.5, drawn as each cap starts: connections
/// that went into debt together (32 clients each sending a message of 8,000 values as a flood
/// starts, ~9 s of debt at the floor) would otherwise all be out of it at the same instant, and
/// the loop would decode their next messages back to back (~30 at once, 0.15 s).
struct LoopShareMeter {
    private var tokens = 0.0
    private var last: ContinuousClock.Instant?
    private var epoch = 0
    private var weight = 1.0
    private let weights: ClosedRange<Double>

    init(weights: ClosedRange<Double> = 1...1.5) {
        self.weights = weights
    }

    /// Charges work already read under the cap `bytesPerSecond` of cap number `epoch`.
    mutating func spend(_ bytes: Double, bytesPerSecond: Double, epoch: Int, now: ContinuousClock.Instant = .now) {
        self.refill(bytesPerSecond: bytesPerSecond, epoch: epoch, now: now)
        self.tokens -= bytes * self.weight
    }

    /// Seconds until the connection is within the cap again: zero when it is.
    mutating func secondsUntilOutOfDebt(
        bytesPerSecond: Double, epoch: Int, now: ContinuousClock.Instant = .now
    ) -> Double {
        self.refill(bytesPerSecond: bytesPerSecond, epoch: epoch, now: now)
        return self.tokens < 0 ? -self.tokens / bytesPerSecond : 0
    }

    private mutating func refill(bytesPerSecond: Double, epoch: Int, now: ContinuousClock.Instant) {
        let burst = bytesPerSecond / 4
        guard epoch == self.epoch, let last = self.last else {
            // A new cap: what the connection read before it was not capped.
            (self.epoch, self.tokens, self.last) = (epoch, burst, now)
            self.weight = Double.random(in: self.weights)
            return
        }
        let elapsed = now - last
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        self.last = now
        self.tokens = min(burst, self.tokens + seconds * bytesPerSecond)
    }
}

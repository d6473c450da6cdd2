import Logging
import NIOCore
import Relay

/// What a room socket's reads cost, and who pays: the connection's own byte budget, the budget of
/// its client address, and its part of its loop's cap while the loop falls behind; and its rank
/// for large messages' turns on its loop (``HeavyMessagePacer``). ``RoomSocketHandler`` charges
/// each read and each message's decoded values here, and pauses reading for as long as
/// ``readPause(includingOwnDebt:logger:)`` says. Used only on the connection's loop.
struct InboundCharges {
    /// Every byte the client sends, counted as it is read, and the values of the messages the
    /// reader decodes (``chargeDecoding(bytes:)``). Past ``RelayLimits/inboundBytesPerSecond``
    /// (after its burst) reading pauses until the debt is repaid: TCP holds the rest back in the
    /// client, so however much it sends, the loop reads, parses and sheds no more than that.
    private var ownBytes: TokenBucket
    /// The budget this connection shares with the others of its client address, charged as
    /// ``ownBytes`` is and ``RelayLimits/bytesChargedPerFrame`` more a frame; nil when the
    /// address is not counted. Given back once the connection has ended and its reader has decoded
    /// its last message, whichever comes last: until then the address keeps its entry, so what is
    /// read to be discarded after a failure, and the values decoded after the end, are charged to it.
    private var addressBudget: InboundBytesPerAddress.Share?
    /// The connection has ended (``ended()``): it reads no more.
    private var hasEnded = false
    /// The reader has decoded its last message (``readerFinished()``).
    private var readerHasFinished = false
    /// The connection's loop, whose cap (``BusyLoopCap``) it is held to while the loop falls
    /// behind, counted in ``loopShare``; nil once the connection has ended.
    private var busyLoop: BusyLoop?
    private var loopShare = LoopShareMeter()
    /// Where the loop's large messages wait for their turns (``HeavyMessagePacer``); nil if nothing
    /// is paced there. Kept past the connection's end: the reader still handles what it was
    /// handed, and 32 flooders hanging up together would otherwise have their queued large
    /// messages decoded back to back.
    private let turns: HeavyMessageTurns?
    /// The connection's rank for its next large message's turn: when it opened, moved on by each
    /// turn it had.
    private var heavyMessageRank = NIODeadline.now()
    /// The time every budget above is read at.
    private let clock: BudgetClock

    init(
        limits: RelayLimits, addressBudget: InboundBytesPerAddress.Share?, busyLoop: BusyLoop?,
        clock: BudgetClock = .system
    ) {
        self.addressBudget = addressBudget
        self.busyLoop = busyLoop
        self.turns = busyLoop?.heavyMessageTurns
        self.clock = clock
        let byteBurst = max(limits.inboundByteBurst, limits.maxFrameBytes)  // the largest message fits
        // At least a byte a second: at zero, a debt would take for ever to repay.
        let byteRate = Double(max(1, limits.inboundBytesPerSecond))
        self.ownBytes = TokenBucket(rate: byteRate, burst: Double(byteBurst), now: clock.now())
    }

    /// The connection opened on its loop.
    func opened() {
        self.busyLoop?.socketOpened()
    }

    /// The connection ended: its loop counts it no more. Its large messages still take turns, and
    /// its address is still charged for what the reader decodes.
    mutating func ended() {
        self.hasEnded = true
        self.busyLoop?.socketClosed()
        self.busyLoop = nil
        self.giveBackAddressBudgetIfDone()
    }

    /// The reader has decoded its last message.
    mutating func readerFinished() {
        self.readerHasFinished = true
        self.giveBackAddressBudgetIfDone()
    }

    /// Gives the address's budget back once nothing more can be charged to it.
    private mutating func giveBackAddressBudgetIfDone() {
        guard self.hasEnded, self.readerHasFinished else { return }
        self.addressBudget?.release(now: self.clock.now())
        self.addressBudget = nil
    }

    /// Charges `bytes` read, in `frames` frames: to the connection's own budget, and with
    /// ``RelayLimits/bytesChargedPerFrame`` more a frame to the shared ones. The own budget is
    /// charged that much more for each of `framesBesideMessages` (control frames, fragments but
    /// a message's last): no message budget pays for them, and a read of 6-byte pongs was
    /// ~350,000 frames a second for bytes alone, ~80 ms of the loop's second.
    mutating func chargeRead(_ bytes: Int, frames: Int = 0, framesBesideMessages: Int = 0) {
        let now = self.clock.now()
        self.ownBytes.spend(Double(bytes + framesBesideMessages * RelayLimits.bytesChargedPerFrame), now: now)
        self.chargeShared(Double(bytes + frames * RelayLimits.bytesChargedPerFrame), now: now)
    }

    /// Charges the work of decoding a message, counted in bytes
    /// (``RelayLimits/bytesCharged(forDecodedValues:)``), to every budget.
    mutating func chargeDecoding(bytes: Int) {
        let now = self.clock.now()
        self.ownBytes.spend(Double(bytes), now: now)
        self.chargeShared(Double(bytes), now: now)
    }

    /// Whether the connection's address is in debt: what the connection reads waits.
    var isAddressInDebt: Bool {
        guard !self.hasEnded else { return false }  // it reads no more
        return self.addressBudget.map { $0.timeUntilOutOfDebt(now: self.clock.now()) > .zero } == true
    }

    /// Whether the connection has read past its own share: its byte budget, or its part of its
    /// loop's cap while there is one.
    mutating func isPastOwnShare() -> Bool {
        let now = self.clock.now()
        return self.ownBytes.timeUntilOutOfDebt(now: now) > .zero || self.secondsPastLoopShare(now: now) > 0
    }

    /// How long reading pauses until the bytes read so far are paid for, by this connection, by
    /// its address and under its busy loop's cap; zero if they are. `ownDebt` false leaves the
    /// connection's own budget out: a pause timed for its debt ends when it is repaid.
    mutating func readPause(includingOwnDebt ownDebt: Bool, logger: Logger) -> Duration {
        let now = self.clock.now()
        let ownWait = ownDebt ? self.ownBytes.timeUntilOutOfDebt(now: now) : .zero
        let addressWait = self.addressBudget?.timeUntilOutOfDebt(now: now) ?? .zero
        // Looked at again at least every quiet period (the pause's end does): a debt under the
        // floor may take a minute to repay (a message of many values costs up to 2 MiB), and
        // meanwhile the cap grows, or is lifted.
        let loopWait = min(Duration.seconds(self.secondsPastLoopShare(now: now)), BusyLoopCap.quietPeriod)
        guard max(addressWait, loopWait) > ownWait else { return ownWait }
        if addressWait > loopWait { self.addressBudget?.logHeldBack(logger: logger) }
        // Connections paused together by a shared budget (their address's, their loop's cap)
        // would all read again at the same moment, and the loop would take their reads' work
        // at once: each waits up to half as long again, so they come back one at a time.
        return max(addressWait, loopWait) * Double.random(in: 1...1.5)
    }

    /// Whether a message of `bytes` takes turns with the other large ones on the connection's loop
    /// (``HeavyMessagePacer``): it waits for its turn in ``heavyMessageTurns`` before it is
    /// decoded, and ``heavyMessageHandled(_:)`` tells when it was handled.
    func isPaced(_ bytes: Int) -> Bool {
        bytes > HeavyMessagePacer.heavyBytes && self.turns != nil
    }

    /// Where the connection's large messages wait for their turns, and its rank there; nil if
    /// nothing is paced on its loop.
    var heavyMessageTurns: (turns: HeavyMessageTurns, rank: NIODeadline)? {
        self.turns.map { ($0, self.heavyMessageRank) }
    }

    /// The large message of `turn` has been handled.
    mutating func heavyMessageHandled(_ turn: HeavyMessagePacer.Turn) {
        if let rank = self.turns?.handled(turn) { self.heavyMessageRank = rank }
    }

    /// Charges work read to the budgets beyond the connection's own: its address's, and its
    /// loop's cap while the loop is behind.
    private mutating func chargeShared(_ bytes: Double, now: ContinuousClock.Instant) {
        self.addressBudget?.spend(bytes, now: now)
        if let cap = self.busyLoop?.connectionCap {
            self.loopShare.spend(bytes, bytesPerSecond: cap.bytesPerSecond, epoch: cap.epoch, now: now)
        }
    }

    /// Seconds until the connection is within its part of its loop's cap: 0 while there is none.
    private mutating func secondsPastLoopShare(now: ContinuousClock.Instant) -> Double {
        guard let cap = self.busyLoop?.connectionCap else { return 0 }
        return self.loopShare.secondsUntilOutOfDebt(bytesPerSecond: cap.bytesPerSecond, epoch: cap.epoch, now: now)
    }
}

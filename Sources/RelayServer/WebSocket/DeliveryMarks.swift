import Relay

/// Whether a room socket's client is behind on what its kernel was handed: at each age check,
/// the bytes handed over so far (``KernelSendQueue/bytesHandedOver``); a byte handed over before
/// the check ``OutboundQueue/ageChecksPerLimit`` checks ago and not yet acknowledged has waited
/// the age limit at least. What waits in the server's queue is checked there
/// (``OutboundQueue/overflowIfAFrameWaitedTooLong()``): together they see a client that stopped
/// reading in a quiet room, whose messages fit in the kernel's buffers and never reach the queue.
///
/// An idle connection costs no question to the kernel: a check after one that found everything
/// acknowledged, with no frame queued since, records the same mark without asking (the
/// server's pings are not counted: the ping's own timeout watches those).
struct DeliveryMarks {
    private var handed = AgeMarks<UInt64>()
    /// The frames queued so far at the last check, if the kernel then had nothing unacknowledged.
    private var settledAt: Int?

    /// Records a check without asking the kernel, if none is needed: the last check found
    /// everything acknowledged, and no frame was queued since (`framesQueuedSoFar` unchanged).
    mutating func recordIfSettled(framesQueuedSoFar queued: Int) -> Bool {
        guard self.settledAt == queued else { return false }
        _ = self.handed.record(self.handed.latest)
        return true
    }

    /// Records a check: whether the client has yet to acknowledge a byte handed over four checks
    /// ago. `framesQueuedSoFar`: the connection's count when the kernel was asked.
    mutating func isBehind(handedOver: UInt64, acknowledged: UInt64, framesQueuedSoFar queued: Int = 0) -> Bool {
        self.settledAt = acknowledged >= handedOver ? queued : nil
        return acknowledged < self.handed.record(handedOver)
    }
}

import Relay

/// Whether a room socket's client is behind on what its kernel was handed: at each age check,
/// the bytes handed over so far (``KernelSendQueue/bytesHandedOver``); a byte handed over before
/// the check ``OutboundQueue/ageChecksPerLimit`` checks ago and not yet acknowledged has waited
/// the age limit at least. What waits in the server's queue is checked there
/// (``OutboundQueue/overflowIfAFrameWaitedTooLong()``): together they see a client that stopped
/// reading in a quiet room, whose messages fit in the kernel's buffers and never reach the queue.
struct DeliveryMarks {
    private var handed = InlineArray<4, UInt64>(repeating: 0)
    private var oldest = 0

    init() {
        precondition(self.handed.count == OutboundQueue.ageChecksPerLimit, "one mark a check of the limit")
    }

    /// Records a check: whether the client has yet to acknowledge a byte handed over four checks ago.
    mutating func isBehind(handedOver: UInt64, acknowledged: UInt64) -> Bool {
        let handedByThen = self.handed[self.oldest]
        self.handed[self.oldest] = handedOver
        self.oldest = (self.oldest + 1) % self.handed.count
        return acknowledged < handedByThen
    }
}

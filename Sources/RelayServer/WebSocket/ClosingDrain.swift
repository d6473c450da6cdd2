import NIOCore

/// How long a connection the server closes through its queue (``PlayerConnection/close(code:)``:
/// 1001 at a stop, 1008, 4000, 4001) may take to let out what was queued before its close frame,
/// and the close frame itself.
///
/// The writer sends the queue first, then the close frame; a client still reading a backlog is
/// given the time to take it, and the close frame after it, rather than hung up mid-way (1006).
/// One that takes nothing for a whole grace period has stopped reading and is hung up, as is one
/// still draining at the limit (``RelayLimits/closeDrainLimit``). Checked once per grace period;
/// once the close frame has been written to the socket, ``CloseFrameDelivery`` takes over.
struct ClosingDrain {
    private let startedAt: NIODeadline
    private let limit: TimeAmount
    /// The channel became writable since the last check: the client took bytes.
    private var tookBytes = false
    /// The channel's unsent bytes at the last check.
    private var lastBufferedBytes: Int?

    init(startedAt: NIODeadline, limit: TimeAmount, bufferedBytes: Int?) {
        (self.startedAt, self.limit, self.lastBufferedBytes) = (startedAt, limit, bufferedBytes)
    }

    /// The client took bytes: NIO's buffer fell below its low-water mark.
    mutating func clientTookBytes() {
        self.tookBytes = true
    }

    /// Whether to wait another grace period, at a check at `now`. `writerHasWork`: the channel
    /// takes writes and frames wait for the writer, so what is left is up to it, not the client;
    /// `bufferedBytes`: the channel's unsent bytes now (fewer than at the last check: the client
    /// read some).
    mutating func keepsWaiting(now: NIODeadline, writerHasWork: Bool, bufferedBytes: Int?) -> Bool {
        defer { (self.tookBytes, self.lastBufferedBytes) = (false, bufferedBytes) }
        guard now - self.startedAt < self.limit else { return false }
        if writerHasWork || self.tookBytes { return true }
        guard let bufferedBytes, let last = self.lastBufferedBytes else { return false }
        return bufferedBytes < last
    }
}

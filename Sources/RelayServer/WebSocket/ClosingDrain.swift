import NIOCore

/// How long a connection the server closes through its queue (``PlayerConnection/close(code:)``:
/// 1001 at a stop, 1008, 4000, 4001) may take to let out what was queued before its close frame,
/// and the close frame itself.
///
/// The writer sends the queue first, then the close frame; a client still reading a backlog is
/// given the time to take it, and the close frame after it, rather than hung up mid-way (1006).
/// One that takes nothing for a whole grace period has stopped reading and is hung up, as is one
/// still draining at the limit (``RelayLimits/closeDrainLimit``). Checked once per grace period;
/// once the close frame has been written to the socket, the grace period the client has to
/// answer it takes over.
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

/// How long a connection the server closes may stay open once its close frame has been written to
/// the socket, for the client to read it and answer.
///
/// Written is not sent: the kernel may hold the frame behind megabytes of the backlog
/// (``KernelSendQueue``). Closed while the client still reads, the socket would answer the next
/// bytes the client sends (the game sends 60 a second) with a reset, which discards what the
/// server's kernel still holds (1006 for the client, not the close code), and on some systems what
/// the client's kernel holds unread too. So the socket stays open while the kernel delivers to the
/// client (it acknowledged more since the last check), then a grace period for the client to read
/// and answer, and longer while its application still reads (its receive window grew); all within
/// the drain's limit from the close's start and a grace period more (``deadline``). One that takes
/// nothing for a whole grace period is hung up, as before the close frame. Where the kernel cannot
/// say (not Linux), a grace period.
struct CloseFrameDelivery {
    /// When the socket closes whatever the client does.
    let deadline: NIODeadline
    private var last: KernelSendQueue
    /// A check found the kernel holding nothing: the client had its grace from then.
    private var deliveredAll = false

    init(deadline: NIODeadline, queue: KernelSendQueue) {
        (self.deadline, self.last) = (deadline, queue)
    }

    /// Whether to wait on, at a check at `now` that found `queue`.
    mutating func keepsWaiting(now: NIODeadline, queue: KernelSendQueue?) -> Bool {
        guard now < self.deadline, let queue else { return false }
        defer { self.last = queue }
        guard queue.isEmpty else { return queue.bytesAcknowledged > self.last.bytesAcknowledged }
        defer { self.deliveredAll = true }
        return !self.deliveredAll || queue.clientWindow > self.last.clientWindow
    }

    /// When to look next, a grace period from `now` at most: the deadline is kept to.
    func nextCheck(after now: NIODeadline, grace: TimeAmount) -> TimeAmount {
        min(grace, self.deadline - now)
    }
}

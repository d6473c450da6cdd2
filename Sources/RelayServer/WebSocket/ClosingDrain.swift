import NIOCore

/// How long a connection the server is closing (``PlayerConnection/close(code:)``: 1001 at a stop,
/// 1008, 4000, 4001) may take to let out what was queued before its close frame.
///
/// The writer sends the queue first, then the close frame; a client still reading a backlog is
/// given the time to take it, and the close frame after it, rather than hung up mid-way (1006).
/// One that takes nothing for a whole grace period (the channel stays unwritable) has stopped
/// reading and is hung up, as is one still draining at ``limit``. Checked once per grace period;
/// once the close frame has gone out, the grace period it has to answer it takes over.
struct ClosingDrain {
    /// The most a drain may take, however steadily the client reads: the same as an HTTP
    /// connection's at a stop (``DrainBeforeClose/limitWhenStopping``). A client reading a
    /// trickle would otherwise hold its connection, and a stop, for as long as the queue lasts.
    static let limit: TimeAmount = .seconds(5)

    private let startedAt: NIODeadline
    /// The channel became writable since the last check: the client took bytes.
    private var tookBytes = false

    init(startedAt: NIODeadline) {
        self.startedAt = startedAt
    }

    /// The client took bytes: NIO's buffer fell below its low-water mark.
    mutating func clientTookBytes() {
        self.tookBytes = true
    }

    /// Whether to wait another grace period, at a check at `now`. `isWritable`: the channel takes
    /// writes now, so whatever is left is up to the writer, not the client.
    mutating func keepsWaiting(now: NIODeadline, isWritable: Bool) -> Bool {
        defer { self.tookBytes = false }
        guard now - self.startedAt < Self.limit else { return false }
        return isWritable || self.tookBytes
    }
}

import NIOCore

/// One stretch of an HTTP connection during which answer bytes wait in the server's buffer for
/// the client to take them, judged at each look by ``HTTPDeadlines``.
///
/// Progress is what leaves the server's buffer for the kernel's, not the writability NIO
/// reports: an answer written whole (a boss image, up to 8 MiB) keeps a connection unwritable
/// until it is nearly all gone, so a writability timeout bounded the whole download, and cut off
/// a client taking an 8 MB image at 100 KB/s. A client reading a trickle still makes progress,
/// so the average rate is judged too, once the grace period has passed.
struct AnswerTransfer {
    /// What an answer in flight must keep up.
    struct Rules: Sendable {
        /// Longest time without a byte leaving the server's buffer.
        var stallTimeout: TimeAmount
        /// How long a transfer runs before its average rate is judged.
        var grace: TimeAmount
        /// Lowest average rate past the grace period; 0 judges no rate.
        var minBytesPerSecond: Int

        /// How often a transfer is looked at: often enough to judge it near its deadlines.
        var checkInterval: TimeAmount { .nanoseconds(min(self.grace, self.stallTimeout).nanoseconds / 4) }
    }

    enum Verdict: Equatable {
        /// Nothing waits in the server's buffer any more.
        case delivered
        case inProgress
        /// No byte left the server's buffer for the stall timeout.
        case stalled
        /// Past the grace period, below the minimum average rate.
        case tooSlow(bytesPerSecond: Int)
    }

    let start: NIODeadline
    /// The count of bytes handed to the kernel the transfer is counted from.
    private let handedOverAtStart: Int
    /// Bytes handed to the kernel since the transfer began.
    private(set) var delivered = 0
    private var lastProgress: NIODeadline

    /// A transfer starting `now`, counted from `handedOver` bytes handed to the kernel.
    init(at now: NIODeadline, handedOver: Int) {
        self.start = now
        self.lastProgress = now
        self.handedOverAtStart = handedOver
    }

    /// Judges the transfer `now`, when `handedOver` bytes have gone to the kernel in all and
    /// `waiting` still wait in the server's buffer.
    mutating func check(at now: NIODeadline, handedOver: Int, waiting: Int, rules: Rules) -> Verdict {
        guard waiting > 0 else { return .delivered }
        let delivered = handedOver - self.handedOverAtStart
        if delivered > self.delivered {
            (self.delivered, self.lastProgress) = (delivered, now)
        }
        if now - self.lastProgress >= rules.stallTimeout { return .stalled }
        let elapsed = now - self.start
        guard rules.minBytesPerSecond > 0, elapsed >= rules.grace else { return .inProgress }
        let bytesPerSecond = Double(self.delivered) * 1e9 / Double(elapsed.nanoseconds)
        return bytesPerSecond < Double(rules.minBytesPerSecond)
            ? .tooSlow(bytesPerSecond: Int(bytesPerSecond)) : .inProgress
    }
}

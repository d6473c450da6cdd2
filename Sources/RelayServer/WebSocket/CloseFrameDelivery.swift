import NIOCore

/// How long a connection the server closes may stay open once its close frame has been written to
/// the socket, for the client to read it and answer.
///
/// Written is not sent: the kernel may hold the frame behind megabytes of the backlog
/// (``KernelSendQueue``). Closed while the client still reads, the socket would answer the next
/// bytes the client sends (the game sends 60 a second) with a reset, which discards what the
/// server's kernel still holds (1006 for the client, not the close code), and on some systems what
/// the client's kernel holds unread too. So, looking every ``interval``:
/// - until the kernel has delivered everything, the socket stays open while the client acknowledges
///   more, and closes once it has taken nothing for a grace period;
/// - once it has, the client has a grace period from then to read and answer (as it had from the
///   write before the kernel was asked; from the first look that finds it, so up to an ``interval``
///   more), and longer while the window it advertises grows past its widest since (its application
///   still reads what its kernel took: a best guess, as a kernel advertises growth in steps; pongs
///   acknowledged after the delivery do not count);
/// - all within the drain's limit from the close's start and a grace period more (``deadline``).
///
/// Pongs owed once the frame is written wait for the delivery (``hasDelivered``; one owed before
/// goes out behind the frame): a client pinging once a round trip would otherwise keep one in
/// flight at every look, so the kernel would never look empty, and the pongs acknowledged would
/// count as bytes taken, holding the socket to the deadline.
///
/// Where the kernel cannot say (not Linux), the handler closes a grace period after the write.
struct CloseFrameDelivery {
    /// How often the kernel is asked.
    static let interval = TimeAmount.milliseconds(250)
    /// When the socket closes whatever the client does.
    let deadline: NIODeadline
    let grace: TimeAmount
    private var lastAcknowledged: UInt64
    /// When the client last took bytes (or the write, or the delivery).
    private var lastProgress: NIODeadline
    /// When the kernel was first found holding nothing.
    private var deliveredAt: NIODeadline?
    private var widestWindow: UInt32

    /// From the queue found as the close frame was written, at `writtenAt`.
    init(writtenAt: NIODeadline, deadline: NIODeadline, grace: TimeAmount, queue: KernelSendQueue) {
        (self.deadline, self.grace) = (deadline, grace)
        self.lastAcknowledged = queue.bytesAcknowledged
        self.lastProgress = writtenAt
        self.deliveredAt = queue.isEmpty ? writtenAt : nil
        self.widestWindow = queue.clientWindow
    }

    /// Whether a look has found the kernel holding nothing for the client.
    var hasDelivered: Bool { self.deliveredAt != nil }

    /// Whether to wait on, at a look at `now` that found `queue`.
    mutating func keepsWaiting(now: NIODeadline, queue: KernelSendQueue?) -> Bool {
        guard now < self.deadline, let queue else { return false }
        if self.deliveredAt == nil {
            if queue.bytesAcknowledged > self.lastAcknowledged {
                (self.lastAcknowledged, self.lastProgress) = (queue.bytesAcknowledged, now)
            }
            if queue.isEmpty {
                (self.deliveredAt, self.lastProgress, self.widestWindow) = (now, now, queue.clientWindow)
            }
        } else if queue.clientWindow > self.widestWindow {
            (self.widestWindow, self.lastProgress) = (queue.clientWindow, now)
        }
        return now - self.lastProgress < self.grace
    }

    /// When to look next: an ``interval`` from `now`, or at the deadline if that is sooner.
    func nextCheck(after now: NIODeadline) -> TimeAmount {
        min(Self.interval, self.deadline - now)
    }
}

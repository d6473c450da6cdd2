/// How many requests a plugin may have been written and not yet answered (``PluginInput``).
///
/// Its stdin pipe delivers everything written to it, however old: without a bound, a plugin a
/// little slower than its requests had a full pipe of requests that had timed out by the time
/// it read them, and answered almost nothing in time (one answering 200 a second, offered 220,
/// answered 6 a second in time). So the window grows while the plugin answers in time with the
/// window full, and halves when an answer comes late, as TCP's congestion window does: it
/// settles where the plugin's queue clears within a timeout. What the window holds back waits
/// in ``PluginInput``, where a request that can no longer be answered in time is dropped unwritten.
struct AnswerWindow {
    /// Enough for a plugin that answers in turn: more only lengthens its queue.
    static let initialSize = 16.0
    /// Always one: a plugin slower than its timeout still gets requests, one at a time.
    static let minimumSize = 1.0
    let maximumSize: Double
    private(set) var size = AnswerWindow.initialSize
    /// No answer has come late yet: the window grows by one with each answer in time, doubling
    /// each round trip, until the first late one (for a plugin that answers many at once).
    private var isStarting = true
    /// The newest request written (its place in the order of writing) when the window last
    /// halved: late answers to it and those before it were in the plugin's queue together, and
    /// say nothing new.
    private var lateUpTo: UInt64 = 0

    init(maximumSize: Int) {
        self.maximumSize = max(Self.minimumSize, Double(maximumSize))
        self.size = min(self.size, self.maximumSize)
    }

    /// How many more requests may be written while `unanswered` are.
    func room(unanswered: Int) -> Int {
        max(0, Int(self.size) - unanswered)
    }

    /// A request was answered in time while `unanswered` were owed, itself included. Grows the
    /// window only if it was full: one that holds nothing back is not shown to be too small.
    mutating func answeredInTime(unanswered: Int) {
        guard unanswered >= Int(self.size) else { return }
        self.size = min(self.maximumSize, self.size + (self.isStarting ? 1 : 1 / self.size))
    }

    /// The request written `written`-th was answered late, or not a timeout after its own;
    /// `newestWritten` is the number of requests written so far. (A late answer that came after
    /// one to a request written later says only that this request was slow: the plugin answers
    /// several at once, and its queue is not what made it late. Such answers are not told here.)
    mutating func answeredLate(written: UInt64, newestWritten: UInt64) {
        self.isStarting = false
        guard written > self.lateUpTo else { return }
        self.lateUpTo = newestWritten
        self.size = max(Self.minimumSize, self.size / 2)
    }
}

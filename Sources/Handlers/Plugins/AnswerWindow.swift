import NIOCore

/// How many requests a plugin may have been written and not yet answered (``PluginInput``).
///
/// Its stdin pipe delivers everything written to it, however old: without a bound, a plugin a
/// little slower than its requests had a full pipe of requests that had timed out by the time
/// it read them, and answered almost nothing in time (one answering 200 a second, offered 220,
/// answered 6 a second in time). So the window grows while the plugin answers in time with the
/// window full, and halves when an answer comes late, as TCP's congestion window does: it
/// settles where the plugin's queue clears within a timeout. What the window holds back waits
/// in ``PluginInput``, where a request that can no longer be answered in time is dropped unwritten.
///
/// A plugin that answers in turn, slower than half its timeout, cannot answer two queued requests
/// in time. Growing from one to two after each answer in time, as TCP would, had it answer every
/// other request late (8 of its 16.7 a second in time at 60 ms a request). So past the start,
/// within a halving of the size at which answers last came late, the window grows an eighth as
/// fast while an answer leaves no room for one more turn before the timeout (its round trip and
/// the plugin's pace, ``AnswerPace``, come to more): it probes. A plugin answering many at once
/// keeps its pace: its answers come close together, on average, or a stall cut its window far
/// below where it was late.
struct AnswerWindow {
    /// Enough for a plugin that answers in turn: more only lengthens its queue.
    static let initialSize = 16.0
    /// Always one: a plugin slower than its timeout still gets requests, one at a time.
    static let minimumSize = 1.0
    /// Growth at one eighth of the usual pace, while answers leave no room for one more turn.
    static let probingPace = 1.0 / 8
    let maximumSize: Double
    /// How long a plugin has to answer a request.
    let timeout: TimeAmount
    private(set) var size = AnswerWindow.initialSize
    /// No answer has come late yet: the window grows by one with each answer in time, doubling
    /// each round trip, until the first late one (for a plugin that answers many at once).
    private var isStarting = true
    /// The newest request written (its place in the order of writing) when the window last
    /// halved: late answers to it and those before it were in the plugin's queue together, and
    /// say nothing new.
    private var lateUpTo: UInt64 = 0
    /// How large the window was when answers last began to come late (halvings with no answer
    /// in time between them are one stall): the plugin's limit, as last found.
    private var sizeWhenLate: Double?
    /// An answer came in time since the window last halved: a new late one starts a new stall.
    private var answeredInTimeSinceHalving = true

    init(maximumSize: Int, timeout: TimeAmount) {
        self.maximumSize = max(Self.minimumSize, Double(maximumSize))
        self.timeout = timeout
        self.size = min(self.size, self.maximumSize)
    }

    /// How many more requests may be written while `unanswered` are.
    func room(unanswered: Int) -> Int {
        max(0, Int(self.size) - unanswered)
    }

    /// A request was answered in time, `roundTrip` after it was written, while `unanswered` were
    /// owed, itself included, and the plugin has lately answered one request each `pace`. Grows
    /// the window only if it was full: one that holds nothing back is not shown to be too small.
    mutating func answeredInTime(unanswered: Int, roundTrip: TimeAmount, pace: TimeAmount) {
        self.answeredInTimeSinceHalving = true
        guard unanswered >= Int(self.size) else { return }
        guard !self.isStarting else {
            self.size = min(self.maximumSize, self.size + 1)
            return
        }
        // With the window full the plugin is busy: one more request queued ahead of this one would
        // have delayed it by about the time it takes an answer. (A gap longer than this round trip
        // was not the plugin's work: it sat idle.)
        let roomForOneMore = roundTrip + min(pace, roundTrip) <= self.timeout
        let nearItsLimit = self.sizeWhenLate.map { self.size * 2 >= $0 } ?? false
        let growth = nearItsLimit && !roomForOneMore ? Self.probingPace : 1
        self.size = min(self.maximumSize, self.size + growth / self.size)
    }

    /// The request written `written`-th was answered late, or not a timeout after its own;
    /// `newestWritten` is the number of requests written so far. (A late answer that came after
    /// one to a request written later says only that this request was slow: the plugin answers
    /// several at once, and its queue is not what made it late. Such answers are not told here.)
    mutating func answeredLate(written: UInt64, newestWritten: UInt64) {
        self.isStarting = false
        guard written > self.lateUpTo else { return }
        self.lateUpTo = newestWritten
        if self.answeredInTimeSinceHalving { self.sizeWhenLate = self.size }
        self.answeredInTimeSinceHalving = false
        self.size = max(Self.minimumSize, self.size / 2)
    }
}

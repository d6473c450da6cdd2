import NIOCore

/// How fast a plugin has been answering lately: the mean time between its last answers, in time
/// or late (``AnswerWindow`` asks over as many as its window holds). A plugin answering several
/// requests at once answers in groups: the gap before each group says little, the mean says how
/// much of its time each answer took.
struct AnswerPace {
    /// The most answers remembered: enough for a mean, whatever the window.
    static let capacity = 64
    /// When the last answers came, oldest first once the ring has wrapped at `next`.
    private var times: [NIODeadline] = []
    private var next = 0

    /// How many answers are remembered.
    var count: Int { self.times.count }

    mutating func record(_ time: NIODeadline) {
        if self.times.count < Self.capacity {
            self.times.append(time)
        } else {
            self.times[self.next] = time
            self.next = (self.next + 1) % Self.capacity
        }
    }

    /// The mean gap between an answer at `now` and the `answers` remembered before it (all of
    /// them, if fewer); nil if none is.
    func meanGap(before now: NIODeadline, over answers: Int) -> TimeAmount? {
        guard !self.times.isEmpty else { return nil }
        let span = min(max(answers, 1), self.times.count)
        // The `span`-th most recent: the newest is just before `next` in a full ring, last otherwise.
        let newestIndex =
            self.times.count < Self.capacity ? self.times.count - 1 : (self.next + Self.capacity - 1) % Self.capacity
        let start = self.times[(newestIndex - span + 1 + Self.capacity) % Self.capacity]
        return TimeAmount.nanoseconds((now - start).nanoseconds / Int64(span))
    }
}

/// What one receiver got of each sender's stream (`k` and `s` in a state message,
/// ``StateMessageEncoder``): the highest sequence number and which of the 64 before it came, so a
/// message it already had is told from one that only came late.
struct StreamSequences {
    /// How a delivery stands against what its receiver had of its stream.
    enum Arrival: Equatable {
        /// Its first arrival, in order.
        case new
        /// Its first arrival, after a later message of its sender's (or more than 64 behind the
        /// latest, where repeats are no longer told apart).
        case outOfOrder
        /// It had come before.
        case repeated
    }

    private var streams: [Int64: (highest: Int64, seen: UInt64)] = [:]

    /// Notes message `sequence` of `stream`; one without a stream or a sequence counts as new.
    mutating func arrival(sequence: Int64?, stream: Int64?) -> Arrival {
        guard let stream, let sequence else { return .new }
        guard let (highest, seen) = self.streams[stream] else {
            self.streams[stream] = (sequence, 1)
            return .new
        }
        if sequence > highest {
            let shift = sequence - highest
            self.streams[stream] = (sequence, shift >= 64 ? 1 : seen << UInt64(shift) | 1)
            return .new
        }
        let behind = highest - sequence
        guard behind < 64 else { return .outOfOrder }
        let bit = UInt64(1) << UInt64(behind)
        if seen & bit != 0 { return .repeated }
        self.streams[stream] = (highest, seen | bit)
        return .outOfOrder
    }
}

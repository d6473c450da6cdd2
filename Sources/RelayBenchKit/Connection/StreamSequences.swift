/// What one receiver got of each sender's stream (`k` and `s` in a state message,
/// ``StateMessageEncoder``): the highest sequence number, which of the 64 before it came, and the
/// older ones that have not come, so that a message it already had is told from one that only
/// came late, however late.
///
/// A window alone (64 behind the latest) took an old repeat for a late first arrival: a server
/// that replayed a backlog could have one repeat cancel one real loss, and show none.
struct StreamSequences {
    /// How a delivery stands against what its receiver had of its stream.
    enum Arrival: Equatable {
        /// Its first arrival, in order.
        case new
        /// Its first arrival, after a later message of its sender's (or one too old to tell:
        /// ``Stream/mostGaps``).
        case outOfOrder
        /// It had come before (or is no message a sender sends, at or below 0).
        case repeated
    }

    private struct Stream {
        var highest: Int64
        /// Bit `i`: message `highest - i` came.
        var seen: UInt64 = 1
        /// The messages from 1 to 64 behind `highest` that have not come, as ranges in order
        /// (usually none: one per gap, not one per message).
        var missing: [ClosedRange<Int64>]
        /// Messages up to this one are no longer told apart (the oldest gaps were forgotten).
        var forgottenThrough: Int64 = 0

        /// Most gaps kept: a server that lost every other message would otherwise have each late
        /// arrival move thousands of them (the oldest quarter is forgotten past it).
        static let mostGaps = 4_096

        /// A sender's first message is 1: those before `sequence` and out of the window have not come.
        init(first sequence: Int64) {
            self.highest = sequence
            self.missing = sequence > 64 ? [1...(sequence - 64)] : []
        }

        mutating func arrival(_ sequence: Int64) -> Arrival {
            if sequence > self.highest {
                self.advance(to: sequence)
                return .new
            }
            let behind = self.highest - sequence
            if behind < 64 {
                let bit = UInt64(1) << UInt64(behind)
                if self.seen & bit != 0 { return .repeated }
                self.seen |= bit
                return .outOfOrder
            }
            if self.takeMissing(sequence) { return .outOfOrder }
            return sequence <= self.forgottenThrough ? .outOfOrder : .repeated
        }

        /// Moves the window up to `sequence`: what leaves it without having come is missing.
        private mutating func advance(to sequence: Int64) {
            let shift = sequence - self.highest
            for position in stride(from: 63, through: max(0, 64 - shift), by: -1)
            where self.seen & (UInt64(1) << UInt64(position)) == 0 {
                self.noteMissing(self.highest - position...self.highest - position)
            }
            if shift > 64 { self.noteMissing(self.highest + 1...sequence - 64) }  // never in the window
            self.seen = shift >= 64 ? 1 : self.seen << UInt64(shift) | 1
            self.highest = sequence
        }

        /// Adds `range` (above every range so far), joined to the last one if they touch.
        private mutating func noteMissing(_ range: ClosedRange<Int64>) {
            guard range.upperBound >= 1 else { return }  // no message a sender sent
            let range = max(1, range.lowerBound)...range.upperBound
            if let last = self.missing.last, last.upperBound &+ 1 >= range.lowerBound {
                self.missing[self.missing.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                self.missing.append(range)
            }
            if self.missing.count > Self.mostGaps {
                let forgotten = Self.mostGaps / 4
                self.forgottenThrough = self.missing[forgotten - 1].upperBound
                self.missing.removeFirst(forgotten)
            }
        }

        /// Whether `sequence` was missing; if so, it is no longer.
        private mutating func takeMissing(_ sequence: Int64) -> Bool {
            var low = 0
            var high = self.missing.count
            while low < high {
                let middle = (low + high) / 2
                if self.missing[middle].upperBound < sequence { low = middle + 1 } else { high = middle }
            }
            guard low < self.missing.count, self.missing[low].contains(sequence) else { return false }
            let range = self.missing[low]
            var parts: [ClosedRange<Int64>] = []
            if range.lowerBound < sequence { parts.append(range.lowerBound...sequence - 1) }
            if sequence < range.upperBound { parts.append(sequence + 1...range.upperBound) }
            self.missing.replaceSubrange(low...low, with: parts)
            return true
        }
    }

    private var streams: [Int64: Stream] = [:]

    /// Notes message `sequence` of `stream`; one at or below 0 (no message a sender sends: they
    /// count from 1) counts as a repeat.
    mutating func arrival(sequence: Int64, stream: Int64) -> Arrival {
        guard sequence >= 1 else { return .repeated }
        guard self.streams[stream] != nil else {
            self.streams[stream] = Stream(first: sequence)
            return .new
        }
        return self.streams[stream]!.arrival(sequence)
    }
}

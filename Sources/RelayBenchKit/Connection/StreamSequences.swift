/// The last sequence number one receiver got of each sender's stream (`k` and `s` in a state
/// message, ``StateMessageEncoder``): a message at or below it repeats one, or came out of order,
/// and is counted apart so that it cannot hide a loss.
struct StreamSequences {
    private var lastSequence: [Int64: Int64] = [:]

    /// Whether message `sequence` of `stream` repeats one received before, or comes after a later
    /// one; a message without a stream or a sequence is never a repeat.
    mutating func isRepeated(sequence: Int64?, stream: Int64?) -> Bool {
        guard let stream, let sequence else { return false }
        if let last = self.lastSequence[stream], sequence <= last { return true }
        self.lastSequence[stream] = sequence
        return false
    }
}

/// The last sequence number one receiver got of each sender's stream (`k` and `s` in a state
/// message, ``StateMessageEncoder``): a message at or below it repeats one, or came out of order,
/// and is counted apart so that it cannot hide a loss.
struct StreamSequences {
    private var lastSequence: [Int64: Int64] = [:]

    /// Whether the state relay in `bytes` repeats one received before from its stream, or comes
    /// after a later one; a message without a stream is never a repeat.
    mutating func isRepeated(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let stream = ServerMessage.integer(forKey: "k", in: bytes),
            let sequence = ServerMessage.integer(forKey: "s", in: bytes)
        else { return false }
        if let last = self.lastSequence[stream], sequence <= last { return true }
        self.lastSequence[stream] = sequence
        return false
    }
}

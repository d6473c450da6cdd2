import NIOCore
import Relay

/// A connection's rate limits: one budget of messages per kind of message. (Bytes are budgeted
/// as they are read, in ``RoomSocketHandler``.)
///
/// State relays (`player_state`, `enemy_state`) have their own: the game's host sends one
/// `enemy_state` per enemy it tracks every 50 ms and never stops tracking the ones the players
/// ran past, so its rate grows with a run (60 + 20 per live enemy a second). Past their budget
/// they are shed without an error (each is superseded by the next; an error would show the
/// game's error popup), so that a long game loses some positions, never its one-off messages
/// (`collect_item`, `enemy_killed`, spawns), whose budget they do not touch.
struct MessageBudget {
    enum Kind { case state, other }

    private var state: TokenBucket
    private var other: TokenBucket

    init(limits: RelayLimits) {
        self.state = TokenBucket(rate: limits.stateMessagesPerSecond, burst: limits.stateMessageBurst)
        self.other = TokenBucket(rate: limits.messagesPerSecond, burst: limits.messageBurst)
    }

    /// `state` for a JSON object in the plain subset (``PlainJSONScanner``), with nothing but
    /// whitespace after it, whose `type` names `player_state` or `enemy_state`, wherever the
    /// member stands: clients in other languages may not write it first. A repeated `type` counts as `state` only if every one does (the
    /// full parser keeps the last, the in-place path reads the first). Anything else counts as
    /// `other`, which only makes it stricter. Game clients write `type` first; the rest of the
    /// message is walked all the same, without copying.
    static func kind(of bytes: UnsafeBufferPointer<UInt8>) -> Kind {
        var scanner = PlainJSONScanner(bytes)
        var namesState = false
        let isPlain = scanner.readMessage { scanner, key in
            guard bytes[key].elementsEqual("type".utf8) else { return scanner.skipValue() }
            guard let type = scanner.string(), Self.isStateType(bytes[type]) else { return false }
            namesState = true
            return true
        }
        return isPlain && namesState ? .state : .other
    }

    private static func isStateType(_ name: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        name.elementsEqual("player_state".utf8) || name.elementsEqual("enemy_state".utf8)
    }

    static func kind(of buffer: ByteBuffer) -> Kind {
        buffer.withUnsafeReadableBytes { Self.kind(of: $0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// Takes a message of `kind` from its budget, if there is one left.
    mutating func take(_ kind: Kind, now: ContinuousClock.Instant = .now) -> Bool {
        switch kind {
        case .state: self.state.take(now: now)
        case .other: self.other.take(now: now)
        }
    }

    /// Returns what a message handed on unhandled took (whoever handles it takes its own).
    mutating func giveBack(_ kind: Kind) {
        switch kind {
        case .state: self.state.giveBack()
        case .other: self.other.giveBack()
        }
    }
}

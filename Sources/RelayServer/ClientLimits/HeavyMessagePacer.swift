import NIOCore

/// Spaces out the decoding of large messages on one event loop, so that what other clients send
/// is read and relayed in between: after a large message's handling took some time, the next one
/// on the loop waits as long again.
///
/// The byte budgets and the busy loop's cap (``BusyLoopCap``) bound what each connection may read,
/// but charge a message's values once it is decoded, and NIO runs every task queued on a loop
/// before it reads its sockets again: 32 clients each sending a 64 KB message of 8,000 small
/// values had them decoded back to back as they started (~5 ms each), and every other room's
/// messages waited 0.15–0.2 s. A reader waiting for its turn lets the loop's turn end, and the
/// loop reads its sockets before the next large message is decoded. The game's own messages are
/// far smaller than ``heavyBytes``, and a lone large one (a host's `sync_entities`) never waits.
struct HeavyMessagePacer {
    /// A message larger than this may take milliseconds to decode and handle (a full 64 KiB of
    /// small values, ~5 ms): its handling is paced.
    static let heavyBytes = 8_192
    /// The most one large message's handling counts for: a handling that took longer was mostly
    /// waiting (for a room on another loop, a plugin), which cost its loop nothing.
    static let longestTurn = TimeAmount.milliseconds(20)

    /// Until when the loop's time goes to others.
    private(set) var othersUntil = NIODeadline.uptimeNanoseconds(0)

    /// How long a large message must wait before it is decoded, at `now`; nil if it need not.
    func wait(now: NIODeadline = .now()) -> TimeAmount? {
        self.othersUntil > now ? self.othersUntil - now : nil
    }

    /// A large message's handling took `elapsed`, ending at `now`: as long again goes to others.
    mutating func handled(taking elapsed: TimeAmount, now: NIODeadline = .now()) {
        self.othersUntil = max(self.othersUntil, now + elapsed)
    }
}

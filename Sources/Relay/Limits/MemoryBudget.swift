import Synchronization

/// Bytes that many holders on any event loop take from one server-wide total, against a limit.
///
/// Two per server (``RoomRegistry``): what every room's tracked enemies, coins and power-ups
/// hold, with the ids rooms remember (``RelayLimits/maxEntityBytesPerServer``), and what slow
/// clients' outbound queues hold past what each may hold whatever the total
/// (``RelayLimits/maxOutboundBytesPerServer``). Each holder caps its own, but a client may
/// create room after room, or open connection after connection and stop reading: without a
/// total, some thousands of rooms filled by their hosts alone held more than the machine's memory.
public final class MemoryBudget: Sendable {
    public let limit: Int
    private let held = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// The bytes held now.
    public var heldBytes: Int { self.held.load(ordering: .relaxed) }

    /// Takes `bytes` if they fit under the limit.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }  // forced bytes may have taken the total past the limit
        var current = self.held.load(ordering: .relaxed)
        while current + bytes <= self.limit {
            let (exchanged, original) = self.held.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Takes what growing a room's holding from `old` to `new` bytes costs: the part past
    /// `floor` (what every room may hold whatever the total) only if it fits under the limit,
    /// the rest whatever the total. Whether it was taken; nothing is, if not.
    func reserve(growingFrom old: Int, to new: Int, floor: Int) -> Bool {
        let aboveFloor = max(0, new - floor) - max(0, old - floor)
        guard self.reserve(aboveFloor) else { return false }
        self.force(new - old - aboveFloor)
        return true
    }

    /// Takes `bytes` whether they fit or not: for what is never refused (a death in a room, the
    /// next frame of a queue within its floor).
    func force(_ bytes: Int) {
        self.held.add(bytes, ordering: .relaxed)
    }

    /// Gives `bytes` back.
    func release(_ bytes: Int) {
        self.held.subtract(bytes, ordering: .relaxed)
    }
}

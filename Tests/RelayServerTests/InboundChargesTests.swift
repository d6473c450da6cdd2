import Logging
import NIOCore
import Relay
import Testing

@testable import RelayServer

/// Who pays for a room socket's reads (``InboundCharges``), without a socket.
@Suite("Inbound charges")
struct InboundChargesTests {
    static let logger = Logger(label: "test")

    @Test("A read past the connection's own budget pauses it for its debt; not when only shared debts count")
    func ownDebt() {
        let time = ManualBudgetClock()
        var charges = InboundCharges(
            limits: RoomSocketHandlerTests.byteBudget(perSecond: 1_024), addressBudget: nil, busyLoop: nil,
            clock: time.clock)
        charges.chargeRead(1_024, frames: 1)
        var pastOwnShare = charges.isPastOwnShare()
        #expect(!pastOwnShare, "within the burst")
        var pause = charges.readPause(includingOwnDebt: true, logger: Self.logger)
        #expect(pause == .zero)
        charges.chargeDecoding(bytes: 1_024)  // a second's worth past the burst
        pastOwnShare = charges.isPastOwnShare()
        #expect(pastOwnShare)
        pause = charges.readPause(includingOwnDebt: true, logger: Self.logger)
        #expect(pause == .seconds(1))
        pause = charges.readPause(includingOwnDebt: false, logger: Self.logger)
        #expect(pause == .zero, "a pause timed for it has ended")
        time.advance(by: .milliseconds(750))
        pause = charges.readPause(includingOwnDebt: true, logger: Self.logger)
        #expect(pause == .milliseconds(250), "repaid as the clock moves")
        time.advance(by: .milliseconds(250))
        pastOwnShare = charges.isPastOwnShare()
        #expect(!pastOwnShare)
    }

    @Test("The address pays for the bytes and each frame; its debt pauses the connection, up to half as long again")
    func addressDebt() throws {
        let limits = InboundBytesPerAddressTests.limits(addressRate: 1_000)
        let table = InboundBytesPerAddress(limits: limits)
        let time = ManualBudgetClock()  // a loaded run could stall past the debt's half
        let share = try #require(table.share(for: "10.0.0.1", now: time.clock.now()))
        var charges = InboundCharges(limits: limits, addressBudget: share, busyLoop: nil, clock: time.clock)
        #expect(!charges.isAddressInDebt)
        // The burst, and 4 frames of 256 bytes: ~1 s in debt.
        charges.chargeRead(1_024, frames: 4)
        #expect(charges.isAddressInDebt)
        let pastOwnShare = charges.isPastOwnShare()
        #expect(!pastOwnShare, "its own budget is far larger")
        let pauses = (1...20).map { _ in charges.readPause(includingOwnDebt: false, logger: Self.logger) }
        // The debt (1,024 ms), and up to half again: never less, or reading resumes in debt.
        #expect(pauses.allSatisfy { $0 >= .milliseconds(1_024) && $0 <= .milliseconds(1_536) }, "\(pauses)")
        #expect(table.addressCount == 1)
        share.spend(100_000, now: time.clock.now())  // 100 s more: still in debt
        charges.ended()
        #expect(!charges.isAddressInDebt, "it reads no more")
        charges.readerFinished()
        #expect(table.addressCount == 1, "given back, and kept while the address is in debt")
        #expect(table.sweepCandidates == 1, "given back: the entry is the sweep's once its debt is paid")
        // Past the debt, the next new address's sweep drops it.
        time.advance(by: .seconds(200))
        _ = table.share(for: "10.0.0.9", now: time.clock.now())
        #expect(table.addressCount == 1, "only the new address's entry is left")
        #expect(table.sweepCandidates == 0)
    }

    @Test("Large messages take turns after the connection ends too, and each turn still moves its rank")
    func pacedPastTheEnd() throws {
        let (limits, _, busyLoop) = BusyLoopTests.loopCappedAt4KB()
        var charges = InboundCharges(limits: limits, addressBudget: nil, busyLoop: busyLoop)
        charges.opened()
        let large = HeavyMessagePacer.heavyBytes + 1
        #expect(charges.isPaced(large))
        #expect(!charges.isPaced(HeavyMessagePacer.heavyBytes))
        charges.ended()
        // The reader still handles what it was handed: 32 flooders hanging up together would
        // otherwise have their queued large messages decoded back to back.
        #expect(charges.isPaced(large))
        let (turns, rank) = try #require(charges.heavyMessageTurns)
        #expect(turns === busyLoop.heavyMessageTurns)
        let started = NIODeadline.now() - .milliseconds(10)  // a turn that took 10 ms or more
        charges.heavyMessageHandled(HeavyMessagePacer.Turn(number: 1, started: started))
        let moved = try #require(charges.heavyMessageTurns?.rank)
        #expect(moved >= started + .seconds(1), "100 times the turn's time")
        #expect(moved > rank)
    }
}

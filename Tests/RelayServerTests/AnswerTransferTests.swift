import NIOCore
import Testing

@testable import RelayServer

/// The verdicts on an answer leaving the server, at chosen instants (no socket, no clock).
@Suite("Answer transfers")
struct AnswerTransferTests {
    static let rules = AnswerTransfer.Rules(stallTimeout: .seconds(30), grace: .seconds(10), minBytesPerSecond: 4096)
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A transfer that began with 1,000 bytes already handed over, judged `seconds` later with
    /// `delivered` more handed over and `waiting` still waiting.
    private func verdict(
        after seconds: Int64, delivered: Int, waiting: Int = 100_000, on transfer: inout AnswerTransfer
    ) -> AnswerTransfer.Verdict {
        transfer.check(
            at: Self.start + .seconds(seconds), handedOver: 1_000 + delivered, waiting: waiting, rules: Self.rules)
    }

    @Test("Nothing waiting is delivered, whatever the rate")
    func delivered() {
        var transfer = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 60, delivered: 10, waiting: 0, on: &transfer) == .delivered)
    }

    @Test("Within the grace period no rate is judged")
    func grace() {
        var transfer = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 9, delivered: 1, on: &transfer) == .inProgress)
    }

    @Test("Past the grace period the average since the start counts, not the last stretch")
    func averageRate() {
        var transfer = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 10, delivered: 40_960, on: &transfer) == .inProgress)  // exactly 4 KiB/s
        #expect(self.verdict(after: 20, delivered: 81_919, on: &transfer) == .tooSlow(bytesPerSecond: 4_095))
        var burst = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 1, delivered: 400_000, on: &burst) == .inProgress)
        #expect(self.verdict(after: 90, delivered: 400_100, on: &burst) == .inProgress)  // 4,445 bytes/s on average
    }

    @Test("No byte handed over for the stall timeout is a stall, even at a good average")
    func stall() {
        var transfer = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 1, delivered: 1_000_000, on: &transfer) == .inProgress)
        #expect(self.verdict(after: 30, delivered: 1_000_000, on: &transfer) == .inProgress)
        #expect(self.verdict(after: 31, delivered: 1_000_000, on: &transfer) == .stalled)
    }

    @Test("A minimum of 0 judges no rate")
    func noMinimum() {
        var rules = Self.rules
        rules.minBytesPerSecond = 0
        var transfer = AnswerTransfer(at: Self.start, handedOver: 0)
        for second in 1...100 {
            let verdict = transfer.check(
                at: Self.start + .seconds(Int64(second)), handedOver: second, waiting: 1, rules: rules)
            #expect(verdict == .inProgress)
        }
    }

    @Test("Checks come often enough to judge near the deadlines")
    func checkInterval() {
        #expect(Self.rules.checkInterval == .milliseconds(2_500))
    }

    @Test("The rate is judged from the end of the grace period on")
    func rateAtTheEndOfGrace() {
        var transfer = AnswerTransfer(at: Self.start, handedOver: 1_000)
        #expect(self.verdict(after: 10, delivered: 40_959, on: &transfer) == .tooSlow(bytesPerSecond: 4_095))
    }
}

import Testing

@testable import Handlers

@Suite("PoolTurn")
struct PoolTurnTests {
    /// Reads that return at once (a pipe never empty) keep the turn going: over after 10 ms.
    @Test func readsThatNeverWaitEndTheTurnAfterItsLength() {
        let start = ContinuousClock.now
        var turn = PoolTurn(now: start)
        var over: [Int] = []
        for read in 1...8 {
            let now = start + .milliseconds(3 * read)
            turn.readReturned(now: now - .milliseconds(3) + .microseconds(10))
            if turn.handled(now: now) { over.append(read) }
        }
        #expect(over == [4, 8], "12 ms, then 12 ms more")
    }

    /// Time waiting for data is not running time: a burst after a quiet spell (a large answer) is
    /// not made to yield at once.
    @Test func timeWaitingForDataIsNotRunningTime() {
        let start = ContinuousClock.now
        var turn = PoolTurn(now: start)
        var over: [Bool] = []
        turn.readReturned(now: start + .milliseconds(50))  // waited 50 ms for the plugin
        over.append(turn.handled(now: start + .milliseconds(51)))
        turn.readReturned(now: start + .milliseconds(51) + .microseconds(10))
        over.append(turn.handled(now: start + .milliseconds(58)))
        turn.readReturned(now: start + .milliseconds(58) + .microseconds(10))
        over.append(turn.handled(now: start + .milliseconds(61)))
        #expect(over == [false, false, true], "over after 10 ms of handling")
    }

    /// Time off its core between reads (a loaded machine) is not running time, and does not
    /// start a new turn either: the time spent handling what it read still adds up.
    @Test func handlingAddsUpAcrossReadsThatLookAsIfTheyWaited() {
        let start = ContinuousClock.now
        var turn = PoolTurn(now: start)
        var over: [Int] = []
        for read in 1...8 {
            let now = start + .milliseconds(5 * read)
            turn.readReturned(now: now - .milliseconds(3))  // 2 ms since the last: "waited"
            if turn.handled(now: now) { over.append(read) }  // 3 ms handling
        }
        #expect(over == [4, 8], "12 ms of handling each")
    }
}

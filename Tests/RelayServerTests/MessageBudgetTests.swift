import Relay
import Testing

@testable import RelayServer

@Suite("MessageBudget")
struct MessageBudgetTests {
    private func kind(_ text: String) -> MessageBudget.Kind {
        var text = text
        return text.withUTF8 { MessageBudget.kind(of: $0) }
    }

    @Test("player_state and enemy_state are state relays wherever their type stands")
    func stateTypes() {
        #expect(kind(#"{"type":"player_state","state":{"x":1.5,"y":2}}"#) == .state)
        #expect(kind(#"{"type":"enemy_state","enemy_id":"e1","state":{"x":1}}"#) == .state)
        #expect(kind(#"{"enemy_id":"e1","state":{"x":1,"tags":["a",null,true]},"type":"enemy_state"}"#) == .state)
        #expect(kind(#" { "state" : { "x" : -3 } , "type" : "player_state" } "#) == .state)
        #expect(kind("{\"type\":\"player_state\",\"state\":{}}\r\n\t ") == .state)
    }

    @Test("Everything else, and anything the plain scanner does not read, counts against the other budget")
    func otherMessages() {
        for text in [
            #"{"type":"collect_item","item_id":"coin_1"}"#,
            #"{"type":"chat","state":{"type":"player_state"}}"#,  // a nested type is not the message's
            #"{"type":"player_state","type":"chat"}"#,  // the full parser keeps the last
            #"{"type":"chat","type":"player_state"}"#,  // the in-place path reads the first
            #"{"type":"player_state","state":{"name":"\u00e9"}}"#,  // an escape: outside the subset
            #"{"state":{"x":1}}"#,
            #"{}"#,
            #"["player_state"]"#,
            #"{"type":"player_state""#,
            #"{"type":"player_state","state":{"x":1}}xyz"#,  // not JSON: refused by the parser
            #"{"type":"player_state","state":{"x":1}} {}"#,
            "not json",
        ] {
            #expect(kind(text) == .other, "\(text)")
        }
    }

    @Test("Each kind spends its own budget")
    func separateBudgets() {
        var limits = RelayLimits()
        limits.stateMessagesPerSecond = 1
        limits.stateMessageBurst = 3
        limits.messagesPerSecond = 1
        limits.messageBurst = 2
        var budget = MessageBudget(limits: limits)
        let start = ContinuousClock.now  // not before the buckets' own start
        var taken: [Bool] = []
        for _ in 0..<4 { taken.append(budget.take(.state, now: start)) }
        #expect(taken == [true, true, true, false])
        taken = []
        for _ in 0..<3 { taken.append(budget.take(.other, now: start)) }
        #expect(taken == [true, true, false])
        let refilled = budget.take(.state, now: start + .seconds(1))
        let refilledOnce = !budget.take(.state, now: start + .seconds(1))
        #expect(refilled && refilledOnce)
    }

    @Test("A flood closes at the first refused message past the threshold within 10 s; a new window counts afresh")
    func floodWatchTakesTheThreshold() {
        var watch = FloodWatch(threshold: 3)
        let start = ContinuousClock.now
        let verdicts = (0..<4).map { watch.record(now: start + .milliseconds($0)) }
        #expect(verdicts == [.warn, .quiet, .quiet, .close])
        #expect(watch.record(now: start + .seconds(11)) == .warn)
        #expect(watch.record(now: start + .seconds(11)) == .quiet)
    }

    /// Counted over the last ten seconds (by whole seconds, so reaching back up to eleven), not in
    /// windows that start afresh: twice the threshold, half each side of where such a window would
    /// start, is a flood.
    @Test("A flood is counted over the last 10 s, however the refusals fall about any window's start")
    func floodWatchLooksBackTenSeconds() {
        var watch = FloodWatch(threshold: 10)
        let start = ContinuousClock.now
        _ = watch.record(now: start)
        let late = (0..<9).map { watch.record(now: start + .milliseconds(9_500 + $0)) }
        #expect(!late.contains(.close), "10 within 10 s")
        let early = (0..<10).map { watch.record(now: start + .milliseconds(10_100 + $0)) }
        #expect(early.first == .close, "with the 10 from 0 s to 9.5 s, the first of these is the 11th within 10.1 s")
        // The threshold late in one second and again ten seconds on: within 10 s of each other.
        var edges = FloodWatch(threshold: 10)
        _ = edges.record(now: start)
        for _ in 0..<9 { _ = edges.record(now: start + .milliseconds(999)) }
        let tenOn = (0..<10).map { _ in edges.record(now: start + .seconds(10)) }
        #expect(tenOn.contains(.close), "9 at 0.999 s and 10 at 10 s: 19 within 9.001 s")
        // Those of a second eleven seconds back no longer count; none do after eleven quiet seconds.
        var later = FloodWatch(threshold: 10)
        for step in 0..<10 { _ = later.record(now: start + .milliseconds(100 * step)) }
        #expect(later.record(now: start + .milliseconds(11_050)) == .warn, "second 0 is out of the last eleven")
        #expect((0..<9).map { _ in later.record(now: start + .seconds(25)) }.allSatisfy { $0 != .close })
        #expect(later.record(now: start + .seconds(25)) != .close, "10 within 10 s")
        #expect(later.record(now: start + .seconds(25)) == .close)
    }
}

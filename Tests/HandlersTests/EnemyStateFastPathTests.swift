import SeededRandom
import Testing

@testable import Handlers
@testable import Relay

/// The `enemy_state` fast path (``EnemyStateRelay``) against the general one: plain messages
/// take it, everything else is declined, and either way clients see the same thing and the
/// server keeps the same copy of the enemy.
@Suite("enemy_state fast path")
struct EnemyStateFastPathTests {
    /// `e1` is an enemy the room tracks (spawned by the host); `nobody` is not.
    static let plainMessages = [
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":12.3456,"y":-0.005,"velocity_x":3,"health":2.5}}"#,
        #"{"type":"enemy_state","enemy_id":"nobody","state":{"x":12.3456,"is_alive":true,"state":"moving"}}"#,
        #" { "type" : "enemy_state" , "enemy_id" : "e1" , "state" : { "x" : 1 , "facing_right" : false } } "#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{"is_alive":false,"health":0}}"#,  // a death
        #"{"type":"enemy_state","enemy_id":"e1","state":{"enemy_id":"e2","coin_reward":99,"killed_by":"x","x":5}}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{"nested":{"v":1.239,"w":[1,2.555,-0.001,{"z":null}]},"e":{}}}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{},"timestamp":1700000000123}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{"anim":"run","anim":"jump"}}"#,  // the last one counts
        #"{"type":"enemy_state","extra":[1,{"a":2}],"enemy_id":"e1","state":{"x":-0,"big":123456789012345678901}}"#,
        // Past the entity byte cap: refused (limit_exceeded) for a tracked enemy, relayed for another.
        #"{"type":"enemy_state","enemy_id":"e1","state":{"pad":""# + String(repeating: "p", count: 3_000) + #""}}"#,
        #"{"type":"enemy_state","enemy_id":"nobody","state":{"pad":""# + String(repeating: "p", count: 3_000) + #""}}"#,
        // More values than the cap could hold: refused undecoded for a tracked enemy, relayed for another.
        #"{"type":"enemy_state","enemy_id":"e1","state":{"k":["# + zeros(1_023) + "]}}",
        #"{"type":"enemy_state","enemy_id":"nobody","state":{"k":["# + zeros(1_023) + "]}}",
    ]

    /// Plain, but with as many values as the entity cap holds for a tracked enemy: more than its
    /// bytes pay for, so the fast path declines it and the general path decodes it.
    static let valuesAtTheCap = #"{"type":"enemy_state","enemy_id":"e1","state":{"k":["# + zeros(1_022) + "]}}"

    /// `count` zeros, comma-separated.
    static func zeros(_ count: Int) -> String { Array(repeating: "0", count: count).joined(separator: ",") }

    /// Messages the fast path declines: the general path decides (and may refuse them).
    static let declinedMessages = [
        #"{"type":"enemy_state","state":{"x":1},"enemy_id":"e1"}"#,  // state before enemy_id
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":1e2}}"#,  // exponent
        #"{"type":"enemy_state","enemy_id":"e1","state":{"name":"caf\u00e9"}}"#,  // escape
        #"{"type":"enemy_state","enemy_id":"café","state":{"x":1}}"#,  // not ASCII
        #"{"type":"enemy_state","enemy_id":"e1","enemy_id":"e1","state":{"x":1}}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":1},"state":{"x":2}}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":[1]}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":"x"}"#,
        #"{"type":"enemy_state","enemy_id":1,"state":{"x":1}}"#,
        #"{"type":"enemy_state","enemy_id":"e1"}"#,
        #"{"type":"enemy_state","state":{"x":1}}"#,
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":1}"#,  // unterminated
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":1}} x"#,  // trailing characters
        #"{"type":"enemy_state","enemy_id":"e1","state":{"x":01}}"#,  // leading zero
        // Deeper than the fast path goes.
        #"{"type":"enemy_state","enemy_id":"e1","state":{"a":[[[[[[[[[[1]]]]]]]]]]}}"#,
        #"{"type":"enemy_statex","enemy_id":"e1","state":{"x":1}}"#,
    ]

    @Test(arguments: plainMessages)
    func plainMessagesTakeTheFastPath(_ text: String) {
        var text = text
        #expect(text.withUTF8 { EnemyStateRelay($0) != nil })
    }

    @Test(arguments: declinedMessages)
    func otherMessagesAreDeclined(_ text: String) {
        var text = text
        #expect(text.withUTF8 { EnemyStateRelay($0) == nil })
    }

    @Test(arguments: plainMessages + declinedMessages + [valuesAtTheCap])
    func bothPathsAnswerAlike(_ text: String) async throws {
        let fast = try await Self.outcome(
            of: text, generalPathOnly: false, fastPathTakes: Self.plainMessages.contains(text))
        let general = try await Self.outcome(of: text, generalPathOnly: true)
        #expect(fast == general, "\(text)")
    }

    @Test func randomPlainStatesAnswerAlike() async throws {
        var random = SplitMix64(seed: 20_261_201)
        for index in 0..<200 {
            let enemy = index % 2 == 0 ? "e1" : "nobody"
            let state = PlayerStateFastPathTests.randomState(&random)
            let text = #"{"type":"enemy_state","enemy_id":""# + enemy + #"","state":"# + state + "}"
            var bytes = text
            #expect(bytes.withUTF8 { EnemyStateRelay($0) != nil }, "\(text)")
            let fast = try await Self.outcome(of: text, generalPathOnly: false, fastPathTakes: true)
            let general = try await Self.outcome(of: text, generalPathOnly: true)
            #expect(fast == general, "\(text)")
        }
    }

    @Test("The update has the bytes of one built field by field")
    func theUpdateHasTheBytesOfOneBuiltFieldByField() throws {
        var text = #"{"type":"enemy_state","enemy_id":"e1","state":{"x":12.3456}}"#
        let fast = try #require(text.withUTF8 { EnemyStateRelay($0) }).update
        var general = OutboundMessage(type: "enemy_state_update")
        general.add("enemy_id", "e1")
        general.add("state", .object(["x": .number(12.3456)]), roundingFloats: true)
        #expect(TextFrameHeader.framed(fast) == TextFrameHeader.framed(general.encoded()))
        #expect(TextFrameHeader.framed(fast) != nil)
    }

    @Test("A tracked enemy's state with more values than its bytes pay for goes to the reader; another's does not")
    func valueDenseStatesOfTrackedEnemiesGoToTheReader() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(
            #"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","x":1.5,"y":2,"health":3,"coin_reward":2}}"#
        )
        _ = await host.received()
        _ = await guest.received()
        let loop = testEventLoopGroup.next()  // the loop every test room lives on
        let room = try #require(harness.registry.room(code: code))
        // The state object and its `k` array are two values: `paid` elements fill the allowance.
        let paid = RelayLimits.decodedValuesPaidByBytes - 2
        let cases = [("e1", paid, true), ("e1", paid + 1, false), ("nobody", paid + 1, true)]
        for (enemy, elements, inPlace) in cases {
            let list = Array(repeating: "0", count: elements).joined(separator: ",")
            let text = #"{"type":"enemy_state","enemy_id":""# + enemy + #"","state":{"k":["# + list + "]}}"
            #expect(
                try await loop.submit { harness.dispatcher.dispatchInPlace(text, session: host.session) }.get()
                    == inPlace)
        }
        #expect(await room.messagesHandledInPlace == 2)
        #expect(await guest.received().count == 2)
    }

    @Test("A tracked enemy's state with more values than the entity cap could hold is refused without being decoded")
    func oversizedStatesOfTrackedEnemiesAreRefusedUndecoded() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(#"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime"}}"#)
        _ = await host.received()
        _ = await guest.received()
        let loop = testEventLoopGroup.next()  // the loop every test room lives on
        let room = try #require(harness.registry.room(code: code))
        // 1,025 values (the state, its array, 1,023 zeros): over 2,048 / 2.
        let text = #"{"type":"enemy_state","enemy_id":"e1","state":{"k":["# + Self.zeros(1_023) + "]}}"
        // Not to the reader.
        #expect(try await loop.submit { harness.dispatcher.dispatchInPlace(text, session: host.session) }.get())
        #expect(await host.received().map { $0["code"] } == ["limit_exceeded"])
        #expect(await guest.received().isEmpty)
        #expect(await room.state.enemies["e1"]?.fields["k"] == nil)
    }

    // MARK: Helpers

    /// What the room-mate receives, what the sender receives, and the server's copy of `e1`.
    struct Outcome: Equatable {
        var roomMate: [JSONValue]
        var sender: [JSONValue]
        var trackedEnemy: [String: JSONValue]?
    }

    /// `text` sent by the host of a room that tracks the enemy `e1`, on either path.
    /// On the fast path, the message must be taken there just when `fastPathTakes`.
    static func outcome(of text: String, generalPathOnly: Bool, fastPathTakes: Bool = false) async throws -> Outcome {
        let passing = PassingFilter(messageType: "enemy_state")
        let counter = try RawPathCounter(messageType: "enemy_state")
        let dispatcher = try MessageDispatcher(
            handlers: counter.withTheBuiltIns, filters: generalPathOnly ? [passing] : [])
        let harness = Harness(dispatcher: dispatcher)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await host.send(
            #"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","x":1.5,"y":2,"health":3,"coin_reward":2}}"#
        )
        try #require(await host.received().map(\.type) == ["enemy_spawned"])
        try #require(await guest.received().map(\.type) == ["enemy_spawned"])
        await host.send(text)
        if generalPathOnly {
            // The comparison means something only if this side really took the general path.
            let isEnemyState = (try? MessageDispatcher.decode(text))?.type == "enemy_state"
            #expect(passing.seen == (isEnemyState ? 1 : 0), "\(text)")
        }
        #expect(counter.taken == (fastPathTakes && !generalPathOnly ? 1 : 0), "\(text)")
        let room = try #require(harness.registry.room(code: code))
        var sender = await host.received()
        sender = sender.map { $0.type == "error" ? ["type": "error", "code": $0["code"] ?? .null] : $0 }
        return Outcome(
            roomMate: await guest.received(), sender: sender, trackedEnemy: await room.state.enemies["e1"]?.fields)
    }
}

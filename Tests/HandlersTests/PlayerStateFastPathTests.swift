import SeededRandom
import Testing

@testable import Handlers
@testable import Relay

/// The `player_state` fast path (``PlayerStateRelay``) against the general one: plain messages
/// take it, everything else is declined, and either way clients see the same thing.
@Suite("player_state fast path")
struct PlayerStateFastPathTests {
    static let plainMessages = [
        #"{"type":"player_state","state":{"x":12.3456,"y":-0.005,"velocity_x":3,"health":99.5}}"#,
        #" { "type" : "player_state" , "state" : { "x" : 1 , "is_alive" : true , "skin" : "alienBlue" } } "#,
        #"{"type":"player_state","player_id":"spoof","state":{"player_id":"x","player_name":"y","player_number":9,"is_ready":true,"x":0.1}}"#,
        #"{"type":"player_state","state":{"anim":"run","nested":{"v":1.239,"w":[1,2.555,-0.001,{"z":null}]},"empty":{},"none":[]}}"#,
        #"{"type":"player_state","state":{},"timestamp":1700000000123}"#,
        #"{"type":"player_state","state":{"x":-0,"y":0.0,"big":123456789012345678901,"lives":3,"checkpoint":2.0}}"#,
        #"{"type":"player_state","state":{"anim":"run","anim":"jump"},"extra":"ignored"}"#,
        stateFirst,
        #"{"type":"player_state","state":{"x":1,"facing_right":false,"is_jumping":true,"is_shooting":false,"weapon":"laser"}}"#,
    ]

    /// Plain, but the dispatcher looks for a raw handler only when `type` comes first: decoded.
    static let stateFirst = #"{"state":{"x":1},"type":"player_state"}"#

    /// Messages the fast path declines: the general path decides (and may refuse them).
    static let declinedMessages = [
        #"{"type":"player_state","state":{"x":1e2}}"#,  // exponent
        #"{"type":"player_state","state":{"name":"caf\u00e9"}}"#,  // escape
        #"{"type":"player_state","state":{"name":"café"}}"#,  // not ASCII
        #"{"type":"player_state","state":{"x":1,"x":2}}"#,  // a movable key twice
        #"{"type":"player_state","state":{"x":1},"state":{"x":2}}"#,  // state twice
        #"{"type":"player_state","state":[1]}"#,
        #"{"type":"player_state","state":"x"}"#,
        #"{"type":"player_state"}"#,
        #"{"type":"player_state","state":{"x":1}"#,  // unterminated
        #"{"type":"player_state","state":{"x":1}} x"#,  // trailing characters
        #"{"type":"player_state","state":{"x":01}}"#,  // leading zero
        #"{"type":"player_state","state":{"x":1.}}"#,
        #"{"type":"player_state","state":{"x":tru}}"#,
        #"{"type":"player_state","state":{"x":1,}}"#,
        #"{"type":"player_state","state":{"a":[[[[[[[[[[1]]]]]]]]]]}}"#,  // deeper than the fast path goes
        #"{"type":"player_state","state":{"x":1},"bad":"\ud800"}"#,  // lone surrogate elsewhere
        #"{"type":"player_state","state":{"x":123456789012345678901234567890}}"#,  // long number token
        #"{"type":"player_statex","state":{"x":1}}"#,
        // Numbers of 10^16 and more print longer than sent (1.2345678901234568e+16): the relayed
        // state outgrows the fast path's buffer (sized from the message and the player id).
        "{\"type\":\"player_state\",\"state\":{"
            + (0..<48).map { "\"n\($0)\":12345678901234567.0" }.joined(separator: ",") + "}}",
    ]

    /// Plain messages with a movable key of the wrong kind: refused by both paths.
    static let wrongKinds = [
        #"{"type":"player_state","state":{"x":"a"}}"#, #"{"type":"player_state","state":{"is_alive":1}}"#,
        #"{"type":"player_state","state":{"skin":true}}"#, #"{"type":"player_state","state":{"x":null,"y":2}}"#,
        #"{"type":"player_state","state":{"y":2,"weapon":[1]}}"#,
        #"{"type":"player_state","state":{"skin":""# + String(repeating: "s", count: 65) + #""}}"#,  // too long
    ]

    /// A too-long string and a wrong kind in one state, in either order: the wrong kind is the
    /// error on both paths (the general one walks its keys in no set order).
    static let mixedErrors = [
        #"{"type":"player_state","state":{"skin":""# + String(repeating: "s", count: 65) + #"","x":"a"}}"#,
        #"{"type":"player_state","state":{"x":"a","skin":""# + String(repeating: "s", count: 65) + #""}}"#,
        #"{"type":"player_state","state":{"weapon":""# + String(repeating: "s", count: 65) + #"","is_alive":1}}"#,
        #"{"type":"player_state","state":{"is_alive":1,"weapon":""# + String(repeating: "s", count: 65) + #""}}"#,
    ]

    /// Plain messages with a string of the longest length taken.
    static let longestStrings = [
        #"{"type":"player_state","state":{"skin":""# + String(repeating: "s", count: 64) + #""}}"#
    ]

    /// Non-ASCII strings (left to the general path) at and past the limit in code points.
    static let longNonASCIIStrings = [
        #"{"type":"player_state","state":{"x":1,"weapon":""# + String(repeating: "é", count: 65) + #""}}"#,
        #"{"type":"player_state","state":{"weapon":""# + String(repeating: "😀", count: 64) + #""}}"#,
    ]

    @Test(arguments: plainMessages + wrongKinds + longestStrings)
    func plainMessagesTakeTheFastPath(_ text: String) {
        var text = text
        #expect(text.withUTF8 { PlayerStateRelay($0, from: "p") != nil })
    }

    @Test(arguments: declinedMessages + longNonASCIIStrings)
    func otherMessagesAreDeclined(_ text: String) {
        var text = text
        #expect(text.withUTF8 { PlayerStateRelay($0, from: "p") == nil })
    }

    @Test(arguments: plainMessages + declinedMessages + wrongKinds + longestStrings + longNonASCIIStrings + mixedErrors)
    func bothPathsAnswerAlike(_ text: String) async throws {
        let takes =
            (Self.plainMessages + Self.wrongKinds + Self.longestStrings + Self.mixedErrors).contains(text)
            && text != Self.stateFirst
        let fast = try await Self.outcome(of: text, generalPathOnly: false, fastPathTakes: takes)
        let general = try await Self.outcome(of: text, generalPathOnly: true)
        #expect(fast == general, "\(text)")
    }

    /// As the old backend kept it: a reconnect's `game_state` shows a player where the room-mates
    /// last saw them (777.78), not where the sender's float put them (777.777).
    @Test(arguments: [false, true])
    func theServerKeepsThePositionItRelayed(generalPathOnly: Bool) async throws {
        let text = #"{"type":"player_state","state":{"x":777.777,"velocity_x":-3.14159,"lives":2}}"#
        let outcome = try await Self.outcome(of: text, generalPathOnly: generalPathOnly, fastPathTakes: true)
        #expect(outcome.roomMate.first?["state"]?["x"] == 777.78)
        #expect(outcome.storedState?["x"] == 777.78)
        #expect(outcome.storedState?["velocity_x"] == -3.14)
        #expect(outcome.storedState?["lives"] == 2)
    }

    @Test func randomPlainStatesAnswerAlike() async throws {
        var random = SplitMix64(seed: 20_261_129)
        for _ in 0..<200 {
            let text = #"{"type":"player_state","state":"# + Self.randomState(&random) + "}"
            var bytes = text
            #expect(bytes.withUTF8 { PlayerStateRelay($0, from: "p") != nil }, "\(text)")
            let fast = try await Self.outcome(of: text, generalPathOnly: false, fastPathTakes: true)
            let general = try await Self.outcome(of: text, generalPathOnly: true)
            #expect(fast == general, "\(text)")
        }
    }

    /// The update is written in one pass and copied once; its bytes, frame header included, are
    /// those of the update built field by field, whatever the player id holds.
    @Test(arguments: ["p", "guest", #"q"u\o"#, "tab\there\nnew\r\u{00}\u{01}\u{08}\u{0C}\u{1F}", "é-\u{7F}"])
    func theUpdateHasTheBytesOfOneBuiltFieldByField(_ playerID: String) throws {
        var text = #"{"type":"player_state","state":{"x":12.3456,"player_id":"spoof","anim":"run"}}"#
        let fast = try #require(text.withUTF8 { PlayerStateRelay($0, from: playerID) }).update
        var general = PlayerStateRelay.newUpdate(from: playerID)
        general.add("state") { writer in writer.writeFragment(#"{"x":12.35,"anim":"run"}"#) }
        #expect(TextFrameHeader.framed(fast) == TextFrameHeader.framed(general.encoded()))
        #expect(TextFrameHeader.framed(fast) != nil)
    }

    @Test func theRawPathIsSkippedWhenAFilterWatchesTheType() async throws {
        let passing = PassingFilter(messageType: "player_state")
        let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all, filters: [passing])
        let harness = Harness(dispatcher: dispatcher)
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        await guest.send(#"{"type":"player_state","state":{"x":1}}"#)
        #expect(await host.received().map(\.type) == ["player_state_update"])
        #expect(passing.seen == 1)
    }

    @Test func inPlaceOnlyOnTheRoomsLoopForMembersAndRawTypes() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let text = #"{"type":"player_state","state":{"x":1}}"#
        let loop = testEventLoopGroup.next()  // the loop every test room lives on
        // Off the loop it is forwarded there (``ForwardingTests``), not handled here.
        #expect(harness.dispatcher.dispatchInPlace(text, session: guest.session))
        await guest.session.settleForwarded()
        let room = try #require(harness.registry.room(code: code))
        #expect(await room.messagesForwarded == 1)
        #expect(await room.messagesHandledInPlace == 0)
        _ = await host.received()
        #expect(try await loop.submit { harness.dispatcher.dispatchInPlace(text, session: guest.session) }.get())
        #expect(await room.messagesHandledInPlace == 1)
        #expect(await host.received().map(\.type) == ["player_state_update"])
        let chat = #"{"type":"chat","message":"hi"}"#
        #expect(try await !loop.submit { harness.dispatcher.dispatchInPlace(chat, session: guest.session) }.get())
        let outsider = harness.client()
        #expect(try await !loop.submit { harness.dispatcher.dispatchInPlace(text, session: outsider.session) }.get())
        // A refused message is answered in place.
        let wrong = #"{"type":"player_state","state":{"x":"a"}}"#
        #expect(try await loop.submit { harness.dispatcher.dispatchInPlace(wrong, session: guest.session) }.get())
        #expect(await guest.received().first?["code"] == "invalid_field")
        #expect(await host.received().isEmpty)
    }

    /// Closed by the server (too slow, flooding) but not yet gone, a connection is still its
    /// room's member for the seconds its close takes; what it sends meanwhile is dropped
    /// (``MessageDispatcher/dispatch(_:session:)``), on the fast path too.
    @Test func aConnectionBeingClosedRelaysNothing() async throws {
        let harness = try Harness()
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        let room = try #require(harness.registry.room(code: code))
        guest.connection.close(code: RelayCloseCode.slowConsumer)  // as its queue's overflow does
        let text = #"{"type":"player_state","state":{"x":1}}"#
        let loop = testEventLoopGroup.next()  // the loop every test room lives on
        #expect(try await !loop.submit { harness.dispatcher.dispatchInPlace(text, session: guest.session) }.get())
        #expect(!harness.dispatcher.dispatchInPlace(text, session: guest.session), "nor forwarded from elsewhere")
        await guest.send(text)  // where the frame handler then hands it: the reader
        await guest.session.settleForwarded()
        #expect(await host.received().isEmpty)
        #expect(await room.isCurrent("guest", connection: guest.connection), "a member until its socket closes")
    }

    // MARK: Helpers

    /// What a room-mate receives, what the sender receives, and the server's copy of the
    /// sender afterwards.
    struct Outcome: Equatable {
        var roomMate: [JSONValue]
        var sender: [JSONValue]
        var storedState: [String: JSONValue]?
    }

    /// `text` sent by the guest, on the general path only, or else on the fast path where it
    /// takes it (which it must do just when `fastPathTakes`).
    static func outcome(of text: String, generalPathOnly: Bool, fastPathTakes: Bool = false) async throws -> Outcome {
        let passing = PassingFilter(messageType: "player_state")
        let counter = try RawPathCounter(messageType: "player_state")
        let dispatcher = try MessageDispatcher(
            handlers: counter.withTheBuiltIns, filters: generalPathOnly ? [passing] : [])
        let harness = Harness(dispatcher: dispatcher)
        let (host, guest, code) = try await harness.roomWithTwoPlayers()
        await guest.send(text)
        // The comparison means something only if each side took the path it names: the filter
        // sees every message whose envelope decodes as a `player_state`.
        if generalPathOnly {
            let isPlayerState = (try? MessageDispatcher.decode(text))?.type == "player_state"
            #expect(passing.seen == (isPlayerState ? 1 : 0), "\(text)")
        }
        #expect(counter.taken == (fastPathTakes && !generalPathOnly ? 1 : 0), "\(text)")
        let room = try #require(harness.registry.room(code: code))
        var sender = await guest.received()
        // Error texts may name a different key when several are wrong; the code must agree.
        sender = sender.map { $0.type == "error" ? ["type": "error", "code": $0["code"] ?? .null] : $0 }
        return Outcome(
            roomMate: await host.received(), sender: sender, storedState: await room.state.player("guest")?.state.fields
        )
    }

    /// A random plain `state` object: movable keys with their kinds, identity keys, others
    /// with nested values, numbers with up to 6 decimals, random whitespace.
    static func randomState(_ random: inout SplitMix64) -> String {
        let movable = RoomPlayer.movableKeys.sorted { $0.key < $1.key }
        var members: [String] = []
        for (key, kind) in movable where random.next() % 2 == 0 {
            let value: String
            switch kind {
            case .number: value = randomNumber(&random)
            case .string: value = "\"s\(random.next() % 100)\""
            case .bool: value = random.next() % 2 == 0 ? "true" : "false"
            }
            members.append("\"\(key)\":\(value)")
        }
        for key in ["player_id", "is_ready", "anim", "frame", "extra"] where random.next() % 3 == 0 {
            members.append("\"\(key)\":\(randomValue(&random, depth: 0))")
        }
        members.shuffle(using: &random)
        let space = random.next() % 4 == 0 ? " " : ""
        return "{" + space + members.joined(separator: space + "," + space) + space + "}"
    }

    static func randomNumber(_ random: inout SplitMix64) -> String {
        let sign = random.next() % 3 == 0 ? "-" : ""
        let whole = random.next() % 5 == 0 ? "0" : String(random.next() % 100_000)
        let decimals = Int(random.next() % 7)
        guard decimals > 0 else { return sign + whole }
        return sign + whole + "." + String((0..<decimals).map { _ in Character(String(random.next() % 10)) })
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> String {
        switch random.next() % (depth < 3 ? 7 : 5) {
        case 0: return randomNumber(&random)
        case 1: return "\"v\(random.next() % 1000)\""
        case 2: return ["true", "false", "null"][Int(random.next() % 3)]
        case 3, 4: return randomNumber(&random)
        case 5:
            return "["
                + (0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: depth + 1) }.joined(
                    separator: ",") + "]"
        default:
            return "{"
                + (0..<Int(random.next() % 4)).map { "\"k\($0)\":" + randomValue(&random, depth: depth + 1) }
                .joined(separator: ",") + "}"
        }
    }

    /// Every `room_info` lists each player's skin, and so do the room lists: a `player_state` that
    /// changes it, by either path, is published to them.
    @Test(arguments: [
        #"{"type":"player_state","state":{"x":1,"skin":"alienBlue"}}"#,  // the fast path
        #"{"type":"player_state","state":{"x":1e0,"skin":"alien\u0042lue"}}"#,  // the general one
    ])
    func aNewSkinReachesTheRoomLists(message: String) async throws {
        let harness = try Harness()
        let (_, guest, _) = try await harness.roomWithTwoPlayers(maxPlayers: 3)
        func listedSkins(joinableOnly: Bool) -> [String] {
            harness.registry.roomInfos(joinableOnly: joinableOnly).flatMap { $0["players"]?.arrayValue ?? [] }
                .compactMap { $0["skin"]?.stringValue }
        }
        #expect(listedSkins(joinableOnly: true) == ["alienGreen", "alienPink"])
        await guest.send(message)
        #expect(listedSkins(joinableOnly: true) == ["alienGreen", "alienBlue"])
        #expect(listedSkins(joinableOnly: false) == ["alienGreen", "alienBlue"])
    }
}

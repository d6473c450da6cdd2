import SeededRandom
import Testing

@testable import Handlers
@testable import Relay

/// The `game_action` fast path (``GameActionRelay``) against the general one: plain messages
/// take it, everything else is declined, and either way clients see the same thing.
@Suite("game_action fast path")
struct GameActionFastPathTests {
    static let plainMessages = [
        #"{"type":"game_action","action":"shoot","data":{"angle":1.23456,"x":-0.005,"power":3,"big":123456789012345678901}}"#,
        #"{"type":"game_action","action":"jump"}"#,  // no data: {}
        #"{"type":"game_action","action":"jump","data":null}"#,
        #"{"type":"game_action","data":{"x":1.50,"y":0.000012,"z":-0.0,"w":-0,"v":3.0},"action":"hit"}"#,  // data first
        #" { "type" : "game_action" , "action" : "hit" , "data" : { "target" : "e1" , "list" : [ 1 , 2.5 , true ] } } "#,
        #"{"type":"game_action","action":"x","data":{"nested":{"v":1.239,"w":[1,2.555,-0.001,{"z":null}]},"e":{}}}"#,
        #"{"type":"game_action","action":"x","data":{"a":1,"a":2},"timestamp":1700000000123,"extra":[{"b":[]}]}"#,
        #"{"type":"game_action","action":"","data":{"player_id":"spoof"}}"#,
        #"{"type":"game_action","action":"a","data":{},"action":"b"}"#,  // the last one counts
        #"{"type":"game_action","action":"Assist","data":{"target_player_id":"guest","x":1,"y":1}}"#,
        #"{"type":"game_action","action":"x","data":{"f":1234567890.123456,"g":999999999999999.9,"h":0.1000}}"#,
        #"{"type":"game_action","player_id":"spoof","action":"shoot","data":{"x":1}}"#,  // relayed under the sender's
    ]

    /// Messages the fast path declines: the general path decides (and may refuse them).
    static let declinedMessages = [
        #"{"type":"game_action","action":"assist","data":{"target_player_id":"guest","x":10.555,"y":20}}"#,
        #"{"type":"game_action","action":"assist"}"#,
        #"{"type":"game_action","action":"x","action":"assist","data":{}}"#,  // repeated member
        #"{"type":"game_action","action":"x","data":{},"data":{"a":1}}"#,
        #"{"type":"game_action","action":"x","data":{"a":1},"data":null}"#,
        #"{"type":"game_action","action":"x","action":"assist","data":{"target_player_id":"guest","x":1,"y":1}}"#,
        #"{"type":"game_action","type":"game_action","action":"x"}"#,
        #"{"type":"game_action","action":5}"#,
        #"{"type":"game_action","action":null}"#,
        #"{"type":"game_action","data":{}}"#,
        #"{"type":"game_action","action":"x","data":5}"#,
        #"{"type":"game_action","action":"x","data":[1]}"#,
        #"{"type":"game_action","action":"x","data":true}"#,
        #"{"type":"game_action","action":"x","data":{"x":1e2}}"#,  // exponent
        #"{"type":"game_action","action":"caf\u00e9","data":{}}"#,  // escape
        #"{"type":"game_action","action":"x","data":{"name":"café"}}"#,  // not ASCII
        #"{"type":"game_action","action":"x","data":{"x":1}"#,  // unterminated
        #"{"type":"game_action","action":"x","data":{"x":1}} x"#,  // trailing characters
        #"{"type":"game_action","action":"x","data":{"x":01}}"#,  // leading zero
        #"{"type":"game_action","action":"x","data":{"a":[[[[[[[[[[1]]]]]]]]]]}}"#,  // deeper than the fast path goes
        #"{"type":"game_actionx","action":"x"}"#,
        #"{"type":"game_action","player_id":"spoof","action":"x","data":{"name":"café"}}"#,  // decoded
    ]

    @Test(arguments: plainMessages)
    func plainMessagesTakeTheFastPath(_ text: String) {
        var text = text
        #expect(text.withUTF8 { GameActionRelay($0, from: "guest") != nil })
    }

    @Test(arguments: declinedMessages)
    func otherMessagesAreDeclined(_ text: String) {
        var text = text
        #expect(text.withUTF8 { GameActionRelay($0, from: "guest") == nil })
    }

    @Test(arguments: plainMessages + declinedMessages)
    func bothPathsAnswerAlike(_ text: String) async throws {
        for sender in [Sender.host, .guest] {
            let fast = try await Self.outcome(
                of: text, from: sender, generalPathOnly: false, fastPathTakes: Self.plainMessages.contains(text))
            let general = try await Self.outcome(of: text, from: sender, generalPathOnly: true)
            #expect(fast == general, "\(sender): \(text)")
            // Alike is not enough: both could take a `player_id` the message carries for the sender's.
            let senderID: JSONValue = sender == .host ? "host" : "guest"
            let relayed = general.roomMate.filter { $0.type == "game_action" }
            #expect(relayed.allSatisfy { $0["player_id"] == senderID }, "\(sender): \(text) → \(relayed)")
        }
    }

    @Test func randomPlainActionsAnswerAlike() async throws {
        var random = SplitMix64(seed: 20_261_202)
        for _ in 0..<200 {
            var members = [#""action":"a\#(random.next() % 10)""#]
            if random.next() % 4 != 0 {
                members.append(#""data":"# + Self.randomObject(&random))
            }
            if random.next() % 3 == 0 {
                members.append(#""extra":"# + PlayerStateFastPathTests.randomValue(&random, depth: 0))
            }
            members.shuffle(using: &random)
            let text = #"{"type":"game_action","# + members.joined(separator: ",") + "}"
            var bytes = text
            #expect(bytes.withUTF8 { GameActionRelay($0, from: "guest") != nil }, "\(text)")
            let fast = try await Self.outcome(of: text, from: .guest, generalPathOnly: false, fastPathTakes: true)
            let general = try await Self.outcome(of: text, from: .guest, generalPathOnly: true)
            #expect(fast == general, "\(text)")
        }
    }

    /// The relayed message, frame header included, has the bytes of one built field by field,
    /// whatever the player id holds.
    @Test(arguments: ["p", "guest", #"q"u\o"#, "tab\there\nnew\r\u{00}\u{01}\u{08}\u{0C}\u{1F}", "é-\u{7F}"])
    func theRelayedMessageHasTheBytesOfOneBuiltFieldByField(_ playerID: String) throws {
        var text = #"{"type":"game_action","action":"shoot","data":{"angle":1.50}}"#
        let fast = try #require(text.withUTF8 { GameActionRelay($0, from: playerID) }).relayed
        var general = OutboundMessage(type: "game_action")
        general.add("player_id", playerID)
        general.add("action", "shoot")
        general.add("data", .object(["angle": .number(1.5)]))
        #expect(TextFrameHeader.framed(fast) == TextFrameHeader.framed(general.encoded()))
        #expect(TextFrameHeader.framed(fast) != nil)
    }

    // MARK: Helpers

    enum Sender { case host, guest }

    /// What the room-mate receives and what the sender receives.
    struct Outcome: Equatable {
        var roomMate: [JSONValue]
        var sender: [JSONValue]
    }

    /// `text` sent by the host or the guest of a two-player room, on either path.
    /// On the fast path, the message must be taken there just when `fastPathTakes`.
    static func outcome(
        of text: String, from sender: Sender, generalPathOnly: Bool, fastPathTakes: Bool = false
    )
        async throws -> Outcome
    {
        let passing = PassingFilter(messageType: "game_action")
        let counter = try RawPathCounter(messageType: "game_action")
        let dispatcher = try MessageDispatcher(
            handlers: counter.withTheBuiltIns, filters: generalPathOnly ? [passing] : [])
        let harness = Harness(dispatcher: dispatcher)
        let (host, guest, _) = try await harness.roomWithTwoPlayers()
        let (from, to) = sender == .host ? (host, guest) : (guest, host)
        await from.send(text)
        if generalPathOnly {
            // The comparison means something only if this side really took the general path.
            let isGameAction = (try? MessageDispatcher.decode(text))?.type == "game_action"
            #expect(passing.seen == (isGameAction ? 1 : 0), "\(text)")
        }
        #expect(counter.taken == (fastPathTakes && !generalPathOnly ? 1 : 0), "\(text)")
        var sent = await from.received()
        sent = sent.map { $0.type == "error" ? ["type": "error", "code": $0["code"] ?? .null] : $0 }
        return Outcome(roomMate: await to.received(), sender: sent)
    }

    /// A random object of the plain subset, numbers as games send them.
    static func randomObject(_ random: inout SplitMix64) -> String {
        "{"
            + (0..<Int(random.next() % 6)).map {
                #""k\#($0)":"# + PlayerStateFastPathTests.randomValue(&random, depth: 1)
            }
            .joined(separator: ",") + "}"
    }
}

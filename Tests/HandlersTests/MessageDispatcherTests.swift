import Testing

@testable import Handlers
@testable import Relay

@Suite("MessageDispatcher")
struct MessageDispatcherTests {
    @Test func duplicateTypeIsRefusedAtInit() throws {
        let error = try #require(throws: MessageDispatcher.RegistrationError.self) {
            try MessageDispatcher(handlers: [PingHandler(), ChatHandler(), PingHandler()])
        }
        #expect(error == .duplicateType("ping"))
        #expect(error.description.contains("'ping'"))
        #expect(throws: MessageDispatcher.RegistrationError.duplicateType("emote")) {
            try MessageDispatcher(handlers: BuiltInHandlers.all + [EmoteHandler()])
        }
    }

    @Test func builtInHandlersCoverTheProtocol() throws {
        let dispatcher = try MessageDispatcher(handlers: BuiltInHandlers.all)
        #expect(
            dispatcher.messageTypes == [
                "chat", "coin_spawn", "collect_item", "create_room", "emote", "enemy_killed", "enemy_spawn",
                "enemy_state",
                "game_action", "join_room", "leave_room", "ping", "player_ready", "player_state", "powerup_spawn",
                "reconnect", "start_game", "sync_entities", "time_sync",
            ])
    }

    @Test(arguments: ["{", "not json", "", "{\"type\":\"ping\"", "{\"type\":\"ping\"} x", "{\"type\":NaN}", "[1,]"])
    func invalidJSON(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("invalid_json", after: text)
    }

    /// Numbers past a double's range are valid JSON, but the game's messages must hold finite
    /// numbers (PROTOCOL.md §3): what Python read as `inf` it relayed as `Infinity`, which a browser
    /// cannot parse.
    @Test(
        "An invalid_json error says why and at which byte",
        arguments: [
            (#"{"type":"ping""#, "expected ',' or '}' at byte 14"),
            (#"{"type":"ping"} x"#, "trailing characters at byte 16"),
            (#"{"type":"time_sync","client_time":1e400}"#, "number out of range at byte 34"),
            (
                #"{"type":"chat","message":"hi","v":-1"# + String(repeating: "0", count: 400) + "}",
                "number out of range at byte 34"
            ),
            (#"{"type":NaN}"#, "unexpected character at byte 8"),
        ])
    func invalidJSONSaysWhy(text: String, detail: String) async throws {
        let client = try Harness().client()
        await client.send(text)
        let error = await client.received().first
        #expect(error?["code"]?.stringValue == "invalid_json")
        #expect(error?["message"]?.stringValue == "Message is not valid JSON: \(detail)")
    }

    @Test(arguments: ["[1]", "[]", "\"ping\"", "5", "null", "true"])
    func nonObjectMessages(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("invalid_message", after: text)
    }

    @Test(arguments: [#"{}"#, #"{"type":5}"#, #"{"type":null}"#, #"{"type":["ping"]}"#, #"{"Type":"ping"}"#])
    func missingType(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("missing_type", after: text)
    }

    @Test func unknownType() async throws {
        let client = try Harness().client()
        await client.send(#"{"type":"teleport"}"#)
        let messages = await client.received()
        #expect(messages.count == 1)
        #expect(messages.first?["code"] == "unknown_type")
        #expect(messages.first?["message"]?.stringValue?.contains("teleport") == true)
        await client.expectError("unknown_type", after: #"{"type":""}"#)
        await client.expectError("unknown_type", after: #"{"type":"PING"}"#)
    }

    /// Swift's `==` takes the Kelvin sign (U+212A) for a K; a plugin or handler told the type would
    /// see a spelling it was never registered under.
    @Test("Types and rewrites are compared code point for code point, not canonically")
    func spellingsAreComparedByCodePoint() {
        #expect("\u{212A}ick" == "Kick", "Swift's ==")
        #expect(!"\u{212A}ick".isSpelled(as: "Kick"))
        #expect("Kick".isSpelled(as: "Kick") && !"Kick".isSpelled(as: "Kic"))
    }

    @Test("A type spelled other than its handler's, though canonically equal, is unknown")
    func anotherSpellingOfATypeIsUnknown() async throws {
        struct Kick: MessageHandler {
            let messageType = "Kick"
            func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
                session.reply(OutboundMessage.make(type: "kicked", ["as": .string(message.type)]))
            }
        }
        #expect("\u{212A}ick" == "Kick")
        let client = try Harness(dispatcher: MessageDispatcher(handlers: BuiltInHandlers.all + [Kick()])).client()
        await client.expectError("unknown_type", after: #"{"type":"\u212Aick"}"#)
        await client.send(#"{"type":"Kick"}"#)
        #expect(await client.received() == [["type": "kicked", "as": "Kick"]])
    }

    /// A filter names its type as dispatch reads it: one for another spelling of a handler's type
    /// would run on that handler's messages (the table takes the spellings as one key), never on
    /// its own, so it is refused as a filter without a handler.
    @Test func aFilterForAnotherSpellingOfATypeHasNoHandler() throws {
        struct Kick: MessageHandler {
            let messageType = "Kick"
            func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {}
        }
        do {
            _ = try MessageDispatcher(handlers: [Kick()], filters: [PassingFilter(messageType: "\u{212A}ick")])
            Issue.record("registered")
        } catch .filterWithoutHandler(let type) {
            #expect(type.unicodeScalars.first == "\u{212A}")
        } catch {
            Issue.record("\(error)")
        }
        _ = try MessageDispatcher(handlers: [Kick()], filters: [PassingFilter(messageType: "Kick")])
    }

    @Test(arguments: [
        #"{"type":"chat","message":"\ud800"}"#, #"{"type":"ping","x":"\udc00"}"#, #"{"type":"ping","\ud83d":1}"#,
        #"{"type":"\ud83dx"}"#, #"{"type":"player_state","state":{"skin":["a\ud83d\u0041"]}}"#,
    ])
    func loneSurrogatesAreInvalidFields(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("invalid_field", after: text)
    }

    /// Not JSON at all: Python's `json.loads` refuses the syntax, whatever the strings hold.
    @Test(arguments: [#"{"type":"chat","message":"\ud800"#, #"{"type":"chat","message":"\ud800\x"}"#])
    func aMalformedMessageWithALoneSurrogateIsInvalidJSON(_ text: String) async throws {
        let client = try Harness().client()
        await client.expectError("invalid_json", after: text)
    }

    @Test func aLoneSurrogateErrorSaysWhere() async throws {
        let client = try Harness().client()
        await client.send(#"{"type":"chat","message":"\ud800"}"#)
        let error = await client.received().first
        #expect(error?["message"]?.stringValue == "Strings must be valid Unicode: a lone surrogate escape at byte 32")
    }

    /// Such a string would cost quadratic time to hash as a key, a type or a room code.
    @Test func longRunsOfCombiningMarksAreInvalidFields() async throws {
        let marks = String(repeating: "\u{0301}", count: 8_000) + String(repeating: "\u{0316}", count: 8_000)
        let client = try Harness().client()
        for text in [
            #"{"type":"ping","a\#(marks)":0}"#, #"{"type":"a\#(marks)"}"#,
            #"{"type":"join_room","room_id":"A\#(marks)","player_name":"Ann"}"#,
        ] {
            await client.send(text)
            let error = await client.received().first
            #expect(error?["code"] == "invalid_field")
            #expect(
                error?["message"]?.stringValue?.hasPrefix("Strings may stack at most 30 combining marks in a row")
                    == true)
        }
        await client.send(#"{"type":"chat","message":"a\#(String(repeating: "\u{0301}", count: 30))"}"#)
        #expect(await client.received().first?["code"] == "not_in_room")  // 30 are text like any other
    }

    @Test func anUnknownTypeIsQuotedShort() async throws {
        let client = try Harness().client()
        let type = "t" + String(repeating: "\u{0301}\u{0316}", count: 15) + String(repeating: "x", count: 500)
        await client.send(#"{"type":"\#(type)"}"#)
        let message = try #require(await client.received().first?["message"]?.stringValue)
        #expect(message == "Unknown message type '\(String(String.UnicodeScalarView(type.unicodeScalars.prefix(64))))'")
        #expect(message.utf8.count < 150)
    }

    @Test func decodeReturnsTypeAndFields() throws {
        let message = try MessageDispatcher.decode(#"{"type":"chat","message":"hi","n":1}"#)
        #expect(message.type == "chat")
        #expect(message.fields == ["type": "chat", "message": "hi", "n": 1])
    }

    @Test func theConnectionStaysUsableAfterBadInput() async throws {
        let client = try Harness().client()
        for text in ["{", "[1]", "{}", #"{"type":"nope"}"#] { await client.send(text) }
        #expect(
            await client.received().map { $0["code"]?.stringValue } == [
                "invalid_json", "invalid_message", "missing_type", "unknown_type",
            ])
        await client.send(#"{"type":"ping"}"#)
        #expect(await client.received().map(\.type) == ["pong"])
        #expect(client.connection.closeCode == nil)
        #expect(client.closedWith.isEmpty)
    }
}

@Suite("InboundMessage")
struct InboundMessageTests {
    private let message = InboundMessage(
        type: "t",
        fields: ["s": "x", "n": 1, "d": .number(1.5), "b": true, "o": ["k": 1], "a": [1], "z": nil, "name": "  Bob \n"])

    @Test func typedAccessors() throws {
        #expect(try self.message.string("s") == "x")
        #expect(try self.message.optionalString("z") == nil)
        #expect(try self.message.optionalString("missing") == nil)
        #expect(try self.message.object("o") == ["k": 1])
        #expect(try self.message.optionalArray("a") == [1])
        #expect(try self.message.optionalBool("b") == true)
        #expect(try self.message.optionalNumber("n") == 1)
        #expect(try self.message.optionalNumber("d") == 1.5)
        #expect(try self.message.number("d") == 1.5)
        #expect(try self.message.name("name", maxLength: 3) == "Bob")
    }

    @Test func wrongKindsAreInvalidFields() {
        #expect(throws: RelayError.invalidField("n", expected: "a string")) { try self.message.string("n") }
        #expect(throws: RelayError.invalidField("missing", expected: "a string")) { try self.message.string("missing") }
        #expect(throws: RelayError.invalidField("s", expected: "an object")) { try self.message.object("s") }
        #expect(throws: RelayError.invalidField("o", expected: "an array")) { try self.message.optionalArray("o") }
        #expect(throws: RelayError.invalidField("n", expected: "a boolean")) { try self.message.optionalBool("n") }
        #expect(throws: RelayError.invalidField("b", expected: "a number")) { try self.message.optionalNumber("b") }
        #expect(throws: RelayError.invalidField("z", expected: "a number")) { try self.message.number("z") }
        #expect(throws: RelayError.tooLong("name", limit: 2)) { try self.message.name("name", maxLength: 2) }
        let blank = InboundMessage(type: "t", fields: ["name": "   "])
        #expect(throws: RelayError.invalidField("name", expected: "a non-empty string")) {
            try blank.name("name", maxLength: 9)
        }
    }

    @Test func trimmingWhitespace() {
        #expect("  a b \t\n".trimmingWhitespace() == "a b")
        #expect("".trimmingWhitespace() == "")
        #expect("   ".trimmingWhitespace() == "")
        #expect("x".trimmingWhitespace() == "x")
        #expect("\u{A0}\u{3000}Bob\r\n\u{2003}".trimmingWhitespace() == "Bob")  // Unicode whitespace, as Character's
        #expect("\u{85}\u{2028}".trimmingWhitespace() == "")
        #expect(" 🇫🇷 x 🇫🇷\t".trimmingWhitespace() == "🇫🇷 x 🇫🇷")
        #expect("\u{200B}Bob".trimmingWhitespace() == "\u{200B}Bob")  // zero-width space is not White_Space
        // Python's strip() takes U+001C–U+001F; they are not White_Space.
        #expect("\u{1C}Bob\u{1F}".trimmingWhitespace() == "\u{1C}Bob\u{1F}")
    }

    /// Breaking flag letters into characters from the end restarts at every step: trimming
    /// 64,000 of them backwards took ~16 s (release), the time a room's event loop stood still.
    /// Timed in this thread's CPU time (the path is synchronous), which a loaded machine
    /// delays but does not add to: the frame's decoding and the name's check, as a handler does.
    @Test func overLongFlagNamesAreRefusedInLinearTime() throws {
        let flags = String(repeating: "\u{1F1E6}", count: 64_000)
        let frame = #"{"type":"create_room","player_name":" \#(flags)\n"}"#
        let start = threadCPUTime()
        let message = try MessageDispatcher.decode(frame)
        #expect(throws: RelayError.tooLong("player_name", limit: 32)) {
            try message.name("player_name", maxLength: 32)
        }
        #expect(" \(flags)\n".trimmingWhitespace().unicodeScalars.count == 64_000)
        #expect(threadCPUTime() - start < .seconds(1))  // debug build: ~10 ms
    }
}

/// A room handler that refuses its message after asking the room to send the sender a
/// `marker` on the room's next turn: what a room event right after the refusal looks like.
private struct RefusesBeforeARoomEvent: RawRoomMessageHandler {
    let messageType: String

    func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
        try self.refuse(playerID, in: room)
    }

    func handleRaw(
        _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
    )
        throws(RelayError) -> Bool
    {
        guard self.messageType == "refuses_raw" else { return false }
        try self.refuse(playerID, in: room)
        return true
    }

    private func refuse(_ playerID: String, in room: isolated GameRoom) throws(RelayError) {
        room.executeOnLoop { room in room.send(OutboundMessage.make(type: "marker", [:]), to: playerID) }
        throw .notHost
    }
}

@Suite("MessageDispatcher: a room's refusal")
struct RoomRefusalOrderTests {
    /// The refusal is queued in the room, as its replies are: a room event that comes after the
    /// message was judged (another player leaving, say) never overtakes it. A host told it is
    /// host by `player_left` must not then read `not_host` for a message judged before.
    @Test(arguments: ["refuses", "refuses_raw"])
    func aRefusalIsQueuedBeforeLaterRoomEvents(_ type: String) async throws {
        let dispatcher = try MessageDispatcher(
            handlers: BuiltInHandlers.all + [RefusesBeforeARoomEvent(messageType: type)])
        let harness = Harness(dispatcher: dispatcher)
        let client = harness.client()
        _ = try await client.createRoom(playerID: "host", name: "Hosty")
        for _ in 0..<20 {
            await client.send(#"{"type":"\#(type)"}"#)
            var messages = await client.received()
            try await harness.eventually {
                messages += await client.received()
                return messages.count >= 2
            }
            #expect(messages.map(\.type) == ["error", "marker"])
        }
    }
}

import Foundation
import NIOCore
import Testing

@testable import Handlers
@testable import Relay
@testable import RelayServer

/// Each fuzz check flags what it exists to catch, shown through its seam: the part under test
/// swapped for a broken one.
@Suite("Fuzz checks can fail")
struct FuzzCheckFailureTests {
    /// The violation `check` reports for `input`, if any.
    static func violation(
        _ input: String, _ check: (UnsafeBufferPointer<UInt8>) throws(FuzzViolation) -> Void
    ) -> FuzzViolation? {
        do throws(FuzzViolation) {
            try Array(input.utf8).withUnsafeBufferPointer { bytes throws(FuzzViolation) in try check(bytes) }
            return nil
        } catch {
            return error
        }
    }

    @Test("JSON: a writer that loses a member")
    func json() {
        #expect(Self.violation(#"{"a":1}"#, JSONCheck().run) == nil)
        let broken = JSONCheck(write: { _, _ in Array("{}".utf8) })
        #expect(Self.violation(#"{"a":1}"#, broken.run)?.description.contains("reads differently") == true)
    }

    @Test("JSON: a value unlike Foundation's (kind, number, bit pattern, code point, member)")
    func jsonAgainstFoundation() {
        let same: [(JSONValue, Any)] = [
            (.null, NSNull()), (.bool(true), NSNumber(value: true)), (.integer(-7), NSNumber(value: -7)),
            (.number(0.1), NSNumber(value: 0.1)), (.string("a\n"), "a\n"), (.string("\u{FEFF}a"), "a"),
            (.object(["k": .array([.integer(1)])]), ["k": [NSNumber(value: 1)]]),
        ]
        for (value, foundation) in same { #expect(JSONCheck.sameAsFoundation(value, foundation), "\(value)") }
        let different: [(JSONValue, Any)] = [
            (.null, NSNumber(value: 0)), (.bool(true), NSNumber(value: 1)), (.integer(1), NSNumber(value: 2)),
            (.integer(1), NSNumber(value: 1.0)), (.number(-0.0), NSNumber(value: 0.0)),
            (.number(0.1), NSNumber(value: 0.1 + 1e-17)), (.string("a\r"), "a\n"),
            (.string("\u{E9}"), "e\u{301}"),  // canonically equivalent, other code points
            (.string("a"), "\u{FEFF}a"),  // Foundation may lack a U+FEFF, never have one more
            (.string("a\u{FEFF}b"), "ab\u{FEFF}"),
            (.array([.integer(1)]), [NSNumber(value: 1), NSNumber(value: 2)]),
            (.object(["k": .integer(1)]), ["j": NSNumber(value: 1)]),
        ]
        for (value, foundation) in different { #expect(!JSONCheck.sameAsFoundation(value, foundation), "\(value)") }
    }

    @Test("JSON: a growing sink that goes past its limit, or never overflows")
    func jsonGrowingSink() {
        let pastItsLimit = JSONCheck(writeToGrowingSink: { value, _ in
            JSONByteSink.withGrowingMemory(initialCapacity: 1, limit: 1 << 20) { sink in
                sink.write(value, roundingFloats: true)
                return (sink.overflowed, Array(sink.written))
            }
        })
        #expect(Self.violation(#"{"a":1}"#, pastItsLimit.run)?.description.contains("took") == true)
        // One that says it overflowed, but only after writing past its limit.
        let overflowedLate = JSONCheck(writeToGrowingSink: { value, limit in
            let (_, written) = JSONCheck().writeToGrowingSink(value, 2 * limit)
            return (true, written)
        })
        #expect(Self.violation(#"{"a":1}"#, overflowedLate.run)?.description.contains("took") == true)
        let cutShort = JSONCheck(writeToGrowingSink: { value, limit in
            let (overflowed, written) = JSONCheck().writeToGrowingSink(value, limit)
            return (overflowed, Array(written.dropLast()))
        })
        #expect(Self.violation(#"{"a":1}"#, cutShort.run)?.description.contains("differs") == true)
    }

    @Test("Relays: an in-place relay the general decode reads as another type")
    func relays() {
        // Byte 0: a player id of 2 bytes, "p1".
        let message = "\u{2}p1" + #"{"type":"game_action","action":"jump","data":{"x":1}}"#
        #expect(Self.violation(message, RelaysCheck().run) == nil)
        let broken = RelaysCheck(decode: { try MessageDispatcher.decode($0.replacing("game_action", with: "chat")) })
        #expect(Self.violation(message, broken.run)?.description.contains("decoded otherwise") == true)
        // The in-place player_state and enemy_state relays against the general path's update,
        // refusal and kept values: a general decode that reads other numbers or kinds differs.
        let state = "\u{2}p1" + #"{"type":"player_state","state":{"x":1.234,"skin":"a"}}"#
        let enemy = "\u{2}p1" + #"{"type":"enemy_state","enemy_id":"e1","state":{"x":1.234}}"#
        for good in [state, enemy] { #expect(Self.violation(good, RelaysCheck().run) == nil) }
        let otherNumber = RelaysCheck(decode: { try MessageDispatcher.decode($0.replacing("1.234", with: "1.5")) })
        #expect(Self.violation(state, otherNumber.run)?.description.contains("generally") == true)
        #expect(Self.violation(enemy, otherNumber.run)?.description.contains("enemy_state relayed as") == true)
        let otherKind = RelaysCheck(decode: { try MessageDispatcher.decode($0.replacing(#""a""#, with: "1")) })
        #expect(Self.violation(state, otherKind.run)?.description.contains("general path") == true)
    }

    @Test("Plugin: a lenient reader naming another request")
    func plugin() {
        // Byte 0: lines up to 128 bytes; byte 1: where reads are cut.
        let stdout = "\u{7F}\u{5}" + #"{"kind":"answer","id":7,"verdict":"pass"}"# + "\n"
        #expect(Self.violation(stdout, PluginCheck().run) == nil)
        let broken = PluginCheck(lenientID: { _ in 8 })
        #expect(Self.violation(stdout, broken.run)?.description.contains("answer 7 read leniently as 8") == true)
        // One that loses its way in an escaped quote, or at a NaN.
        let escaped =
            "\u{7F}\u{5}" + #"{"kind":"answer","id":7,"verdict":"reject","error":{"code":"x","message":"a\"b"}}"# + "\n"
        #expect(Self.violation(escaped, PluginCheck().run) == nil)
        // `-0` is 0 to both readers.
        let minusZero = "\u{7F}\u{5}" + #"{"kind":"answer","id":-0,"verdict":"pass"}"# + "\n"
        #expect(Self.violation(minusZero, PluginCheck().run) == nil)
        let lostInEscapes = PluginCheck(lenientID: { $0.contains(0x5C) ? nil : UnparsableAnswer.id($0) })
        #expect(Self.violation(escaped, lostInEscapes.run)?.description.contains("read leniently as nil") == true)
        let lostAtNaN = PluginCheck(lenientID: { $0.contains(UInt8(ascii: "N")) ? nil : UnparsableAnswer.id($0) })
        #expect(Self.violation(stdout, lostAtNaN.run)?.description.contains("with a NaN read as nil") == true)
    }

    @Test("Frames: a mask that copies")
    func frames() {
        let stream = "\u{3}\u{5}" + "\u{81}\u{85}abcdhello"
        #expect(Self.violation(stream, FramesCheck().run) == nil)
        let broken = FramesCheck(mask: { _, source, target in target.copyMemory(from: source) })
        #expect(Self.violation(stream, broken.run)?.description.contains("mask byte") == true)
    }

    @Test("HTTP: an integer read wrong")
    func http() {
        // Byte 0 = 1: LaxInteger.
        #expect(Self.violation("\u{1} 1_000.0 ", HTTPCheck().run) == nil)
        let broken = HTTPCheck(laxInteger: { _ in .success(0) })
        #expect(Self.violation("\u{1} 1_000.0 ", broken.run)?.description.contains("not 1000") == true)
        // Too long is pydantic's own error: not for a short text, and not "not an integer".
        let tooLong = "\u{1}" + String(repeating: "1", count: 4301)
        #expect(Self.violation(tooLong, HTTPCheck().run) == nil)
        let alwaysTooLong = HTTPCheck(laxInteger: { _ in .failure(.tooLong) })
        #expect(Self.violation("\u{1}abc", alwaysTooLong.run)?.description.contains("as notAnInteger") == true)
        let neverTooLong = HTTPCheck(laxInteger: { _ in .failure(.notAnInteger) })
        #expect(Self.violation(tooLong, neverTooLong.run)?.description.contains("as tooLong") == true)
    }

    @Test("HTTP: a message budget that takes a state message for another, or another for one")
    func httpBudget() {
        // Byte 0 = 3: the budget's kind.
        let state = "\u{3}" + #"{"state":{"x":1.5},"type":"player_state"}"#
        let chat = "\u{3}" + #"{"type":"chat","message":"player_state"}"#
        for message in [state, chat] { #expect(Self.violation(message, HTTPCheck().run) == nil) }
        let neverState = HTTPCheck(budgetKind: { _ in .other })
        #expect(Self.violation(state, neverState.run)?.description.contains("budgeted as another") == true)
        let alwaysState = HTTPCheck(budgetKind: { _ in .state })
        #expect(Self.violation(chat, alwaysState.run)?.description.contains("budgeted as a state") == true)
    }

    @Test("HTTP: a Content-Type reading that takes a form post for JSON")
    func httpContentType() {
        // Byte 0: 2 picks the Content-Type check.
        #expect(Self.violation("\u{2}text/plain", HTTPCheck().run) == nil)
        #expect(Self.violation("\u{2}Application/JSON; charset=utf-8", HTTPCheck().run) == nil)
        let broken = HTTPCheck(declaresJSON: { _ in true })
        #expect(Self.violation("\u{2}text/plain", broken.run)?.description.contains("FastAPI's rule") == true)
    }

    @Test("Forwarded: a client read from the wrong end of X-Forwarded-For")
    func forwarded() {
        // Byte 0 = 3: the list of remote proxies, the peer 127.0.0.1.
        let header = "\u{3}198.51.100.1, 203.0.113.7, 10.0.0.2"
        #expect(Self.violation(header, ForwardedCheck().run) == nil)
        let broken = ForwardedCheck(key: { policy, peer, values in
            policy.key(
                ofPeer: peer, forwardedFor: values.map { $0.split(separator: ",").reversed().joined(separator: ",") })
        })
        #expect(Self.violation(header, broken.run)?.description.contains("key 198.51.100.1, not 203.0.113.7") == true)
    }

    /// What a room check finds wrong with `input` (its first byte says how it is sent), if anything.
    static func violation(_ input: String, _ check: RoomCheck) async -> FuzzViolation? {
        do throws(FuzzViolation) {
            try await check.run(Array(input.utf8))
            return nil
        } catch {
            return error
        }
    }

    /// Answers `fuzz_broken` with a frame that is not JSON.
    struct BrokenHandler: MessageHandler {
        let messageType = "fuzz_broken"

        func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
            _ = session.connection.send(ByteBuffer(string: "not JSON"))
        }
    }

    @Test("Room: a handler that sends what is not JSON")
    func room() async throws {
        // Byte 0 = 0: sent by the host, the usual way.
        let check = try RoomCheck(handlers: BuiltInHandlers.all + [BrokenHandler()])
        let chat = Array(("\u{0}" + #"{"type":"chat","message":"hi"}"#).utf8)
        await #expect(throws: Never.self) { try await check.run(chat) }
        let violation = await Self.violation("\u{0}" + #"{"type":"fuzz_broken"}"#, check)
        #expect(violation?.description.contains("no JSON object") == true)
        try await check.shutdown()
    }

    /// Answers `fuzz_odd_error` with an error whose code is none of the protocol's.
    struct OddErrorHandler: MessageHandler {
        let messageType = "fuzz_odd_error"

        func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
            throw RelayError(code: "oops", message: "Something odd")
        }
    }

    @Test("Room: a handler that answers an error of no code the protocol has")
    func roomErrorCodes() async throws {
        let check = try RoomCheck(handlers: BuiltInHandlers.all + [OddErrorHandler()])
        // Byte 0 = 0: sent by the host, the usual way; an unknown type's error is the protocol's.
        await #expect(throws: Never.self) { try await check.run(Array("\u{0}{\"type\":\"nope\"}".utf8)) }
        let violation = await Self.violation("\u{0}" + #"{"type":"fuzz_odd_error"}"#, check)
        #expect(violation?.description.contains("not an error of the protocol's") == true)
        try await check.shutdown()
    }

    /// Takes `create_room` and does nothing: no room is made.
    struct NoRoomHandler: MessageHandler {
        let messageType = "create_room"

        func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {}
    }

    @Test("Room: rooms that were never made (every message then answered alike, not_in_room)")
    func roomNeverMade() async throws {
        let handlers = BuiltInHandlers.all.filter { $0.messageType != "create_room" } + [NoRoomHandler()]
        let check = try RoomCheck(handlers: handlers)
        let violation = await Self.violation("\u{0}" + #"{"type":"chat","message":"hi"}"#, check)
        #expect(violation?.description.contains("no room of a host and a guest") == true)
        try await check.shutdown()
    }

    /// Reconnects as the built-in handler does, then sends what is not JSON: wrong only once a
    /// reconnect succeeds.
    struct BrokenReconnectHandler: MessageHandler {
        let messageType = "reconnect"

        func handle(_ message: InboundMessage, session: ConnectionSession) async throws(RelayError) {
            try await ReconnectHandler().handle(message, session: session)
            _ = session.connection.send(ByteBuffer(string: "not JSON"))
        }
    }

    @Test("Room: a reconnect that goes wrong only when it succeeds (a dropped client back with its token)")
    func roomReconnect() async throws {
        let handlers = BuiltInHandlers.all.filter { $0.messageType != "reconnect" } + [BrokenReconnectHandler()]
        let check = try RoomCheck(handlers: handlers)
        let reconnect = #"{"type":"reconnect","room_id":"$CODE","player_id":"guest","token":"$TOKEN"}"#
        // Byte 0: bit 0 the guest, bit 3 dropping first. A wrong token, or no drop, fails alike.
        let wrongToken = #"{"type":"reconnect","room_id":"$CODE","player_id":"guest","token":"nope"}"#
        #expect(await Self.violation("\u{9}" + wrongToken, check) == nil)
        #expect(await Self.violation("\u{1}" + reconnect, check) == nil)
        let violation = await Self.violation("\u{9}" + reconnect, check)
        #expect(violation?.description.contains("no JSON object") == true, "\(String(describing: violation))")
        // The built-in handler, back in the same way, sends both rooms' clients the same.
        let builtIn = try RoomCheck()
        let back = Self.messages([(9, reconnect), (1, #"{"type":"chat","message":"back"}"#)])
        await #expect(throws: Never.self) { try await builtIn.run(back) }
        try await check.shutdown()
        try await builtIn.shutdown()
    }

    /// Relays `fuzz_divergent` to the room, saying which path took it.
    struct DivergentHandler: RawRoomMessageHandler {
        let messageType = "fuzz_divergent"

        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            room.broadcast(ByteBuffer(string: #"{"type":"fuzz_divergent","path":"usual"}"#))
        }

        func handleRaw(
            _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
        )
            throws(RelayError) -> Bool
        {
            room.broadcast(ByteBuffer(string: #"{"type":"fuzz_divergent","path":"raw"}"#))
            return true
        }
    }

    /// Refuses `fuzz_rate` as past its rate on its raw path, relays it on the usual one: as two
    /// rooms reading a clock-refilled budget microseconds apart may.
    struct RateLimitedRawHandler: RawRoomMessageHandler {
        let messageType = "fuzz_rate"

        func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError) {
            room.broadcast(ByteBuffer(string: #"{"type":"fuzz_rate"}"#))
        }

        func handleRaw(
            _ bytes: UnsafeBufferPointer<UInt8>, from playerID: String, in room: isolated GameRoom
        )
            throws(RelayError) -> Bool
        {
            throw .rateLimited
        }
    }

    /// Messages, each led by its sending byte (0 the host, 1 the guest, 2 the host in place), split
    /// as the room check splits them.
    static func messages(_ messages: [(UInt8, String)]) -> [UInt8] {
        Array(messages.map { [$0.0] + Array($0.1.utf8) }.joined(separator: [0xFF]))
    }

    @Test("Room: what the server makes up in each room (codes, ids of players who gave none) is no difference")
    func roomMadeUpNames() async throws {
        let check = try RoomCheck()
        let rejoin: [(UInt8, String)] = [
            (0, #"{"type":"leave_room"}"#), (0, #"{"type":"create_room","player_name":"H2"}"#),
            (0, #"{"type":"chat","message":"again"}"#), (2, #"{"type":"player_state","state":{"x":1.234}}"#),
            (0, #"{"type":"enemy_spawn","enemy":{"enemy_id":"e1","x":1,"y":2}}"#),
            (2, #"{"type":"enemy_state","enemy_id":"e1","state":{"x":5}}"#),
        ]
        let guestAnew: [(UInt8, String)] = [
            (1, #"{"type":"leave_room"}"#), (0, #"{"type":"player_ready","is_ready":true}"#),
            (0, #"{"type":"leave_room"}"#), (0, #"{"type":"create_room","player_name":"H2","player_id":"h2"}"#),
            (2, #"{"type":"player_state","state":{"x":2}}"#),
        ]
        for input in [rejoin, guestAnew] {
            await #expect(throws: Never.self) { try await check.run(Self.messages(input)) }
        }
        try await check.shutdown()
    }

    @Test("Room: rooms parted by a rate limit are compared no further")
    func roomRateLimit() async throws {
        let check = try RoomCheck(handlers: BuiltInHandlers.all + [DivergentHandler(), RateLimitedRawHandler()])
        let rate = [0] + Array(#"{"type":"fuzz_rate"}"#.utf8)
        let divergent = [0] + Array(#"{"type":"fuzz_divergent"}"#.utf8)
        await #expect(throws: Never.self) { try await check.run(rate + [0xFF] + divergent) }
        await #expect(throws: FuzzViolation.self) { try await check.run(divergent + [0xFF] + rate) }
        try await check.shutdown()
    }

    @Test("Room: a raw path that sends what the usual path does not", arguments: [0, 2, 6, 1])
    func roomRawPath(sentBy firstByte: UInt8) async throws {
        // Byte 0: bit 0 the guest sends it, bit 1 in place, bit 2 on the room's loop; without bit 1,
        // the usual dispatch tries the raw path first.
        let check = try RoomCheck(handlers: BuiltInHandlers.all + [DivergentHandler()])
        let state = [firstByte] + Array(#"{"type":"player_state","state":{"x":1.234,"y":-2}}"#.utf8)
        await #expect(throws: Never.self) { try await check.run(state) }
        var violation: FuzzViolation?
        do throws(FuzzViolation) {
            try await check.run([firstByte] + Array(#"{"type":"fuzz_divergent"}"#.utf8))
        } catch {
            violation = error
        }
        #expect(
            violation?.description.contains(#"with the raw paths, "{\"type\":\"fuzz_divergent\",\"path\":\"usual"#)
                == true, "\(String(describing: violation))")
        try await check.shutdown()
    }
}

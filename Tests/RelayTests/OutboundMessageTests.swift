import NIOCore
import Testing

@testable import Relay

@Suite("OutboundMessage")
struct OutboundMessageTests {
    @Test func typeIsTheFirstKey() throws {
        var message = OutboundMessage(type: "player_state_update")
        message.add("a_first_alphabetically", "x")
        message.add("n", 5)
        message.add("flag", true)
        message.add("state", ["x": .number(1.23456)], roundingFloats: true)
        let json = text(message.encoded())
        #expect(json.hasPrefix(#"{"type":"player_state_update","a_first_alphabetically":"x","n":5,"flag":true,"#))
        let value = try decoded(message.encoded())
        #expect(
            value == [
                "type": "player_state_update", "a_first_alphabetically": "x", "n": 5, "flag": true,
                "state": ["x": .number(1.23)],
            ])
    }

    @Test func messageWithoutFields() throws {
        #expect(text(OutboundMessage(type: "pong").encoded()) == #"{"type":"pong"}"#)
    }

    @Test func encodedCanBeCalledTwice() {
        var message = OutboundMessage(type: "t")
        message.add("a", 1)
        let first = text(message.encoded())
        #expect(text(message.encoded()) == first)
        message.add("b", 2)
        #expect(text(message.encoded()) == #"{"type":"t","a":1,"b":2}"#)
    }

    @Test func addingAfterEncodingLeavesTheEarlierFrameAlone() {
        var message = OutboundMessage(type: "t")
        message.add("a", 1)
        let earlier = message.encoded()
        message.add("b", "two")
        #expect(text(earlier) == #"{"type":"t","a":1}"#)
        #expect(text(message.encoded()) == #"{"type":"t","a":1,"b":"two"}"#)
    }

    @Test func aSmallCapacityGrowsAsNeeded() throws {
        var message = OutboundMessage(type: "grow", capacity: 4)
        for index in 0..<50 { message.add("k\(index)", .string(String(repeating: "x", count: index))) }
        let value = try decoded(message.encoded())
        #expect(value["k49"] == .string(String(repeating: "x", count: 49)))
        #expect(value.objectValue?.count == 51)
    }

    /// A message written out elsewhere gets the frame a field-by-field one gets: a 2-byte header
    /// up to 125 bytes, a 4-byte one up to 65,535, none beyond (the frame encoder writes it).
    @Test(arguments: [1, 125, 126, 65_535, 65_536])
    func encodedFromJSONIsFramedAlike(payloadBytes: Int) {
        var message = OutboundMessage(type: "t")
        let overhead = #"{"type":"t","s":""}"#.utf8.count
        message.add("s", .string(String(repeating: "x", count: payloadBytes - min(payloadBytes, overhead))))
        let built = message.encoded()
        let copied = built.withUnsafeReadableBytes {
            OutboundMessage.encoded(json: $0.assumingMemoryBound(to: UInt8.self))
        }
        #expect(copied == built)
        #expect(TextFrameHeader.framed(copied) == TextFrameHeader.framed(built))
        #expect((TextFrameHeader.framed(copied) != nil) == (built.readableBytes <= 65_535))
    }

    @Test func escapesTypeAndKeys() throws {
        var message = OutboundMessage(type: "we\"ird")
        message.add("k\\ey", "v\n")
        #expect(try decoded(message.encoded()) == ["type": "we\"ird", "k\\ey": "v\n"])
    }

    @Test func errorShape() throws {
        let json = text(OutboundMessage.error(.notHost))
        #expect(json == #"{"type":"error","code":"not_host","message":"Only the host can do that"}"#)
        let value = try decoded(OutboundMessage.error(.invalidField("state", expected: "an object")))
        #expect(value["type"] == "error")
        #expect(value["code"] == "invalid_field")
        #expect(value["message"] == "Field 'state' must be an object")
        #expect(value.objectValue?.count == 3)
    }

    @Test func makeKeepsFieldOrder() {
        let json = text(OutboundMessage.make(type: "x", ["z": 1, "a": "b", "m": nil]))
        #expect(json == #"{"type":"x","z":1,"a":"b","m":null}"#)
    }
}

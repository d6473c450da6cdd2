import Foundation
import NIOCore
import Testing

@testable import RelayBenchKit

/// The byte-level reading of server messages and writing of client messages.
@Suite("Bench wire format")
struct WireTests {
    private func withBytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        Array(text.utf8).withUnsafeBytes(body)
    }

    @Test("Message types are recognised with and without spaces, and only whole names match")
    func kinds() {
        let cases: [(String, ServerMessage.Kind)] = [
            (#"{"type":"player_state_update","player_id":"a","state":{"t":5}}"#, .playerStateUpdate),
            (#"{"type": "player_state_update", "state": {"t": 5}}"#, .playerStateUpdate),
            (#"{"type":"enemy_state_update","enemy_id":"e","state":{"t":5}}"#, .enemyStateUpdate),
            (#"{"type":"room_created","room_id":"ABCDEF"}"#, .roomCreated),
            (#"{"type":"room_joined","room_id":"ABCDEF"}"#, .roomJoined),
            (#"{"type":"player_joined","room_info":{}}"#, .playerJoined),
            (#"{"type":"player_disconnected","player_id":"x"}"#, .playerDisconnected),
            (#"{"type":"player_left","player_id":"x"}"#, .playerLeft),
            (#"{"type":"error","code":"join_failed","message":"full"}"#, .error),
            (#"{"type":"errors"}"#, .other),
            (#"{"type":"player_state_update_v2"}"#, .other),
            (#"{"kind":"room_created"}"#, .other),
            ("", .other),
        ]
        for (text, kind) in cases {
            #expect(self.withBytes(text) { ServerMessage.kind(of: $0) } == kind, "\(text)")
        }
    }

    @Test("The send time is read from the key t only, never from a key ending in t")
    func sendTime() {
        let update =
            #"{"type":"player_state_update","player_id":"p","state":{"facing_right":true,"x":1.12,"t":987654321,"s":3}}"#
        #expect(self.withBytes(update) { ServerMessage.integer(forKey: "t", in: $0) } == 987_654_321)
        #expect(self.withBytes(#"{"state":{"t": -42}}"#) { ServerMessage.integer(forKey: "t", in: $0) } == -42)
        #expect(self.withBytes(#"{"state":{"right":5}}"#) { ServerMessage.integer(forKey: "t", in: $0) } == nil)
        #expect(self.withBytes(#"{"t":"late"}"#) { ServerMessage.integer(forKey: "t", in: $0) } == nil)
    }

    @Test("A stamp is read whole or not at all: never the start of a fraction, an exponent or a longer number")
    func wholeNumbersOnly() {
        let read = { (text: String) in self.withBytes(text) { ServerMessage.stateStamp(in: $0)?.dueAt } }
        #expect(read(#"{"state":{"t":71280000000,"s":1,"k":2}}"#) == 71_280_000_000)
        #expect(read(#"{"state":{"t": 7 ,"s":1,"k":2}}"#) == 7)
        #expect(read(#"{"state":{"t":7.128E10,"s":1,"k":2}}"#) == nil)  // Java's Double.toString
        #expect(read(#"{"state":{"t":71280000000.5,"s":1,"k":2}}"#) == nil)
        #expect(read(#"{"state":{"t":71280000000.0E1,"s":1,"k":2}}"#) == nil)
        #expect(read(#"{"state":{"t":1234567890123456789012,"s":1,"k":2}}"#) == nil)  // past 18 digits
    }

    @Test("A whole number written as a float (a server that rounds every number) is read as the number")
    func wholeNumbersWrittenAsFloats() {
        let text = #"{"state":{"t":86400000000.0,"s":3.00,"k":16777217.0}}"#
        let stamp = self.withBytes(text) { ServerMessage.stateStamp(in: $0) }
        #expect(stamp?.dueAt == 86_400_000_000 && stamp?.sequence == 3 && stamp?.stream == 16_777_217)
        #expect(self.withBytes(#"{"state":{"t":-2.0}}"#) { ServerMessage.integer(forKey: "t", in: $0) } == -2)
    }

    @Test("The stamp is read from the state: a server's own `t` before it is not the due time")
    func stampInsideTheState() {
        let text =
            #"{"type":"player_state_update","t":1733000000000,"player_id":"a","state":{"t":5000,"s":1,"k":16777217}}"#
        let stamp = self.withBytes(text) { ServerMessage.stateStamp(in: $0) }
        #expect(stamp?.dueAt == 5_000 && stamp?.sequence == 1 && stamp?.stream == 16_777_217)
        let float = #"{"type":"player_state_update","t":1733000000.5,"state":{"t":5000,"s":1,"k":2}}"#
        #expect(self.withBytes(float) { ServerMessage.stateStamp(in: $0)?.dueAt } == 5_000)
        // The state's own unreadable: no stamp, not the server's `t` before it.
        let unreadable = #"{"t":1733000000000,"state":{"t":7.128E10,"s":1,"k":2}}"#
        #expect(self.withBytes(unreadable) { ServerMessage.stateStamp(in: $0) } == nil)
        let reordered = #"{"s":9,"k":9,"state":{"k":2,"t":5000,"s":1}}"#  // s and k looked for in the state
        let fromTheState = self.withBytes(reordered) { ServerMessage.stateStamp(in: $0) }
        #expect(fromTheState?.sequence == 1 && fromTheState?.stream == 2)
    }

    @Test("A relay without its sequence or stream has no stamp: it could not be told from an echo or a repeat")
    func stampNeedsSequenceAndStream() {
        let read = { (text: String) in self.withBytes(text) { ServerMessage.stateStamp(in: $0)?.dueAt } }
        #expect(read(#"{"state":{"t":5,"s":1,"k":2}}"#) == 5)
        #expect(read(#"{"state":{"t":5,"k":2}}"#) == nil)
        #expect(read(#"{"state":{"t":5,"s":1}}"#) == nil)
        #expect(read(#"{"state":{"t":5}}"#) == nil)
    }

    @Test("Room codes, player ids and room sizes are read from a confirmation")
    func confirmation() {
        let text =
            #"{"type":"room_joined","room_id":"QWERTY","player_id":"p-2","player_number":2,"#
            + #""room_info":{"room_id":"QWERTY","player_count":2,"max_players":3,"players":[]}}"#
        self.withBytes(text) { bytes in
            #expect(ServerMessage.string(forKey: "room_id", in: bytes) == "QWERTY")
            #expect(ServerMessage.string(forKey: "player_id", in: bytes) == "p-2")
            #expect(ServerMessage.integer(forKey: "player_count", in: bytes) == 2)
            #expect(ServerMessage.integer(forKey: "max_players", in: bytes) == 3)
            #expect(ServerMessage.string(forKey: "missing", in: bytes) == nil)
        }
    }

    @Test("A message's own player id is read wherever it stands, never one of its room_info's players")
    func topLevelKeys() {
        let roomInfoFirst =
            #"{"type":"player_disconnected","room_info":{"host_id":"h","players":[{"player_id":"host","#
            + #""player_name":"a \"quoted\" name:"},{"player_id":"guest"}]},"player_id" : "guest-2"}"#
        self.withBytes(roomInfoFirst) { bytes in
            #expect(ServerMessage.string(forKey: "player_id", in: bytes) == "host", "the first anywhere")
            #expect(ServerMessage.topLevelString(forKey: "player_id", in: bytes) == "guest-2")
            #expect(ServerMessage.topLevelString(forKey: "host_id", in: bytes) == nil, "nested only")
            #expect(ServerMessage.topLevelString(forKey: "type", in: bytes) == "player_disconnected")
            // Compared in place, as a relay's on the receive path.
            #expect(ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: Array("guest-2".utf8)))
            #expect(!ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: Array("guest".utf8)))
            #expect(!ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: Array("host".utf8)))
            #expect(!ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: Array("guest-22".utf8)))
        }
        self.withBytes(#"{"room_id":"player_id","player_id":7,"x":"player_id"}"#) { bytes in
            #expect(ServerMessage.topLevelString(forKey: "room_id", in: bytes) == "player_id")
            #expect(ServerMessage.topLevelString(forKey: "player_id", in: bytes) == nil, "not a string")
            #expect(!ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: Array("7".utf8)))
        }
    }

    @Test("player_state is valid JSON carrying the send time, the sequence and the padding")
    func playerState() throws {
        for padding in [0, 10] {
            var buffer = ByteBuffer()
            StateMessageEncoder(paddingBytes: padding).write(
                sequence: 801, stream: 42, dueAtMicros: 1_234_567_890_123, into: &buffer)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
            #expect(object["type"] as? String == "player_state")
            let state = try #require(object["state"] as? [String: Any])
            #expect((state["t"] as? NSNumber)?.int64Value == 1_234_567_890_123)
            #expect(state["s"] as? Int == 801)
            #expect(state["k"] as? Int == 42)
            #expect((state["x"] as? Double) == 1.123)
            #expect((state["pad"] as? String)?.count == (padding > 0 ? padding : nil))
        }
    }

    @Test("enemy_state carries the same state, for an enemy named by the bench")
    func enemyState() throws {
        var buffer = ByteBuffer()
        StateMessageEncoder(paddingBytes: 0, message: .enemyState).write(
            sequence: 5, stream: 1, dueAtMicros: 77, into: &buffer)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
        #expect(object["type"] as? String == "enemy_state")
        #expect(object["enemy_id"] as? String == "bench_enemy")
        let state = try #require(object["state"] as? [String: Any])
        #expect((state["t"] as? NSNumber)?.int64Value == 77)
        #expect(state["s"] as? Int == 5)
    }

    @Test("A receiver tells a repeated message of a stream from a new or a late one, stream by stream")
    func repeats() {
        var streams = StreamSequences()
        func arrival(_ text: String) -> StreamSequences.Arrival {
            let stamp = Array(text.utf8).withUnsafeBytes { ServerMessage.stateStamp(in: $0) }!
            return streams.arrival(sequence: stamp.sequence, stream: stamp.stream)
        }
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":1,"k":7}}"#) == .new)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":3,"k":7}}"#) == .new, "a gap is no repeat")
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":3,"k":7}}"#) == .repeated)
        #expect(
            arrival(#"{"type":"player_state_update","state":{"t":1,"s":2,"k":7}}"#) == .outOfOrder, "late, not seen")
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":2,"k":7}}"#) == .repeated)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":1,"k":7}}"#) == .repeated)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":1,"k":8}}"#) == .new, "another stream")
        // Keys a server put in another order are found all the same.
        #expect(arrival(#"{"type":"player_state_update","state":{"k":8,"s":1,"t":1}}"#) == .repeated)
        // 64 behind the latest and more, a repeat is still told from a late first arrival.
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":100,"k":8}}"#) == .new)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":1,"k":8}}"#) == .repeated)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":2,"k":8}}"#) == .outOfOrder)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":2,"k":8}}"#) == .repeated)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":37,"k":8}}"#) == .outOfOrder)
        #expect(arrival(#"{"type":"player_state_update","state":{"t":1,"s":37,"k":8}}"#) == .repeated)
        let stamp = Array(#"{"state":{"x":1.5,"t":77,"y":2,"s":9,"pad":"p","k":4}}"#.utf8).withUnsafeBytes {
            ServerMessage.stateStamp(in: $0)
        }
        #expect(stamp?.dueAt == 77 && stamp?.sequence == 9 && stamp?.stream == 4)
    }

    /// A server replaying a backlog: one old repeat must not cancel one real loss.
    @Test("Far behind the latest, a message that came is a repeat, and one that never came is a late first arrival")
    func repeatsFarBehind() {
        var streams = StreamSequences()
        var arrivals: [StreamSequences.Arrival] = []
        for sequence: Int64 in 1...300 where sequence != 50 && sequence != 120 && !(200...260).contains(sequence) {
            arrivals.append(streams.arrival(sequence: sequence, stream: 3))
        }
        #expect(arrivals.allSatisfy { $0 == .new })
        for (sequence, arrival) in [
            (1, .repeated), (49, .repeated), (50, .outOfOrder), (50, .repeated), (51, .repeated),
            (120, .outOfOrder), (120, .repeated), (199, .repeated), (200, .outOfOrder), (230, .outOfOrder),
            (260, .outOfOrder), (230, .repeated), (236, .outOfOrder), (261, .repeated), (0, .repeated),
        ] as [(Int64, StreamSequences.Arrival)] {
            #expect(streams.arrival(sequence: sequence, stream: 3) == arrival, "s \(sequence)")
        }
        // No message a sender sends: a repeat, never a delivery that could make up for a loss.
        #expect(streams.arrival(sequence: 0, stream: 9) == .repeated)
        #expect(streams.arrival(sequence: 5, stream: 9) == .new)
        #expect(streams.arrival(sequence: 0, stream: 9) == .repeated)
        #expect(streams.arrival(sequence: -1, stream: 9) == .repeated)
        // A stream first heard of far into its sequence: what came before never came.
        #expect(streams.arrival(sequence: 1_000, stream: 4) == .new)
        #expect(streams.arrival(sequence: 5, stream: 4) == .outOfOrder)
        #expect(streams.arrival(sequence: 5, stream: 4) == .repeated)
        #expect(streams.arrival(sequence: 999, stream: 4) == .outOfOrder)

        // A server that lost every other message: the oldest gaps are forgotten past 4,096, and
        // their late arrivals counted as first ones, as they cannot be told apart any more.
        for sequence: Int64 in stride(from: 1, through: 20_001, by: 2) {
            _ = streams.arrival(sequence: sequence, stream: 5)
        }
        #expect(streams.arrival(sequence: 19_000, stream: 5) == .outOfOrder)
        #expect(streams.arrival(sequence: 19_000, stream: 5) == .repeated, "a kept gap, taken")
        #expect(streams.arrival(sequence: 2, stream: 5) == .outOfOrder, "forgotten: not told apart")
        #expect(streams.arrival(sequence: 2, stream: 5) == .outOfOrder)
    }

    @Test("Decimal writing covers zero, negatives and the extremes")
    func decimals() {
        for value: Int64 in [0, 7, -7, 1_000_000, Int64.max, Int64.min + 1] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            #expect(String(buffer: buffer) == String(value))
        }
    }

    @Test("Greetings ask for max_players and join with the code in the path")
    func greetings() throws {
        let create = Greeting.create(playerName: "b1_0", maxPlayers: 8)
        #expect(create.path == "/ws/room/new")
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(create.text.utf8)) as? [String: Any])
        #expect(fields["type"] as? String == "create_room")
        #expect(fields["max_players"] as? Int == 8)
        let join = Greeting.join(code: "ABCDEF", playerName: "b1_1")
        #expect(join.path == "/ws/room/ABCDEF")
        #expect(join.text.contains(#""room_id":"ABCDEF""#))
    }
}

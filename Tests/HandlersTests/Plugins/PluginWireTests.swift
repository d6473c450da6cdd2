import Foundation
import NIOCore
import Synchronization
import Testing

@testable import Handlers
@testable import Relay

@Suite("Plugins: wire format")
struct PluginWireTests {
    private func decode(_ line: String) -> PluginLine { PluginLine.decode(Array(line.utf8)) }

    @Test func hello() throws {
        let line = decode(
            #"{"kind":"hello","protocol":1,"name":"dice","handles":["roll_dice","roll_dice"],"filters":["chat"],"filter_failure":"pass"}"#
        )
        guard case .hello(let hello) = line else {
            Issue.record("\(line)")
            return
        }
        #expect(hello.name == "dice")
        #expect(hello.handles == ["roll_dice"])
        #expect(hello.filters == ["chat"])
        #expect(hello.failOpen)
        #expect(hello.maxMessageBytes == nil)
    }

    @Test(arguments: [2, 1024, PluginHello.maxMessageBytesLimit])
    func aHelloMayBoundTheMessagesItReads(_ bytes: Int) throws {
        let line = decode(#"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":\#(bytes)}"#)
        guard case .hello(let hello) = line else {
            Issue.record("\(line)")
            return
        }
        #expect(hello.maxMessageBytes == bytes)
    }

    @Test func aHelloMayAskForRoomEventsAloneOrBesideTypes() throws {
        let line = decode(
            #"{"kind":"hello","protocol":1,"name":"scores","events":["room_closed","member_left","room_closed"]}"#)
        guard case .hello(let hello) = line else {
            Issue.record("\(line)")
            return
        }
        #expect(hello.events == [.roomClosed, .memberLeft])
        #expect(hello.handles.isEmpty && hello.filters.isEmpty)
        guard case .hello(let every) = decode(#"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"events":[]}"#)
        else {
            Issue.record("an empty list refused")
            return
        }
        #expect(every.events.isEmpty)
    }

    /// A restart must announce what the first hello did, in any order, events included.
    @Test func aRestartsHelloMustAskForTheSameEvents() throws {
        func hello(_ events: String) throws -> PluginHello {
            let line = decode(#"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"events":["# + events + "]}")
            guard case .hello(let hello) = line else { throw PluginProtocolError("\(line)") }
            return hello
        }
        let first = try hello(#""member_left","room_closed""#)
        #expect(first.announcesTheSame(as: try hello(#""room_closed","member_left""#)))
        #expect(!first.announcesTheSame(as: try hello(#""room_closed""#)))
        #expect(!first.announcesTheSame(as: try hello(#""room_closed","member_left","member_joined""#)))
    }

    /// A restart must announce what the first hello did in every field (PLUGINS.md §1): one that
    /// changed its name, failure rule, or handled or filtered types would be routed, and fail, as
    /// the first one said. One case a field, changed alone: refused; the same, reordered: taken.
    @Test(arguments: [
        ("name", #""X""#), ("handles", #"["a"]"#), ("filters", #"["chat"]"#), ("filter_failure", #""reject""#),
        ("events", #"["member_left"]"#), ("max_message_bytes", "64"), ("max_message_bytes", "null"),
    ])
    func aRestartsHelloMustMatchTheFirstInEachField(_ field: String, changedTo value: String) throws {
        func hello(_ fields: [(String, String)]) throws -> PluginHello {
            let pairs = fields.map { #""\#($0.0)":\#($0.1)"# }.joined(separator: ",")
            let line = decode(#"{"kind":"hello","protocol":1,"# + pairs + "}")
            guard case .hello(let hello) = line else { throw PluginProtocolError("\(line)") }
            return hello
        }
        let fields = [
            ("name", #""x""#), ("handles", #"["a","b"]"#), ("filters", #"["chat","emote"]"#),
            ("filter_failure", #""pass""#), ("events", #"["member_left","room_closed"]"#),
            ("max_message_bytes", "1024"),
        ]
        let first = try hello(fields)
        let reordered = try hello([
            ("events", #"["room_closed","member_left"]"#), ("filter_failure", #""pass""#),
            ("filters", #"["emote","chat"]"#), ("handles", #"["b","a"]"#), ("name", #""x""#),
            ("max_message_bytes", "1024"),
        ])
        #expect(first.announcesTheSame(as: reordered))
        let changed = try hello(fields.map { $0.0 == field ? (field, value) : $0 })
        #expect(!first.announcesTheSame(as: changed), "\(field) changed to \(value)")
        #expect(first.fieldsDiffering(from: changed) == [field])
    }

    @Test func eventLinesNameTheRoomAndForAMemberTheirRoom() {
        let closed = PluginEvent.roomClosed.line(roomID: "ABC123", playerID: nil, room: nil)
        #expect(
            String(decoding: closed, as: UTF8.self) == #"{"kind":"event","event":"room_closed","room_id":"ABC123"}"#
                + "\n")
        let room: JSONValue = ["room_id": "ABC123", "players": []]
        var writer = JSONWriter()
        writer.write(room)
        let left = PluginEvent.memberLeft.line(roomID: "ABC123", playerID: "p\"1", room: room)
        #expect(
            String(decoding: left, as: UTF8.self)
                == #"{"kind":"event","event":"member_left","room_id":"ABC123","player_id":"p\"1","room":"#
                + String(buffer: writer.buffer) + "}\n")
    }

    @Test func aMissedEventsNoticeNamesTheRoomAndHowMany() {
        let line = PluginEvent.missedLine(roomID: "AB\"C", count: 12)
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"kind":"event","event":"events_missed","room_id":"AB\"C","count":12}"# + "\n")
        let asked = decode(#"{"kind":"hello","protocol":1,"name":"x","events":["events_missed","member_left"]}"#)
        guard case .hello(let hello) = asked else {
            Issue.record("\(asked)")
            return
        }
        #expect(hello.events == [.eventsMissed, .memberLeft])
    }

    @Test func anUnknownEventIsRefusedNamingTheKnownOnes() {
        let line = decode(#"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"events":["room_opened"]}"#)
        guard case .badHello(let reason) = line else {
            Issue.record("\(line)")
            return
        }
        #expect(
            reason.contains(
                "member_joined, member_reconnected, member_dropped, member_left, room_closed, events_missed"),
            "\(reason)")
    }

    @Test(arguments: [
        #"{"kind":"hello","name":"x","handles":["a"]}"#,
        #"{"kind":"hello","protocol":2,"name":"x","handles":["a"]}"#,
        #"{"kind":"hello","protocol":1,"handles":["a"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x"}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["has space"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":"a"}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"filter_failure":"maybe"}"#,
        // A name that would forge log lines: a newline, an escape sequence, a bidi override.
        #"{"kind":"hello","protocol":1,"name":"x\ncritical relay: owned","handles":["a"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x\u001b[31m","handles":["a"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x\u202e","handles":["a"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x\u2028forged","handles":["a"]}"#,
        // Events: not a list, an unknown one, not a string.
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"events":"room_closed"}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"events":["room_opened"]}"#,
        #"{"kind":"hello","protocol":1,"name":"x","events":[1]}"#,
        #"{"kind":"hello","protocol":1,"name":"x","events":[]}"#,
        // Only news of missed events, of none: it would hear nothing.
        #"{"kind":"hello","protocol":1,"name":"x","events":["events_missed"]}"#,
        // A bound on messages that no JSON object fits, or past any frame, or not an integer.
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":1}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":-5}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":16777217}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":"1024"}"#,
        #"{"kind":"hello","protocol":1,"name":"x","handles":["a"],"max_message_bytes":1024.5}"#,
        // More types than a hello may list (they were de-duplicated in quadratic time).
        #"{"kind":"hello","protocol":1,"name":"x","handles":["#
            + (0...PluginHello.maxTypes).map { "\"t\($0)\"" }.joined(separator: ",") + "]}",
    ])
    func badHellos(_ line: String) {
        guard case .badHello = decode(line) else {
            Issue.record("\(line) was accepted")
            return
        }
    }

    @Test func aHelloMayListItsMostTypesAndNamesInAnyScript() throws {
        let types = (0..<PluginHello.maxTypes).map { "t\($0)" }
        let line =
            #"{"kind":"hello","protocol":1,"name":"dés ✓","handles":["#
            + types.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        guard case .hello(let hello) = decode(line) else {
            Issue.record("refused")
            return
        }
        #expect(hello.handles == types)
        #expect(hello.name == "dés ✓")
    }

    /// A hello's name, a type it lists and an answer's error code are 1–64 bytes (PLUGINS.md §1,
    /// §3): the 64th is taken, the 65th refused. A name counts bytes, not characters.
    @Test func namesTypesAndErrorCodesMayHave64BytesNotMore() {
        func hello(name: String = "x", handles type: String = "a") -> PluginLine {
            decode(#"{"kind":"hello","protocol":1,"name":"\#(name)","handles":["\#(type)"]}"#)
        }
        func error(code: String) -> PluginLine {
            decode(#"{"kind":"answer","id":3,"actions":[{"error":{"code":"\#(code)","message":"No."}}]}"#)
        }
        let (longest, tooLong) = (String(repeating: "n", count: 64), String(repeating: "n", count: 65))
        guard case .hello(let named) = hello(name: longest), case .hello(let typed) = hello(handles: longest) else {
            Issue.record("64 bytes refused: \(hello(name: longest)), \(hello(handles: longest))")
            return
        }
        #expect(named.name == longest)
        #expect(typed.handles == [longest])
        #expect(error(code: longest) == .answer(id: 3, .actions([.error(RelayError(code: longest, message: "No."))])))
        // 33 characters of 2 bytes: 66 bytes.
        for line in [hello(name: tooLong), hello(name: String(repeating: "é", count: 33)), hello(handles: tooLong)] {
            if case .badHello = line {} else { Issue.record("65 bytes or more accepted: \(line)") }
        }
        guard case .invalidAnswer(id: 3, _) = error(code: tooLong) else {
            Issue.record("a code of 65 bytes: \(error(code: tooLong))")
            return
        }
    }

    @Test func answersWithEveryAction() throws {
        let line = decode(
            #"{"kind":"answer","id":7,"actions":[{"send":"sender","message":{"type":"a"}},{"send":"room","message":{"type":"b"}},"#
                + #"{"send":"others","message":{"type":"c"}},{"send":"player","player_id":"p2","message":{"type":"d","n":1}},"#
                + #"{"error":{"code":"nope","message":"No."}}]}"#)
        guard case .answer(7, .actions(let actions)) = line else {
            Issue.record("\(line)")
            return
        }
        #expect(actions.count == 5)
        #expect(
            actions[3] == .send(.player("p2"), ByteBuffer(string: #"{"type":"d","n":1}"#)),
            "type first, like every server message")
        #expect(actions[4] == .error(RelayError(code: "nope", message: "No.")))
    }

    @Test func verdicts() {
        #expect(decode(#"{"kind":"answer","id":1,"verdict":"pass"}"#) == .answer(id: 1, .verdict(.pass)))
        #expect(decode(#"{"kind":"answer","id":1,"verdict":"drop"}"#) == .answer(id: 1, .verdict(.drop)))
        #expect(
            decode(#"{"kind":"answer","id":1,"verdict":"rewrite","message":{"type":"chat"}}"#)
                == .answer(id: 1, .verdict(.rewrite(["type": "chat"]))))
        #expect(
            decode(#"{"kind":"answer","id":1,"verdict":"reject","error":{"code":"bad","message":"Bad."}}"#)
                == .answer(id: 1, .verdict(.reject(RelayError(code: "bad", message: "Bad.")))))
    }

    @Test func anAnswerMayCarry64ActionsNotMore() {
        func answer(actions count: Int) -> PluginLine {
            let actions = Array(repeating: #"{"send":"sender","message":{"type":"a"}}"#, count: count)
            return decode(#"{"kind":"answer","id":9,"actions":["# + actions.joined(separator: ",") + "]}")
        }
        let most = Array(repeating: PluginAction.send(.sender, ByteBuffer(string: #"{"type":"a"}"#)), count: 64)
        #expect(PluginAnswer.maxActions == 64)
        #expect(answer(actions: 64) == .answer(id: 9, .actions(most)))
        guard case .invalidAnswer(id: 9, _) = answer(actions: 65) else {
            Issue.record("65 actions: \(answer(actions: 65))")
            return
        }
    }

    @Test func anErrorMessageMayHave500CharactersNotMore() {
        func reject(_ message: String) -> PluginLine {
            decode(#"{"kind":"answer","id":5,"verdict":"reject","error":{"code":"bad","message":"\#(message)"}}"#)
        }
        let longest = String(repeating: "é", count: 500)  // characters, not bytes: 1,000 bytes
        #expect(reject(longest) == .answer(id: 5, .verdict(.reject(RelayError(code: "bad", message: longest)))))
        guard case .invalidAnswer(id: 5, _) = reject(longest + "x") else {
            Issue.record("501 characters: \(reject(longest + "x"))")
            return
        }
        // Code points, not characters: one letter with 600 accents is one character of ~1.2 KB.
        let heavy = "e" + String(repeating: "\u{301}", count: 600)
        guard case .invalidAnswer(id: 5, _) = reject(heavy) else {
            Issue.record("601 code points in one character: \(reject(heavy))")
            return
        }
    }

    @Test func errorActionsCountUnderTheAnswerCap() {
        // 60 errors of 500 code points of `\b`, each ~3 KB once encoded (`\u0008`): ~180 KB, with a
        // send of ~400 KB beside them, over the 512 KiB one answer may bring a client.
        let error = #"{"error":{"code":"x","message":"\#(String(repeating: "\\b", count: 500))"}}"#
        let pad = String(repeating: "x", count: 400_000)
        let send = #"{"send":"sender","message":{"type":"a","s":"\#(pad)"}}"#
        let errors = Array(repeating: error, count: 60).joined(separator: ",")
        let line = #"{"kind":"answer","id":7,"actions":[\#(send),\#(errors)]}"#
        guard case .invalidAnswer(id: 7, let reason) = decode(line) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("over \(PluginAnswer.maxMessageBytes)"), "\(reason)")
        guard case .answer(id: 7, _) = decode(#"{"kind":"answer","id":7,"actions":[\#(send)]}"#) else {
            Issue.record("the send alone was refused")
            return
        }
    }

    @Test(arguments: [
        #"{"kind":"answer","id":3,"actions":[{"send":"moon","message":{"type":"a"}}]}"#,
        #"{"kind":"answer","id":3,"actions":[{"send":"sender","message":{"no":"type"}}]}"#,
        #"{"kind":"answer","id":3,"actions":[{"send":"player","message":{"type":"a"}}]}"#,
        #"{"kind":"answer","id":3,"actions":[{"error":{"code":"","message":"x"}}]}"#,
        #"{"kind":"answer","id":3,"actions":[{"error":{"code":"ok","message":""}}]}"#,
        #"{"kind":"answer","id":3,"verdict":"maybe"}"#,
        #"{"kind":"answer","id":3,"verdict":"rewrite"}"#,
        #"{"kind":"answer","id":3,"verdict":"pass","actions":[]}"#,
        #"{"kind":"answer","id":3}"#,
        // Not JSON this server reads, but the id is there: still an answer, so plugin_error at once.
        #"{"kind":"answer","id":3,"actions":[{"send":"sender","message":{"type":"a","v":NaN}}]}"#,
        #"{"kind":"answer","id":3,"actions":[{"send":"sender","message":{"type":"a","v":1e400}}]}"#,
        #"{"id" : 3 , "actions":[{"send":"sender","message":{"type":"a,}\"","s":"\ud800"}}], "kind": "answer"}"#,
        #"{"kind":"answer","id":3,"actions":[{"send":"sender","message":{"type":"a"}}]"#,
    ])
    func invalidAnswersKeepTheirId(_ line: String) {
        guard case .invalidAnswer(id: 3, _) = decode(line) else {
            Issue.record("\(line) → \(decode(line))")
            return
        }
    }

    @Test(arguments: [
        "", "not json", "[1]", #"{"id":1}"#, #"{"kind":"answer","id":"1","actions":[]}"#,
        #"{"kind":"answer","id":-1,"actions":[]}"#,
        // Unparsable, and no top-level answer id to be read.
        "NaN", #"{"kind":"answer","id":3.5,"v":NaN}"#, #"{"kind":"answer","id":3e0,"v":NaN}"#,
        #"{"kind":"answered","id":3,"v":NaN}"#, #"{"kind":"answer","id":"3","v":NaN}"#,
        #"{"v":{"kind":"answer","id":3},"w":NaN}"#, #"{"kind":"answer","id":18446744073709551616,"v":NaN}"#,
        #"{"kind":"answer" "id":3,"v":NaN}"#, #"{"kind":"answer","id":-1,"v":NaN}"#,
        #"{"kind":"answer","id":- 0,"v":NaN}"#,
    ])
    func garbage(_ line: String) {
        guard case .garbage = decode(line) else {
            Issue.record("\(line) → \(decode(line))")
            return
        }
    }

    /// `-0` is 0 to the strict decode, and so to the lenient reader of an unparsable line.
    @Test func anUnparsableAnswerToMinusZeroIsRequestZeros() {
        guard case .invalidAnswer(id: 0, _) = decode(#"{"kind":"answer","id":-0,"v":NaN}"#) else {
            Issue.record("\(decode(#"{"kind":"answer","id":-0,"v":NaN}"#))")
            return
        }
    }

    @Test func anAnswerWithInvalidUTF8KeepsItsId() {
        let line =
            Array(#"{"kind":"answer","id":7,"actions":[{"send":"sender","message":{"type":"a","s":""#.utf8)
            + [0xFF, 0xFE] + Array(#""}}]}"#.utf8)
        guard case .invalidAnswer(id: 7, let reason) = PluginLine.decode(line) else {
            Issue.record("\(PluginLine.decode(line))")
            return
        }
        #expect(reason.contains("invalid UTF-8"))
    }

    @Test func anAnswerWhoseMessagesWouldOverflowAClientsQueueIsInvalid() {
        // Two room sends of 100,000 `\b` each: 400 KB in the line, 1.2 MB once encoded (`\u0008`).
        let backspaces = String(repeating: "\\b", count: 100_000)
        let send = #"{"send":"room","message":{"type":"a","s":"\#(backspaces)"}}"#
        let line = #"{"kind":"answer","id":7,"actions":[\#(send),\#(send)]}"#
        guard case .invalidAnswer(id: 7, let reason) = decode(line) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("over \(PluginAnswer.maxMessageBytes)"), "\(reason)")
        // Just under the cap is fine.
        let fits = String(repeating: "x", count: PluginAnswer.maxMessageBytes - 100)
        guard
            case .answer(id: 7, .actions(let actions)) = decode(
                #"{"kind":"answer","id":7,"actions":[{"send":"room","message":{"type":"a","s":"\#(fits)"}}]}"#)
        else {
            Issue.record("refused")
            return
        }
        #expect(actions.count == 1)
    }

    @Test func aRewriteOverTheAnswerCapIsInvalid() {
        let backspaces = String(repeating: "\\b", count: 100_000)  // 200 KB in the line, 600 KB encoded
        let line = #"{"kind":"answer","id":7,"verdict":"rewrite","message":{"type":"chat","message":"\#(backspaces)"}}"#
        guard case .invalidAnswer(id: 7, let reason) = decode(line) else {
            Issue.record("accepted")
            return
        }
        #expect(reason.contains("over \(PluginAnswer.maxMessageBytes)"), "\(reason)")
    }

    @Test func requestLineCarriesContextAndMessage() throws {
        let message = InboundMessage(type: "roll_dice", fields: ["type": "roll_dice", "sides": 6])
        let request = PluginRequest(kind: .message, playerID: "p1", room: ["room_id": "ABC123"], message: message)
        let line = request.line(id: 42)
        #expect(line.last == UInt8(ascii: "\n"))
        let value = try JSONParser.parse(line.dropLast())
        #expect(value.objectValue?["kind"] == "message")
        #expect(value.objectValue?["id"] == 42)
        #expect(value.objectValue?["type"] == "roll_dice")
        #expect(value.objectValue?["player_id"] == "p1")
        #expect(value.objectValue?["room"] == ["room_id": "ABC123"])
        #expect(value.objectValue?["message"] == ["type": "roll_dice", "sides": 6])
        #expect(
            String(decoding: line, as: UTF8.self).hasPrefix(
                #"{"kind":"message","id":42,"type":"roll_dice","player_id":"p1","room""#))
    }
}

@Suite("Plugins: line splitter")
struct LineSplitterTests {
    private func split(_ chunks: [String], max: Int = 16) -> (lines: [String], oversized: Int) {
        var splitter = LineSplitter(maxLineBytes: max)
        var lines: [String] = []
        var oversized = 0
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                splitter.feed(bytes) {
                    lines.append(String(decoding: $0, as: UTF8.self))
                } onOversized: {
                    oversized += 1
                }
            }
        }
        return (lines, oversized)
    }

    @Test func linesAcrossChunks() {
        #expect(split(["a\nb", "c\r\n", "", "d", "e", "\n\n"]).lines == ["a", "bc", "de", ""])
        #expect(split(["no newline yet"]).lines == [])
    }

    @Test func oversizedLinesAreDroppedUpToTheirNewline() {
        let result = split([
            "short\n", String(repeating: "x", count: 10), String(repeating: "y", count: 10), "z\nafter\n",
            String(repeating: "w", count: 40) + "\nend\n",
        ])
        #expect(result.lines == ["short", "after", "end"])
        #expect(result.oversized == 2)
    }
}

@Suite("Plugins: discovery")
struct PluginDiscoveryTests {
    @Test func executableRegularFilesByNameOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plugins-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            ("b_plugin", 0o755), ("a_plugin.py", 0o755), ("README.md", 0o644), (".hidden", 0o755),
            ("a_plugin.py~", 0o755), ("b_plugin.bak", 0o755), ("b_plugin.orig", 0o644), ("c.dpkg-old", 0o755),
        ]
        for (name, mode) in files {
            let path = directory.appendingPathComponent(name).path
            try "#!/bin/sh\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, mode_t(mode))
        }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("folder"), withIntermediateDirectories: true)
        let found = PluginFolder(reading: directory.path).executables
        #expect(found.map(\.description) == ["a_plugin.py", "b_plugin"])
        #expect(PluginFolder(reading: "/nonexistent/plugins").executables.isEmpty)
        let folder = PluginFolder(reading: directory.path)
        #expect(folder.exists)
        #expect(folder.notExecutable == ["README.md"], "what the start names as not executable")
        #expect(
            folder.backups == ["a_plugin.py~", "b_plugin.bak", "b_plugin.orig", "c.dpkg-old"], "copies: not started")
        #expect(!PluginFolder(reading: "/nonexistent/plugins").exists)
        // A name that is not UTF-8 (Latin-1's é): neither started nor passed over in silence.
        let latin1 = Array(directory.path.utf8) + Array("/caf".utf8) + [0xE9, 0]
        let descriptor = open(latin1.map { CChar(bitPattern: $0) }, O_CREAT | O_WRONLY, 0o755)
        // A file system that takes only UTF-8 names (macOS's APFS) refuses it: nothing to check.
        guard descriptor >= 0 else {
            #expect(errno == EILSEQ)
            return
        }
        close(descriptor)
        #expect(PluginFolder(reading: directory.path).notUTF8 == ["caf\u{FFFD}"])
        #expect(PluginFolder(reading: directory.path).executables.count == 2)
    }

    /// Names are read in place up to their NUL (a `dirent` is only as long as its name): every
    /// length a file system takes, 1 to 255 bytes, comes back whole.
    @Test func namesOfEveryLength() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plugins-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = (1...255).map { String(repeating: "p", count: $0 - 1) + "\($0 % 10)" }
        for name in names {
            let path = directory.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8)), "\(name.count)")
            chmod(path, 0o755)
        }
        let found = PluginFolder(reading: directory.path).executables.map(\.description)
        #expect(found == names.sorted())
    }
}

@Suite("Plugins: text in the log")
struct LoggedTextTests {
    @Test(arguments: [
        ("plain text, ünïcode and emoji 🎲", "plain text, ünïcode and emoji 🎲"),
        ("a\rforged line", "a\\u{d}forged line"),
        ("two\nlines", "two\\u{a}lines"),
        ("\u{1B}[2Kwiped", "\\u{1b}[2Kwiped"),
        ("right\u{202E}left", "right\\u{202e}left"),
        ("line\u{2028}separator", "line\\u{2028}separator"),
        ("tab\there", "tab\\u{9}here"),
    ])
    func controlsAndFormatCharactersAreEscaped(text: String, logged: String) {
        #expect(String(loggable: text.utf8) == logged)
    }

    @Test func invalidUTF8BecomesReplacementCharacters() {
        #expect(String(loggable: [0x61, 0xFF, 0x62] as [UInt8]) == "a\u{FFFD}b")
    }
}

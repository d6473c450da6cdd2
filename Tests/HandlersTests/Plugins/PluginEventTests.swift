import Foundation
import Logging
import RecordedLogs
import Testing

@testable import Handlers
@testable import Relay

/// Where ``PluginEventTests/recorderPath`` is written: a global, so that the `atexit` hook can name it.
private let recorderDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "relay-recorder-\(getpid())"
).path

/// Plugins that asked for room events hear them, in each room's order among its requests.
@Suite("Plugins: room events")
struct PluginEventTests {
    /// A plugin that logs every event, `events_touch` request and `chat` it filters (passing it),
    /// one line each: `event ROOM PLAYER [CONNECTED MEMBERS]` (`-` and `None` for a sender in no
    /// room; ` room:null` after an event that carries an empty `room`). `events_log` answers the log so far and clears it; `events_hold` is answered once the file
    /// `until` names exists (2 minutes at most), not logged.
    /// Its first argument lists the events it asks for (all when absent); with a second, a file,
    /// it handles nothing and appends its log to the file instead; with a third, another file, it
    /// reads nothing until that file exists. `events_missed` is logged `events_missed ROOM COUNT []`.
    static let recorder = #"""
        import json, os, sys, threading, time
        lock = threading.Lock()
        def say(line):
            with lock:
                print(json.dumps(line), flush=True)
        events = sys.argv[1].split(",") if len(sys.argv) > 1 else [
            "member_joined", "member_reconnected", "member_dropped", "member_left", "room_closed"]
        log_file = sys.argv[2] if len(sys.argv) > 2 else None
        start_file = sys.argv[3] if len(sys.argv) > 3 else None
        hello = {"kind": "hello", "protocol": 1, "name": "recorder", "events": events}
        if not log_file:
            hello["handles"] = ["events_log", "events_touch", "events_hold"]
            hello["filters"] = ["chat"]
        say(hello)
        log = []
        # Reads nothing until the test has made its events (600 rooms: over a minute on a slow,
        # loaded run, when a 60 s bound here had it read along and miss nothing). The bound is for
        # a test that failed first, whose stop kills the plugin anyway.
        waiting_since = time.monotonic()
        while start_file and not os.path.exists(start_file) and time.monotonic() - waiting_since < 600:
            time.sleep(0.01)
        for line in sys.stdin:
            request = json.loads(line)
            room = request.get("room")
            members = ",".join(sorted(p["player_id"] for p in room["players"])) if room else ""
            if request["kind"] == "event":
                who = request.get("count", request.get("player_id", "-"))
                entry = f'{request["event"]} {request["room_id"]} {who} [{members}]'
                if "room" in request and not room:
                    entry += " room:null"  # a field the event should not have
                if log_file:
                    with open(log_file, "a") as f:
                        f.write(entry + "\n")
                else:
                    log.append(entry)
                continue
            answer = {"kind": "answer", "id": request["id"], "actions": []}
            if request["kind"] == "filter":
                log.append(f'chat {room["room_id"] if room else "-"} {request["player_id"]} [{members}]')
                answer = {"kind": "answer", "id": request["id"], "verdict": "pass"}
            elif request["type"] == "events_touch":
                log.append(f'touch {room["room_id"] if room else "-"} {request["player_id"]} [{members}]')
            elif request["type"] == "events_hold":  # answered once the file it names exists, not logged
                def release(path=request["message"]["until"], answer=answer):
                    waited = 0
                    while not os.path.exists(path) and waited < 12000:
                        time.sleep(0.01)
                        waited += 1
                    say(answer)
                threading.Thread(target=release).start()
                continue
            else:
                answer["actions"] = [{"send": "sender", "message": {"type": "events_log", "log": log}}]
                log = []
            say(answer)
        """#

    /// The recorder, written once per test process into a folder removed at its exit.
    static let recorderPath: String = {
        try? FileManager.default.createDirectory(atPath: recorderDirectory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: recorderDirectory) }
        let path = recorderDirectory + "/recorder.py"
        try? PluginEventTests.recorder.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    static func recorder(events: String? = nil, logFile: String? = nil, startFile: String? = nil) -> PluginExecutable {
        let arguments =
            [self.recorderPath] + (events.map { [$0] } ?? []) + (logFile.map { [$0] } ?? [])
            + (startFile.map { [$0] } ?? [])
        return PluginExecutable(path: "/usr/bin/env", arguments: ["python3"] + arguments)
    }

    /// What the recorder logged since it was last asked, asked by a client outside any room, again
    /// until `isComplete` holds of all it answered (for at most 10 s): a request from no room waits
    /// for no room's events (PLUGINS.md), so the plugin may read it before the last events queued.
    private func log(
        in harness: Harness, code: String, until isComplete: ([String]) -> Bool
    ) async throws -> [String] {
        var log: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            let answer = try #require(await harness.client().exchange(#"{"type":"events_log"}"#).first)
            let lines = answer["log"]?.arrayValue?.compactMap(\.stringValue) ?? []
            log += lines.map { $0.replacingOccurrences(of: code, with: "R") }
            if isComplete(log) { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        return log
    }

    private func drop(_ client: TestClient, as playerID: String) async throws {
        let room = try #require(client.session.membership?.room)
        await room.drop(playerID: playerID, connection: client.connection)
    }

    @Test("Joins, a drop, a reconnect, departures and the closing, each with the room as it is after it")
    func everyEventInTurn() async throws {
        try await ProbePlugin.withHarness([Self.recorder()]) { harness in
            let (host, guest, code, token) = try await harness.roomWithGuestToken()
            await host.send(#"{"type":"events_touch"}"#)
            try await self.drop(guest, as: "guest")
            let comeback = harness.client()
            await comeback.send(#"{"type":"reconnect","room_id":"\#(code)","player_id":"guest","token":"\#(token)"}"#)
            #expect(await comeback.received().first?.type == "reconnected")
            await comeback.send(#"{"type":"events_touch"}"#)
            await guest.send(#"{"type":"events_touch"}"#)  // the replaced connection speaks for nobody
            await comeback.send(#"{"type":"leave_room"}"#)
            await host.send(#"{"type":"leave_room"}"#)
            #expect(
                try await self.log(in: harness, code: code) { $0.last == "room_closed R - []" } == [
                    "member_joined R host [host]",
                    "member_joined R guest [guest,host]",
                    "touch R host [guest,host]",
                    "member_dropped R guest [host]",
                    "member_reconnected R guest [guest,host]",
                    "touch R guest [guest,host]",
                    "touch - None []",
                    "member_left R guest [host]",
                    "member_left R host []",
                    "room_closed R - []",
                ])
        }
    }

    /// The check of `requestsAgreeWithTheEventsBeforeThem`: each request's `room` lists the members
    /// connected by the events read before it.
    private func expectRequestsAgreeWithEvents(
        _ log: [String], connectedBefore: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var connected = connectedBefore
        for entry in log {
            let fields = entry.split(separator: " ", maxSplits: 3).map(String.init)
            switch fields[0] {
            case "member_joined", "member_reconnected": connected.insert(fields[2])
            case "member_dropped", "member_left": connected.remove(fields[2])
            case "touch", "chat":
                let listed = "[" + connected.sorted().joined(separator: ",") + "]"
                #expect(fields[3] == listed, "\(entry) after \(listed) in \(log)", sourceLocation: sourceLocation)
            default: Issue.record("unexpected \(entry)", sourceLocation: sourceLocation)
            }
        }
    }

    /// A member's request held back by a full answer window keeps the event queued after it waiting:
    /// the plugin must not hear a joiner before a request whose `room` predates them.
    @Test("An event waits for its room's request that the answer window holds back")
    func anEventWaitsForAHeldBackRequest() async throws {
        let release = FileManager.default.temporaryDirectory.appendingPathComponent("release-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: release) }
        try await ProbePlugin.withProcess([Self.recorder()], settings: ProbePlugin.settings()) { process, harness in
            let host = harness.client()
            let code = try await host.createRoom(playerID: "host", name: "Hosty")
            _ = try await self.log(in: harness, code: code) { $0.contains("member_joined R host [host]") }
            let before = try #require(process.requestsQueued)
            let window = Int(AnswerWindow.initialSize)
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Requests from outside the room, answered once `release` exists: the window is full.
                for _ in 0..<window {
                    let holder = harness.client()
                    group.addTask { _ = await holder.exchange(#"{"type":"events_hold","until":"\#(release)"}"#) }
                }
                try await harness.eventually { (process.requestsQueued?.taken ?? 0) - before.taken >= window }
                group.addTask { await host.send(#"{"type":"events_touch"}"#) }
                try await harness.eventually { process.requestsQueued?.waiting == 1 }  // held back by the window
                let guest = harness.client(url: code)
                await guest.send(#"{"type":"join_room","player_name":"G","player_id":"guest"}"#)
                #expect(process.requestsQueued?.waiting ?? 0 >= 1, "the touch was still held back at the join")
                #expect(FileManager.default.createFile(atPath: release, contents: nil))
                try await group.waitForAll()
            }
            let log = try await self.log(in: harness, code: code) { log in
                log.contains { $0.hasPrefix("member_joined R guest") }
            }
            #expect(log == ["touch R host [host]", "member_joined R guest [guest,host]"])
        }
    }

    @Test("A plugin hears only the events it asked for; its requests come as ever")
    func onlyTheEventsAskedFor() async throws {
        try await ProbePlugin.withHarness([Self.recorder(events: "room_closed")]) { harness in
            let (host, guest, code) = try await harness.roomWithTwoPlayers()
            await guest.send(#"{"type":"events_touch"}"#)
            await guest.send(#"{"type":"leave_room"}"#)
            await host.send(#"{"type":"leave_room"}"#)
            #expect(
                try await self.log(in: harness, code: code) { $0.last == "room_closed R - []" } == [
                    "touch R guest [guest,host]", "room_closed R - []",
                ])
        }
    }

    /// A plugin that handles nothing may still listen, say to keep statistics.
    @Test("A plugin may ask for events alone")
    func eventsAlone() async throws {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: logFile) }
        try await ProbePlugin.withHarness([Self.recorder(events: "member_joined,room_closed", logFile: logFile)]) {
            harness in
            let host = harness.client()
            let code = try await host.createRoom(playerID: "host", name: "Hosty")
            await host.send(#"{"type":"leave_room"}"#)
            var logged: [String] = []
            try await harness.eventually {
                let content = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                logged = content.split(separator: "\n").map { $0.replacingOccurrences(of: code, with: "R") }
                return logged.count >= 2 && content.hasSuffix("\n")  // not a line half written
            }
            #expect(logged == ["member_joined R host [host]", "room_closed R - []"])
        }
    }

    /// Runs `body` with a recorder plugin listening for `events` (its input held to 4 KiB) that was
    /// told of 600 rooms, each created and left (three events), while it did not read, and has just
    /// been let read: with its log file, the number of rooms and the count of events the
    /// `plugin.events.missed` warnings have logged so far.
    private func withEventsMissed(
        listening events: String,
        _ body: (_ harness: Harness, _ logFile: String, _ rooms: Int, _ warned: () -> Int) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("missed-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (logFile, startFile) = (folder + "/log", folder + "/start")
        var settings = ProbePlugin.settings()
        settings.maxQueuedInputBytes = 4_096
        let recorder = Self.recorder(events: events, logFile: logFile, startFile: startFile)
        let records = RecordedLogs()
        let logger = Logger(label: "missed-events") { _ in records }
        func warned() -> Int {
            records.entries.filter { $0.message == "plugin.events.missed" }
                .compactMap { entry in entry.metadata["count"].flatMap { Int("\($0)") } }.reduce(0, +)
        }
        try await ProbePlugin.withHarness([recorder], settings: settings, logger: logger) { harness in
            // Three events a room, some 250 KB in all: far more than the pipe (64 KiB) and the input hold.
            let rooms = 600
            for index in 0..<rooms {
                let host = harness.client()
                _ = try await host.createRoom(playerID: "p\(index)", name: "P")
                await host.send(#"{"type":"leave_room"}"#)
            }
            #expect(FileManager.default.createFile(atPath: startFile, contents: nil))
            try await body(harness, logFile, rooms, warned)
        }
    }

    /// A plugin that stops reading misses events once its input is full (its stdin pipe too, or
    /// while the writer is behind), and is told in each room's place how many: every room's events
    /// are accounted for, each heard or counted where it happened.
    @Test("A plugin that stopped reading is told, in each room's place, how many of its events it missed")
    func missedEventsAreCounted() async throws {
        let events = "member_joined,member_left,room_closed,events_missed"
        try await self.withEventsMissed(listening: events) { harness, logFile, rooms, warned in
            var byRoom: [String: [String]] = [:]
            var missed = 0
            try await harness.eventually {
                let content = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                byRoom = [:]
                var accounted = 0
                missed = 0
                for line in content.split(separator: "\n") {
                    let fields = line.split(separator: " ").map(String.init)
                    byRoom[fields[1], default: []].append(
                        fields[0] == "events_missed" ? "missed \(fields[2])" : fields[0])
                    accounted += fields[0] == "events_missed" ? Int(fields[2]) ?? 0 : 1
                    missed += fields[0] == "events_missed" ? Int(fields[2]) ?? 0 : 0
                }
                return accounted >= 3 * rooms && content.hasSuffix("\n")
            }
            // The log's warnings, at most one a second, count them all, the last burst's included.
            try await harness.eventually { warned() >= missed }
            #expect(warned() == missed)
            #expect(byRoom.count == rooms)
            // Each room's events in their order, a notice standing for as many as it counts.
            let happened = ["member_joined", "member_left", "room_closed"]
            for (room, entries) in byRoom {
                let told = entries.flatMap { entry in
                    entry.hasPrefix("missed ") ? Array(repeating: "?", count: Int(entry.dropFirst(7)) ?? 0) : [entry]
                }
                #expect(told.count == happened.count, "\(room): \(entries)")
                for (heard, event) in zip(told, happened) where heard != "?" {
                    #expect(heard == event, "\(room): \(entries)")
                }
            }
            #expect(byRoom.values.contains { $0.last?.hasPrefix("missed") == true }, "nothing was missed")
        }
    }

    /// `events_missed` came after room events (PLUGINS.md, "Versioning"): a plugin that did not
    /// list it, one written before it, must never be sent the event, only have its misses logged.
    @Test("A plugin that did not ask for events_missed misses events untold; the log still counts them")
    func missedEventsAreNotToldUnasked() async throws {
        try await self.withEventsMissed(listening: "member_joined,member_left,room_closed") {
            harness, logFile, rooms, warned in
            // Every event heard or warned of: the plugin has read all its input.
            var heard: [String] = []
            try await harness.eventually {
                let content = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                heard = content.split(separator: "\n").map(String.init)
                return heard.count + warned() >= 3 * rooms && content.hasSuffix("\n")
            }
            #expect(warned() > 0, "nothing was missed")
            #expect(heard.count + warned() == 3 * rooms)
            // A room after them all: its events fit, behind any notice queued meanwhile (a notice
            // waits for room in the input, so it may come after every event the plugin heard).
            let last = harness.client()
            let code = try await last.createRoom(playerID: "last", name: "L")
            await last.send(#"{"type":"leave_room"}"#)
            var after: [String] = []
            try await harness.eventually {
                let content = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                after = content.split(separator: "\n").dropFirst(heard.count).map(String.init)
                return content.hasSuffix("\n")
                    && after.contains { $0 == "room_closed \(code) - []" || $0.hasPrefix("events_missed") }
            }
            #expect(
                after == [
                    "member_joined \(code) last [last]", "member_left \(code) last []", "room_closed \(code) - []",
                ], "\(after)")
            let notices = (heard + after).filter { $0.hasPrefix("events_missed") }
            #expect(notices.isEmpty, "told of missed events it did not ask for: \(notices)")
        }
    }

    /// Members come and go while another sends requests: each request's `room` must list the
    /// members the plugin's events say are connected at that point of what it has read. (A request
    /// queued after leaving its room could be read after an event its `room` predates.)
    @Test("Under concurrent joins and departures, every request's room agrees with the events before it")
    func requestsAgreeWithTheEventsBeforeThem() async throws {
        try await ProbePlugin.withHarness([Self.recorder()]) { harness in
            let host = harness.client()
            let code = try await host.createRoom(playerID: "host", name: "Hosty")
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Handled (touch) and filtered (chat) messages: both are queued inside the room.
                    for round in 0..<300 {
                        await host.send(
                            round.isMultiple(of: 2) ? #"{"type":"events_touch"}"# : #"{"type":"chat","message":"hi"}"#)
                        _ = await host.received()
                    }
                }
                group.addTask {
                    for round in 0..<60 {
                        let guest = harness.client(url: code)
                        await guest.send(#"{"type":"join_room","player_name":"G","player_id":"g\#(round)"}"#)
                        await guest.send(#"{"type":"leave_room"}"#)
                    }
                }
            }
            let log = try await self.log(in: harness, code: code) { log in
                log.filter { $0.hasPrefix("member_left") }.count >= 60
            }
            self.expectRequestsAgreeWithEvents(log)
            let touches = log.filter { $0.hasPrefix("touch") || $0.hasPrefix("chat") }.count
            #expect(touches == 300)
            #expect(log.filter { $0.hasPrefix("member_left") }.count == 60)
        }
    }
}

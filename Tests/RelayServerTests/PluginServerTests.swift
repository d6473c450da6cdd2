import Foundation
import Testing

/// The `relay` executable with the example plugins, played over real WebSockets.
@Suite("Plugins in the relay process", .serialized)
struct PluginServerTests {
    /// `examples/plugins` of this checkout.
    static let examplesDirectory =
        "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/examples/plugins"

    /// A `plugins` folder in `directory` holding one executable shell script, `name`, running `body`.
    private static func pluginsFolder(in directory: String, script name: String, _ body: String) throws -> String {
        let plugins = "\(directory)/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try "#!/bin/sh\n\(body)\n".write(toFile: "\(plugins)/\(name)", atomically: true, encoding: .utf8)
        chmod("\(plugins)/\(name)", 0o755)
        return plugins
    }

    /// How many times `event` was logged once the plugin said on stderr that its flood is written
    /// (waited for, bounded), and a second more for the rest of the flood to be read.
    private static func logged(_ event: String, afterFloodBy relay: ChildRelay) async throws -> Int {
        _ = try await relay.listeningPort()
        let deadline = ContinuousClock.now + .seconds(30)
        while !relay.printed.contains("flood written"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(1))
        return relay.printed.components(separatedBy: event).count - 1
    }

    /// Whether process `pid` exists and has not exited (a zombie not yet reaped by whoever
    /// adopted it has).
    private static func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // "PID (command) STATE …"; the command may hold spaces and parentheses.
        guard let state = stat.split(separator: ")").last?.split(separator: " ").first else { return false }
        return state != "Z"
    }

    private func startRelay(
        dataDirectory: String, pluginsDirectory: String, timeoutMs: Int = 30_000, asProcessOne: Bool = false
    ) throws -> ChildRelay {
        try ChildRelay(
            // Generous plugin timeouts, which here only bound a hang: a loaded CI machine must not
            // turn a slow answer into plugin_timeout here, nor a Python plugin's slow start into a
            // failed start (at the suite's start, beside every other suite, one took over 5 s);
            // both have their own tests.
            arguments: [
                "--port", "0", "--data-dir", dataDirectory, "--plugins-dir", pluginsDirectory,
                "--plugin-timeout-ms", "\(timeoutMs)", "--plugin-startup-timeout-seconds", "60",
            ],
            environment: ["API_KEY": testAPIKey], asProcessOne: asProcessOne)
    }

    /// Process 1 adopts what a plugin leaves behind, and the relay reaps only its plugins: in a
    /// container without an init, a plugin restarting in a loop piled up zombies.
    @Test("As process 1 (a container without an init) the relay warns that plugins' leftovers go unreaped")
    func warnsAsProcessOne() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(
                dataDirectory: directory + "/one", pluginsDirectory: Self.examplesDirectory, asProcessOne: true)
            _ = try await relay.listeningPort()
            #expect(relay.printed.contains("relay.plugins.no_init"))
            let plain = try self.startRelay(
                dataDirectory: directory + "/plain", pluginsDirectory: Self.examplesDirectory)
            _ = try await plain.listeningPort()
            #expect(!plain.printed.contains("relay.plugins.no_init"))
        }
    }

    /// README: `relay.starting` says the plugins are up. A plugin's `plugin.ready` came after it in
    /// one start of four when that plugin said hello last: the start was told first.
    @Test("A plugin that says hello late is logged ready before the start goes on")
    func readyIsLoggedBeforeTheStartGoesOn() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "late.sh",
                """
                sleep 1
                echo '{"kind":"hello","protocol":1,"name":"late","handles":["late_type"]}'
                while read -r line; do :; done
                """)
            let relay = try self.startRelay(dataDirectory: directory + "/data", pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            let lines = relay.printed.split(separator: "\n")
            let ready = try #require(lines.firstIndex { $0.hasSuffix("] plugin.ready") }, "\(relay.printed)")
            let starting = try #require(lines.firstIndex { $0.hasSuffix("] relay.starting") }, "\(relay.printed)")
            #expect(ready < starting, "\(relay.printed)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("The example plugins serve roll_dice and filter chat; SIGTERM stops them and exits 0")
    func examplePlugins() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: Self.examplesDirectory)
            let port = try await relay.listeningPort()
            #expect(relay.printed.contains("plugin.ready"))

            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)

            host.send(["type": "roll_dice", "sides": 12])
            for socket in [host, guest] {
                let rolled = try await socket.expect("dice_rolled")
                #expect(rolled["player_id"] as? String == room.hostID)
                #expect(rolled["sides"] as? Int == 12)
                #expect((1...12).contains(rolled["value"] as? Int ?? 0))
            }

            guest.send(["type": "chat", "message": "gg noob"])
            for socket in [host, guest] {
                #expect(try await socket.expect("chat")["message"] as? String == "gg ****")
            }
            guest.send(["type": "chat", "message": "free coins at www.example.com"])
            let refused = try await guest.expect("error")
            #expect(refused["code"] as? String == "chat_link_blocked")

            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            // The plugins (dice.sh, chat_guard.py, room_scores.py) exited on their own once their stdin closed.
            #expect(relay.printed.components(separatedBy: "plugin.exited").count - 1 == 3, "\(relay.printed)")
            #expect(!relay.printed.contains("plugin.shutdown.kill"), "\(relay.printed)")
        }
    }

    @Test("The example room_scores keeps scores per room; room events take away a member who leaves and a closed room")
    func exampleRoomScores() async throws {
        try await withTemporaryDirectory { directory in
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: Self.examplesDirectory)
            let port = try await relay.listeningPort()
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)

            host.send(["type": "add_score", "points": 5])
            for socket in [host, guest] {
                #expect(try await socket.expect("room_scores")["scores"] as? [String: Int] == [room.hostID: 5])
            }
            guest.send(["type": "add_score", "points": 3])
            for socket in [host, guest] {
                let scores = try await socket.expect("room_scores")["scores"] as? [String: Int]
                #expect(scores == [room.hostID: 5, room.guestID: 3])
            }
            guest.send(["type": "add_score", "points": 1.5])
            #expect(try await guest.expect("error")["code"] as? String == "invalid_points")

            guest.send(["type": "leave_room"])
            try await host.expect("player_left")
            host.send(["type": "add_score", "points": 1])
            #expect(try await host.expect("room_scores")["scores"] as? [String: Int] == [room.hostID: 6])

            host.send(["type": "leave_room"])
            try await eventually { relay.printed.contains("room \(room.code) closed, its scores forgotten") }
            #expect(relay.printed.contains("room \(room.code) closed, its scores forgotten"), "\(relay.printed)")
        }
    }

    /// After `events_missed` for a room, room_scores keeps only the scores of the members its next
    /// request lists: the lost events may have been departures. Spoken to directly, line by line.
    @Test("The example room_scores checks a room against its next request once events of it were missed")
    func exampleRoomScoresAfterMissedEvents() throws {
        func request(_ id: Int, from player: String, points: Int, members: [String]) -> String {
            let players = members.map { #"{"player_id":"\#($0)"}"# }.joined(separator: ",")
            return #"{"kind":"message","id":\#(id),"type":"add_score","player_id":"\#(player)","#
                + #""room":{"room_id":"R","players":[\#(players)]},"message":{"type":"add_score","points":\#(points)}}"#
        }
        let lines = [
            request(1, from: "a", points: 5, members: ["a", "b"]),
            request(2, from: "b", points: 3, members: ["a", "b"]),
            #"{"kind":"event","event":"events_missed","room_id":"R","count":2}"#,
            request(3, from: "a", points: 1, members: ["a"]),
            request(4, from: "a", points: 1, members: ["a", "c"]),
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.examplesDirectory + "/room_scores.py"]
        let (input, output) = (Pipe(), Pipe())
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try input.fileHandleForWriting.close()  // it exits at the end of its input
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let answers = said.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect((answers.first?["events"] as? [String])?.contains("events_missed") == true, "\(said)")
        #expect(answers.first?["max_message_bytes"] as? Int == 256, "\(said)")
        let scores = answers.dropFirst().map { answer in
            ((answer["actions"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["scores"] as? [String: Int]
        }
        #expect(scores == [["a": 5], ["a": 5, "b": 3], ["a": 6], ["a": 7]], "\(said)")
    }

    /// The server's stop closes every socket: a listening plugin hears each member drop, and no
    /// departure or closing after (PLUGINS.md, "Room events").
    @Test("At the server's stop a listening plugin hears every connected member drop, and nothing after")
    func eventsAtTheStop() async throws {
        try await withTemporaryDirectory { directory in
            let log = "\(directory)/events.log"
            let plugins = try Self.pluginsFolder(
                in: directory, script: "listener.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"listener","events":["member_joined","member_dropped","member_left","room_closed"]}'
                while IFS= read -r line; do printf '%s\\n' "$line" >> '\(log)'; done
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let port = try await relay.listeningPort()
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            let room = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            func events() -> [String] {
                let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                return lines.compactMap { line in
                    let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    return event.map { "\($0["event"] ?? "?") \($0["player_id"] ?? "-")" }
                }
            }
            try await eventually { events().count == 2 }
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            let told = events()
            #expect(Array(told.prefix(2)) == ["member_joined \(room.hostID)", "member_joined \(room.guestID)"])
            #expect(Set(told.dropFirst(2)) == ["member_dropped \(room.hostID)", "member_dropped \(room.guestID)"])
            #expect(told.count == 4, "\(told)")
        }
    }

    @Test("A plugin claiming a built-in type stops start-up with a clear message and exit status 3")
    func conflictingPlugin() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "greedy.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"greedy","handles":["chat"]}'
                cat >/dev/null
                """)
            try "not a plugin: not executable".write(toFile: "\(plugins)/README", atomically: true, encoding: .utf8)

            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            #expect(try await relay.exitStatus() == 3)
            let conflict = "message type 'chat' is claimed by the server and by plugin \(plugins)/greedy.sh"
            #expect(relay.printed.contains(conflict), "named by its path")
            #expect(relay.printed.contains("relay.plugins.not_executable"), "the README beside it is named")
        }
    }

    @Test("A plugin gets the server's environment without its API key")
    func pluginsDoNotGetTheKey() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "env.sh",
                """
                echo "key:${API_KEY-unset} protocol:${RELAY_PLUGIN_PROTOCOL-unset} path:${PATH:+set}" >&2
                echo '{"kind":"hello","protocol":1,"name":"env","handles":["env_probe"]}'
                cat >/dev/null
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            try await eventually { relay.printed.contains("plugin.stderr") }
            #expect(relay.printed.contains("key:unset protocol:1 path:set"), "\(relay.printed)")
            #expect(!relay.printed.contains(testAPIKey))
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// PLUGINS.md: no open file but its three pipes, every signal at its default action and none
    /// blocked (SIGPIPE too, which the server ignores), no controlling terminal, the server's
    /// working folder, no arguments. The report is written by programs the script starts, which
    /// get what it got: `ls` lists its own descriptors (3 is its listing of them), and the shell's
    /// own three are read from /proc. `tty_nr` 0 is no controlling terminal, whatever the test's.
    @Test("A plugin starts with its three pipes alone, default signals, no terminal, no arguments")
    func pluginsStartClean() async throws {
        try await withTemporaryDirectory { directory in
            let report = "\(directory)/report"
            let plugins = try Self.pluginsFolder(
                in: directory, script: "clean.sh",
                """
                pipes=$(for fd in 0 1 2; do readlink /proc/$$/fd/$fd | cut -d: -f1; done | tr '\\n' ' ')
                {
                    grep -E '^Sig(Ign|Blk):' /proc/self/status
                    echo "fds $(ls /proc/self/fd | sort -n | tr '\\n' ' ')"
                    echo "pipes $pipes"
                    echo "cwd $(pwd -P)"
                    echo "args $#"
                    echo "tty $(cut -d' ' -f7 /proc/$$/stat)"
                } > '\(report).tmp'
                mv '\(report).tmp' '\(report)'
                echo '{"kind":"hello","protocol":1,"name":"clean","handles":["clean"]}'
                cat >/dev/null
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            try await eventually { FileManager.default.fileExists(atPath: report) }
            let lines = try String(contentsOfFile: report, encoding: .utf8).split(separator: "\n").map {
                $0.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            }
            let serverFolder = try FileManager.default.destinationOfSymbolicLink(
                atPath: "/proc/\(relay.process.pid)/cwd")
            #expect(
                lines.dropFirst(2) == [
                    "fds 0 1 2 3", "pipes pipe pipe pipe", "cwd \(serverFolder)", "args 0", "tty 0",
                ],
                "\(lines)")
            #expect(lines.first == "SigBlk: 0000000000000000")
            // Signals 32 and 33 are glibc's own (SIGRTMIN is 34 to programs): its posix_spawn
            // sets them to ignored in the child. Every other, SIGPIPE and the SIGQUIT the server ignores included,
            // at its default.
            let ignored = lines.dropFirst().first.flatMap { UInt64($0.dropFirst("SigIgn: ".count), radix: 16) }
            #expect(ignored.map { $0 & ~0x1_8000_0000 } == 0, "\(lines)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// Plugins writing output faster than the server reads it hold none of the task pool's threads
    /// for good: with four flooding plugins a core, another plugin's answer is still read while
    /// they flood. A reader whose pipe was never empty kept its thread, and with one such plugin a
    /// thread the relay handled nothing else until the floods ended (Dispatch sometimes adds a
    /// thread, so that was caught in most runs, not all). In a relay of its own: the floods would
    /// hold up the test process's pool, which every suite shares.
    @Test(
        "Plugins flooding their stdout or stderr hold up no other plugin's answers",
        arguments: ["stdout", "stderr"])
    func floodingPluginsHoldUpNoOtherPlugin(stream: String) async throws {
        try await withTemporaryDirectory { directory in
            let go = "\(directory)/go"
            let floods = min(32, 4 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            var plugins = ""
            for index in 0..<floods {
                // `yes` writes far faster than lines are read, from `go` until its stdin closes (the
                // relay's stop), in the plugin's process group; each wait bounded, for a failed test.
                plugins = try Self.pluginsFolder(
                    in: directory, script: "flood\(index).sh",
                    """
                    echo '{"kind":"hello","protocol":1,"name":"flood","handles":["flood\(index)"]}'
                    n=0
                    while [ ! -e '\(go)' ] && [ $n -lt 2400 ]; do sleep 0.05; n=$((n+1)); done
                    timeout --foreground 120 yes x >&\(stream == "stdout" ? 1 : 2) &
                    cat >/dev/null
                    kill $! 2>/dev/null
                    """)
            }
            try FileManager.default.copyItem(atPath: "\(Self.examplesDirectory)/dice.sh", toPath: "\(plugins)/dice.sh")
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let port = try await relay.listeningPort()
            let player = TestSocket.connect(port: port)
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            // Every flood under way: the relay has logged some of each one's lines.
            let event = stream == "stdout" ? "plugin.line.garbage" : "plugin.stderr"
            try await eventually(timeout: .seconds(60)) {
                let lines = relay.printed.split(separator: "\n").filter { $0.contains(event) }
                return (0..<floods).allSatisfy { index in lines.contains { $0.contains(" plugin=flood\(index).sh ") } }
            }
            player.send(["type": "roll_dice", "sides": 6])
            // The floods last until the relay stops: without the yield it neither read the answer
            // nor timed the request out, nor even handled the message, until they ended.
            let answer = try await player.next(timeout: .seconds(60))
            #expect(answer["type"] as? String == "dice_rolled", "\(answer)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("A plugin's stderr past 200 lines at once is dropped, each logged line counting the drops since the last")
    func standardErrorFloodsAreCountedPerLine() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "loud.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"loud","handles":["loud"]}'
                i=0
                while [ $i -lt 1000 ]; do echo "flood $i" >&2; i=$((i+1)); done
                j=0
                while true; do echo "calm $j" >&2; j=$((j+1)); sleep 0.2; done
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            let logged = { relay.printed.split(separator: "\n").filter { $0.contains("plugin.stderr") } }
            try await eventually { logged().count(where: { $0.contains("calm") }) >= 3 }
            let lines = logged()
            let dropped = lines.map { line in line.firstMatch(of: /dropped=(\d+)/).flatMap { Int($0.1) } ?? -1 }
            // Each line written is logged or counted once, by the next line logged: so the lines
            // logged and the drops they count, up to calm line J, are the 1,000 flood lines and
            // J + 1 calm lines. (Counted since the start, the drops came to thousands more.)
            var accounted = 0
            for (line, drops) in zip(lines, dropped) {
                accounted += 1 + drops
                guard let calm = line.firstMatch(of: /calm (\d+)/), let number = Int(calm.1) else { continue }
                #expect(accounted == 1_000 + number + 1, "\(line): \(dropped)")
            }
            #expect(dropped.contains { $0 > 0 }, "the flood was cut: \(dropped)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// Each process had a bucket of its own: a plugin that fails at every start got a fresh burst
    /// of 200 lines each time (a helper review's find).
    @Test("A plugin crashing in a loop gets one stderr budget, not a burst of 200 lines at each restart")
    func standardErrorBudgetOutlivesRestarts() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "crashes.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"crashes","handles":["crashes"]}'
                i=0
                while [ $i -lt 300 ]; do echo "traceback $i" >&2; i=$((i+1)); done
                exit 1
                """)
            let start = ContinuousClock.now
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            let lines = { relay.printed.split(separator: "\n") }
            try await eventually { lines().count { $0.contains("plugin.restarting") } >= 5 }  // 1,500 lines written
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            // The first process spent the burst; what followed its restart is the refill only
            // (a burst a process logged ~200 lines a restart, within 0.1–1.6 s of each other).
            let afterRestart = lines().drop { !$0.contains("plugin.restarting") }
            let logged = afterRestart.filter { $0.contains("plugin.stderr") }
            #expect(logged.count <= Int(50 * seconds) + 5, "\(logged.count) lines logged in \(seconds) s")
            // What was not logged is counted, by whichever process logs next: the lines logged and
            // their drops add up to every line of the processes before the last two (whose lines
            // the next one's first logged line may not have counted yet), and no more than written.
            let snapshot = lines()
            let restarts = snapshot.count { $0.contains("plugin.restarting") }
            let accounted = snapshot.filter { $0.contains("plugin.stderr") }.reduce(0) { total, line in
                total + 1 + (line.firstMatch(of: /dropped=(\d+)/).flatMap { Int($0.1) } ?? 0)
            }
            #expect((300 * (restarts - 1)...300 * (restarts + 1)).contains(accounted), "\(accounted), \(restarts)")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    /// swift-subprocess's default teardown sent the plugin's group SIGTERM as the server's stop
    /// cancelled it, beside the kill: PLUGINS.md promises end of input, then SIGKILL, nothing else.
    @Test("A plugin that outlives the stop's grace period is killed, never sent SIGTERM")
    func pluginsAreNeverSentSIGTERM() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "deaf.sh",
                """
                exec python3 -c '
                import signal, sys, time
                signal.signal(signal.SIGTERM, lambda *_: open("\(directory)/got_sigterm", "w").close())
                print("{\\"kind\\":\\"hello\\",\\"protocol\\":1,\\"name\\":\\"deaf\\",\\"handles\\":[\\"deaf\\"]}", flush=True)
                sys.stdin.read()
                print("input ended", file=sys.stderr, flush=True)
                while True:
                    time.sleep(0.01)
                '
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
            #expect(relay.printed.contains("input ended") && relay.printed.contains("plugin.shutdown.kill"))
            try await Task.sleep(for: .milliseconds(200))  // a handler that ran would have written by now
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/got_sigterm"))
        }
    }

    @Test("A plugin that floods invalid answers gets a few log lines, not one per answer")
    func invalidAnswersAreLoggedSometimes() async throws {
        try await withTemporaryDirectory { directory in
            let plugins = try Self.pluginsFolder(
                in: directory, script: "spam.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"spam","handles":["spam"]}'
                i=0
                while [ $i -lt 20000 ]; do echo '{"kind":"answer","id":999999999,"actions":5}'; i=$((i+1)); done
                echo 'flood written' >&2
                cat >/dev/null
                """)

            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let logged = try await Self.logged("plugin.answer.invalid", afterFloodBy: relay)
            // The first ten, then a few (it was 20,000, at ~10 MB/s).
            #expect((10...40).contains(logged), "\(logged) lines")
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("Answers of the wrong kind (a verdict to a message request) are refused, and logged sometimes")
    func misfitAnswersAreLoggedSometimes() async throws {
        try await withTemporaryDirectory { directory in
            // Well-formed, but a filter's verdict where actions are due: each was one warning.
            let plugins = try Self.pluginsFolder(
                in: directory, script: "confused.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"confused","handles":["confused"]}'
                while read -r line; do
                    id=${line#*'"id":'}; id=${id%%,*}
                    printf '{"kind":"answer","id":%s,"verdict":"pass"}\\n' "$id"
                done
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let client = TestSocket.connect(port: try await relay.listeningPort())
            let count = 200
            for _ in 0..<count { client.send(["type": "confused"]) }
            for _ in 0..<count { #expect(try await client.expect("error")["code"] as? String == "plugin_error") }
            let logged = relay.printed.components(separatedBy: "plugin.answer.invalid").count - 1
            // The first ten, then one a second: not one per answer.
            #expect((1...20).contains(logged), "\(logged) lines")
            #expect(relay.printed.contains("a verdict answers a message request"))
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("A plugin writing garbage without end gets a log line a second, and its text is logged escaped")
    func garbageWithoutEndIsLoggedOnceASecond() async throws {
        try await withTemporaryDirectory { directory in
            // A carriage return and an escape sequence, on stderr and as a garbage line: written raw
            // they would forge a log line of their own on the operator's terminal.
            let plugins = try Self.pluginsFolder(
                in: directory, script: "garbage.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"garbage","handles":["garbage"]}'
                printf 'forged\\r critical database.corrupt\\033[2K\\n' >&2
                printf 'forged\\r critical database.corrupt\\033[2K\\n'
                timeout 2 yes 'not json'
                echo 'flood written' >&2
                cat >/dev/null
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let logged = try await Self.logged("plugin.line.garbage", afterFloodBy: relay)
            // Ten, then one a second for the flood's two: one in a thousand was thousands.
            #expect((2...16).contains(logged), "\(logged) lines")
            #expect(!relay.printed.contains("\r"), "a raw carriage return reached the log")
            #expect(!relay.printed.contains("\u{1B}"), "a raw escape reached the log")
            #expect(relay.printed.components(separatedBy: "forged\\u{d} critical").count - 1 == 2)
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
        }
    }

    @Test("A player waiting for a plugin's answer leaves at once, and SIGTERM does not wait for the answer")
    func waitingForAPluginHoldsNeitherDepartureNorStop() async throws {
        try await withTemporaryDirectory { directory in
            // It reads every request and answers none: each would wait out the 60 s timeout.
            let plugins = try Self.pluginsFolder(
                in: directory, script: "mute.sh",
                """
                echo '{"kind":"hello","protocol":1,"name":"mute","handles":["mute"]}'
                cat >>'\(directory)/requests'
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins, timeoutMs: 60_000)
            let port = try await relay.listeningPort()
            let host = TestSocket.connect(port: port)
            let guest = TestSocket.connect(port: port)
            _ = try await RelayFlowTests.openRoom(port, host: host, guest: guest)
            guest.send(["type": "mute"])
            host.send(["type": "mute"])
            // Both requests reached the plugin, so both players now wait for an answer.
            try await eventually {
                let requests = (try? String(contentsOfFile: "\(directory)/requests", encoding: .utf8)) ?? ""
                return requests.split(separator: "\n").filter { $0.contains(#""type":"mute""#) }.count == 2
            }
            let left = ContinuousClock.now
            guest.close()
            _ = try await host.expect("player_disconnected", timeout: .seconds(20))
            #expect(ContinuousClock.now - left < .seconds(20), "the departure waited for the guest's request")
            let stop = ContinuousClock.now
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0)
            #expect(ContinuousClock.now - stop < .seconds(20), "the stop waited for the host's request")
        }
    }

    /// A server killed outright cannot stop its plugins: end-of-file on stdin is all they get.
    /// Each plugin's stdin must be held by the server alone (not inherited by the next plugin
    /// it started), or a plugin that exits on end-of-file would outlive it.
    @Test("A server killed with SIGKILL leaves every plugin's stdin at end-of-file, so plugins that exit then end")
    func pluginsSeeEndOfFileWhenTheServerIsKilled() async throws {
        try await withTemporaryDirectory { directory in
            var plugins = ""
            for name in ["first", "second", "third"] {
                plugins = try Self.pluginsFolder(
                    in: directory, script: "\(name).sh",
                    """
                    echo $$ > \(directory)/\(name).pid
                    echo '{"kind":"hello","protocol":1,"name":"\(name)","handles":["\(name)"]}'
                    cat >/dev/null
                    """)
            }
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            _ = try await relay.listeningPort()
            let pluginPIDs = try ["first", "second", "third"].map { name in
                try #require(
                    Int32(
                        try String(contentsOfFile: "\(directory)/\(name).pid", encoding: .utf8)
                            .trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            relay.send(SIGKILL)
            #expect(try await relay.exitStatus() != 0)
            let gone = ContinuousClock.now + .seconds(30)  // a bound on a hang, left once they are gone
            while pluginPIDs.contains(where: Self.isRunning), ContinuousClock.now < gone {
                try await Task.sleep(for: .milliseconds(50))
            }
            for pid in pluginPIDs {
                #expect(!Self.isRunning(pid), "plugin \(pid) outlived the killed server")
                kill(pid, SIGKILL)
            }
        }
    }

    @Test(
        "SIGINT or SIGTERM while the plugins start stops them, and what they started, and exits 0",
        arguments: [SIGINT, SIGTERM])
    func signalDuringPluginStartup(signal: Int32) async throws {
        try await withTemporaryDirectory { directory in
            // The plugin starts a helper, then takes 30 s to say hello: the signal must come
            // before, so it is sent from the thread reading the relay's output as the plugin says
            // its helper runs (the stop kills the plugin after its grace period, so the test is
            // no longer for it).
            let helperPIDFile = "\(directory)/helper.pid"
            let plugins = try Self.pluginsFolder(
                in: directory, script: "slow_start.sh",
                """
                sleep 300 &
                echo $! > \(helperPIDFile)
                echo "helper started" >&2
                sleep 30
                echo '{"kind":"hello","protocol":1,"name":"slow","handles":["slow"]}'
                cat >/dev/null
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            relay.send(signal, oncePrinted: "helper started")
            // It used to die of the signal at once (status 128 + signal), and the helper lived on.
            #expect(try await relay.exitStatus(timeout: .seconds(60)) == 0, "\(relay.printed)")
            let helperPID = try #require(
                (try? String(contentsOfFile: helperPIDFile, encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            #expect(relay.printed.contains("relay.startup.interrupted"))
            #expect(relay.printed.contains("signal=\(signal) [Handlers] relay.stop.requested"))
            let gone = ContinuousClock.now + .seconds(30)  // a bound on a hang, left once it is gone
            while Self.isRunning(helperPID), ContinuousClock.now < gone {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!Self.isRunning(helperPID), "the plugin's helper \(helperPID) outlived the server")
            kill(helperPID, SIGKILL)
        }
    }
    /// A forced exit skips the plugins' orderly stop: a plugin that ignores the end of its input,
    /// and what it started, lived on.
    @Test("A forced exit (a later SIGTERM) kills the plugins and what they started")
    func forcedExitKillsThePlugins() async throws {
        try await withTemporaryDirectory { directory in
            let helperPIDFile = "\(directory)/helper.pid"
            let plugins = try Self.pluginsFolder(
                in: directory, script: "stubborn.sh",
                """
                trap '' TERM
                sleep 300 &
                echo $! > \(helperPIDFile)
                echo '{"kind":"hello","protocol":1,"name":"stubborn","handles":["stubborn"]}'
                cat >/dev/null
                sleep 300
                """)
            let relay = try self.startRelay(dataDirectory: directory, pluginsDirectory: plugins)
            let port = try await relay.listeningPort()
            let helperPID = try #require(
                (try? String(contentsOfFile: helperPIDFile, encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            // An upload stalled mid-body holds the stop for 5 s: the second signal comes within it.
            let upload = try await stalledUpload(port: port)
            defer { close(upload) }
            // Timed from the first stop line on a thread of its own, past the repeat window (1 s):
            // a loaded run held this test's tasks past the upload's 5 s.
            relay.send(SIGTERM, oncePrinted: "relay.stop.requested", after: .milliseconds(1_500))
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 128 + SIGTERM, "\(relay.printed)")
            try await eventually { !Self.isRunning(helperPID) }
            #expect(!Self.isRunning(helperPID), "the plugin's helper \(helperPID) outlived the server")
            kill(helperPID, SIGKILL)
        }
    }
}

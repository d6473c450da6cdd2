import ArgumentParser
import Foundation
import Logging

/// `relay-bench`: measures broadcast latency of any server speaking the JumpJumpJump
/// room protocol, through real WebSocket connections on loopback.
@main
struct RelayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-bench",
        abstract: "Broadcast-latency benchmark for JumpJumpJump room servers (loopback only).",
        discussion: """
            Opens --rooms rooms of --players players through the real protocol (create_room /
            join_room), then every player sends player_state at --hz for --duration. Latency is the
            time from a sender's send to each room-mate's receipt of the matching
            player_state_update (HDR histogram, corrected for coordinated omission).
            Pin the server and the benchmark to different cores, e.g.
              taskset -c 1 relay &  taskset -c 0 relay-bench ws://127.0.0.1:8000 --server-pid $!
            """
    )

    @Argument(help: "Server base URL, e.g. ws://127.0.0.1:8000 (loopback addresses only).")
    var url: String

    @Option(help: "Rooms to open.")
    var rooms: Int = 100

    @Option(help: "Players per room.")
    var players: Int = 2

    @Option(help: "player_state messages per second per player.")
    var hz: Double = 30

    @Option(help: "Measurement length, e.g. 30s or 2m.")
    var duration: String = "10s"

    @Option(help: "Extra bytes of padding in each player_state.")
    var payloadBytes: Int = 0

    @Option(help: "Rooms set up at a time.")
    var setupConcurrency: Int = 50

    @Option(help: "Server process id, to report its CPU and memory from /proc.")
    var serverPID: Int32?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard let host = URLComponents(string: self.url)?.host, Self.isLoopback(host) else {
            throw ValidationError("only loopback targets are allowed (127.0.0.0/8, localhost, ::1)")
        }
        guard self.rooms > 0, self.rooms <= 20_000 else { throw ValidationError("--rooms must be 1…20000") }
        guard self.players >= 2, self.players <= 16 else { throw ValidationError("--players must be 2…16") }
        guard self.hz > 0, self.hz <= 240 else { throw ValidationError("--hz must be in (0, 240]") }
        guard let seconds = Self.seconds(self.duration), seconds > 0, seconds <= 600 else {
            throw ValidationError("--duration must be between 1s and 10m")
        }
    }

    func run() async throws {
        var logger = Logger(label: "relay-bench")
        logger.logLevel = .warning
        let seconds = Self.seconds(self.duration)!
        let base = self.url.hasSuffix("/") ? String(self.url.dropLast()) : self.url
        let recorder = LatencyRecorder(expectedIntervalMicros: UInt64(1e6 / self.hz))
        let gate = StartGate()
        let clock = BenchClock()
        let setup = SetupTracker()

        let result = try await withThrowingTaskGroup(of: Void.self) { group -> BenchResult in
            let setupStart = ContinuousClock.now
            var ready = 0
            var failed = 0
            for batchStart in stride(from: 0, to: self.rooms, by: self.setupConcurrency) {
                let batch = batchStart..<min(batchStart + self.setupConcurrency, self.rooms)
                for room in batch {
                    let driver = RoomDriver(
                        index: room, url: base, players: self.players, hertz: self.hz,
                        payloadBytes: self.payloadBytes, clock: clock, recorder: recorder, gate: gate,
                        setup: setup, logger: logger)
                    group.addTask { await driver.run() }
                }
                let outcomes = await setup.waitFor(batch.count)
                ready += outcomes.ready
                failed += outcomes.failed
            }
            let setupSeconds = (ContinuousClock.now - setupStart).seconds
            let serverBefore = self.serverPID.flatMap(ProcessStats.read(pid:))
            let benchBefore = ProcessStats.read(pid: getpid())
            gate.open(for: .milliseconds(Int64(seconds * 1000)))
            let progress = Task {  // A reporting loop beside the structured work; cancelled below.
                var elapsed = 0
                while !Task.isCancelled, elapsed < Int(seconds) {
                    try? await Task.sleep(for: .seconds(1))
                    elapsed += 1
                    let now = recorder.snapshot()
                    FileHandle.standardError.write(Data(
                        "\r[\(elapsed)s] sent \(now.sent)  delivered \(now.delivered)  p99 \(Self.ms(now.p99)) ms   ".utf8))
                }
            }
            try await group.waitForAll()
            progress.cancel()
            FileHandle.standardError.write(Data("\n".utf8))
            return BenchResult(
                rooms: self.rooms, playersPerRoom: self.players, hertz: self.hz, seconds: seconds,
                payloadBytes: self.payloadBytes, roomsReady: ready, roomsFailed: failed,
                setupSeconds: setupSeconds, latency: recorder.snapshot(),
                server: Self.usage(before: serverBefore, after: self.serverPID.flatMap(ProcessStats.read(pid:))),
                bench: Self.usage(before: benchBefore, after: ProcessStats.read(pid: getpid())))
        }
        print(self.json ? result.jsonText() : result.table())
    }

    static func usage(before: ProcessStats?, after: ProcessStats?) -> BenchResult.Usage? {
        guard let before, let after else { return nil }
        return .init(cpuSeconds: after.cpuSeconds - before.cpuSeconds, residentBytes: after.residentBytes)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// "30s", "2m", "500ms" or plain seconds.
    static func seconds(_ text: String) -> Double? {
        if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1000 } }
        if text.hasSuffix("s") { return Double(text.dropLast()) }
        if text.hasSuffix("m") { return Double(text.dropLast()).map { $0 * 60 } }
        return Double(text)
    }

    static func ms(_ micros: UInt64) -> String { String(format: "%.2f", Double(micros) / 1000) }
}

extension Duration {
    var seconds: Double { Double(self.components.seconds) + Double(self.components.attoseconds) * 1e-18 }
}

/// What one measurement window saw: latencies and counts of the messages sent in it, and
/// the CPU and memory both processes used meanwhile.
struct WindowResult: Sendable, Encodable, Equatable {
    /// Sending time asked for.
    var seconds: Double
    var latency: LatencySnapshot
    /// From the window's start to the end of the drain.
    var server: ProcessUsage?
    var bench: ProcessUsage?
    /// Largest server RSS sampled during the window (every 250 ms), when asked for.
    var serverPeakResidentBytes: Int?
    var deliveriesPerSecond: Double
    /// CPU microseconds per delivered message.
    var serverMicrosPerDelivery: Double?
    var benchMicrosPerDelivery: Double?

    init(seconds: Double, latency: LatencySnapshot, server: ProcessUsage?, bench: ProcessUsage?, serverPeakResidentBytes: Int?) {
        self.seconds = seconds
        self.latency = latency
        self.server = server
        self.bench = bench
        self.serverPeakResidentBytes = serverPeakResidentBytes
        self.deliveriesPerSecond = seconds > 0 ? Double(latency.delivered) / seconds : 0
        self.serverMicrosPerDelivery = server?.cpuMicros(per: latency.delivered)
        self.benchMicrosPerDelivery = bench?.cpuMicros(per: latency.delivered)
    }
}

extension RoomFleet {
    /// Every healthy player sends `player_state` at `hertz` for `seconds`; then the bench waits
    /// up to `drain` for what is still in flight. Messages still missing after that are lost.
    func measure(
        seconds: Double, hertz: Double, paddingBytes: Int, serverPID: Int32?, sampleServerMemory: Bool = false,
        drain: Duration = .seconds(1), progress: (@Sendable (String) -> Void)? = nil
    ) async -> WindowResult {
        let recorder = self.connector.recorder
        let encoder = PlayerStateEncoder(paddingBytes: paddingBytes)
        let rooms = self.allRooms
        let serverBefore = serverPID.flatMap(ProcessStats.read(pid:))
        let benchBefore = ProcessStats.current()
        recorder.openWindow(at: BenchClock.micros())
        for room in rooms {
            let senders = room.healthyMembers
            for member in senders {
                member.socket.startSending(hertz: hertz, recipients: senders.count - 1, encoder: encoder)
            }
        }

        var peakServerMemory: Int?
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var nextProgress = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < end {
            try? await Task.sleep(until: min(end, ContinuousClock.now + .milliseconds(250)), clock: .continuous)
            if sampleServerMemory, let pid = serverPID, let stats = ProcessStats.read(pid: pid) {
                peakServerMemory = max(peakServerMemory ?? 0, stats.residentBytes)
            }
            if let progress, ContinuousClock.now >= nextProgress {
                nextProgress += .seconds(1)
                let now = recorder.snapshot()
                progress("sent \(now.sent)  delivered \(now.delivered)  p99 \(Format.ms(now.p99)) ms")
            }
        }
        for room in rooms {
            for member in room.healthyMembers { member.socket.stopSending() }
        }
        let drainEnd = ContinuousClock.now + drain
        while ContinuousClock.now < drainEnd {
            let counts = recorder.counts()
            if counts.delivered >= counts.expected { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let latency = recorder.snapshot()
        return WindowResult(
            seconds: seconds, latency: latency,
            server: ProcessUsage(from: serverBefore, to: serverPID.flatMap(ProcessStats.read(pid:))),
            bench: ProcessUsage(from: benchBefore, to: ProcessStats.current()),
            serverPeakResidentBytes: peakServerMemory)
    }
}

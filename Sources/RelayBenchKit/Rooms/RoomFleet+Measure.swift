import NIOCore

/// What one measurement window saw: latencies and counts of the messages sent in it, and
/// the CPU and memory both processes used meanwhile.
struct WindowResult: Sendable, Encodable, Equatable {
    /// Sending time asked for: the window's length by due time, whatever the senders took.
    var seconds: Double
    /// Sending time it took: longer when the bench's own task woke late (the sends due past the
    /// window's end then are not counted).
    var sendingSeconds: Double
    var latency: LatencySnapshot
    /// From the window's start to the end of the drain (its share of a core: while sending).
    var server: ProcessUsage?
    var bench: ProcessUsage?
    /// Largest server RSS sampled during the window (every 250 ms), when asked for.
    var serverPeakResidentBytes: Int?
    /// Seconds the hypervisor took this machine's cores away meanwhile (all cores together).
    var stealSeconds: Double?
    var deliveriesPerSecond: Double
    /// CPU microseconds per delivered message (relays to unmeasured players included).
    var serverMicrosPerDelivery: Double?
    var benchMicrosPerDelivery: Double?

    init(
        seconds: Double, sendingSeconds: Double? = nil, latency: LatencySnapshot, server: ProcessUsage?,
        bench: ProcessUsage?,
        serverPeakResidentBytes: Int?, stealSeconds: Double? = nil
    ) {
        self.seconds = seconds
        self.sendingSeconds = sendingSeconds ?? seconds
        self.latency = latency
        self.server = server
        self.bench = bench
        self.serverPeakResidentBytes = serverPeakResidentBytes
        self.stealSeconds = stealSeconds
        // A repeat is work the server did wrong, not throughput: each message counts once.
        let deliveredOnce = latency.delivered - latency.repeated
        self.deliveriesPerSecond = self.seconds > 0 ? Double(deliveredOnce) / self.seconds : 0
        // The CPU went into every relay received meanwhile: to unmeasured players too (slow-consumer's,
        // while they read), and of messages due before the window (a warm-up's backlog), which a
        // count of the window's deliveries alone left out.
        let relays = latency.relaysReceived
        self.serverMicrosPerDelivery = server?.cpuMicros(per: relays)
        self.benchMicrosPerDelivery = bench?.cpuMicros(per: relays)
    }
}

extension RoomFleet {
    /// Every healthy player starts sending `message` at `hertz`.
    func startSending(hertz: Double, paddingBytes: Int, message: StateMessage = .playerState) {
        let encoder = StateMessageEncoder(paddingBytes: paddingBytes, message: message)
        for (index, room) in self.allRooms.enumerated() {
            let senders = room.healthyMembers
            for member in senders {
                member.socket.startSending(
                    hertz: hertz, recipients: senders.count - 1, encoder: encoder, grid: self.connector.sendGrid,
                    room: Int64(index + 1))
            }
        }
    }

    /// Asks every sender to stop, with `end` (the window's) once it has made the sends due before
    /// it; each future completes once its loop has stopped sending.
    func requestStopSending(sendingWhatIsDueBefore end: NIODeadline? = nil) -> [EventLoopFuture<Void>] {
        self.allRooms.flatMap { room in
            room.healthyMembers.map { $0.socket.stopSending(sendingWhatIsDueBefore: end) }
        }
    }

    /// Returns once every sender has stopped: a drain that follows sees the final count of
    /// expected messages (a send still queued on a loop would otherwise be counted after it).
    func stopSending() async {
        for stopped in self.requestStopSending() { try? await stopped.get() }
    }

    /// Every healthy player sends `message` at `hertz` for `seconds`; then the bench waits up to
    /// `drainSeconds` for what is still in flight. Messages still missing after that are lost.
    /// With `warmupSeconds`, the players send that long first, unmeasured: the window then sees a
    /// server past its first relays (a JIT's compiling, first allocations, cold caches).
    func measure(
        seconds: Double, hertz: Double, paddingBytes: Int, message: StateMessage = .playerState, serverPID: Int32?,
        sampleServerMemory: Bool = false, drainSeconds: Double = 1, warmupSeconds: Double = 0,
        progress: (@Sendable (String) -> Void)? = nil
    ) async -> WindowResult {
        let recorder = self.connector.recorder
        let warmsUp = warmupSeconds > 0
        if warmsUp {
            self.startSending(hertz: hertz, paddingBytes: paddingBytes, message: message)
            try? await Task.sleep(for: .milliseconds(Int64(warmupSeconds * 1000)))
        }
        let serverBefore = serverPID.flatMap(ProcessStats.read(pid:))
        let benchBefore = ProcessStats.current()
        let stealBefore = StealTime.read()
        // Only what falls due from here on counts (``LatencyRecorder``): not the warm-up's sends.
        let windowStart = recorder.openWindow()
        // The window's end, by due time: what is due before it is sent however late the loops
        // stop, and what is due after it not counted though sent before they do.
        let windowLength = Int64(seconds * 1e6)
        recorder.closeWindow(at: windowStart + windowLength)
        let windowEnd = NIODeadline.uptimeNanoseconds(UInt64(windowStart + windowLength) * 1_000)
        let sendingStarted = ContinuousClock.now
        if !warmsUp { self.startSending(hertz: hertz, paddingBytes: paddingBytes, message: message) }

        var peakServerMemory: Int?
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var nextProgress = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < end {
            try? await Task.sleep(until: min(end, ContinuousClock.now + .milliseconds(250)), clock: .continuous)
            if sampleServerMemory, let pid = serverPID, let resident = ProcessStats.residentBytes(pid: pid) {
                peakServerMemory = max(peakServerMemory ?? 0, resident)
            }
            if let progress, ContinuousClock.now >= nextProgress {
                nextProgress += .seconds(1)
                let now = recorder.snapshot(inFlight: true)
                progress("sent \(now.sent)  delivered \(now.delivered)  p99 \(Format.latencyMs(now.p99)) ms")
            }
        }
        let stopping = self.requestStopSending(sendingWhatIsDueBefore: windowEnd)
        let sendingSeconds = (ContinuousClock.now - sendingStarted).seconds
        for stopped in stopping { try? await stopped.get() }
        let (serverSent, benchSent) = (serverPID.flatMap(ProcessStats.read(pid:)), ProcessStats.current())
        let drainEnd = ContinuousClock.now + .milliseconds(Int64(drainSeconds * 1000))
        while ContinuousClock.now < drainEnd {
            let counts = recorder.counts()
            if counts.delivered >= counts.expected { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let latency = recorder.snapshot()
        return WindowResult(
            seconds: seconds, sendingSeconds: sendingSeconds, latency: latency,
            server: ProcessUsage(
                from: serverBefore, sendingEnded: serverSent, to: serverPID.flatMap(ProcessStats.read(pid:))),
            bench: ProcessUsage(from: benchBefore, sendingEnded: benchSent, to: ProcessStats.current()),
            serverPeakResidentBytes: peakServerMemory,
            stealSeconds: StealTime.read().flatMap { end in stealBefore.map { end - $0 } })
    }
}

/// What every scenario gets: where the server is, how much of the machine the bench may use,
/// the server's process id for /proc readings, and where to say what it is doing.
struct BenchContext: Sendable {
    var target: BenchTarget
    /// Event-loop threads of the bench.
    var threads: Int
    /// Loopback source addresses to spread connections over (1: the kernel picks).
    var sourceAddresses: Int = 1
    var serverPID: Int32?
    /// Longest wait from connecting to the server's confirmation.
    var joinTimeoutSeconds: Int64 = 10
    /// Sends fall due on a grid of this many microseconds (0: each connection at its own time).
    var sendGridMicros: Int64 = 0
    /// Where progress lines go (stderr on the command line); nil with `--quiet` and in tests.
    /// Without it, a measurement window reads no live percentiles: reading them costs the
    /// bench's core time that its loops would otherwise spend receiving.
    var progress: (@Sendable (String) -> Void)?

    /// Says what the bench is doing, if anyone listens.
    func say(_ line: String) {
        self.progress?(line)
    }

    /// This context with enough loopback source addresses for `connections` to one server: one
    /// address has ~28,000 ports, and running out of them would read as the server's failure.
    /// An IPv6 target keeps its one (``BenchTarget/takesLoopbackSources``), and says so if it falls short.
    func withSourceAddresses(for connections: Int) -> BenchContext {
        var context = self
        let needed = SystemLimits.sourceAddressesNeeded(for: connections)
        guard self.target.takesLoopbackSources else {
            if needed > 1 {
                self.say("an IPv6 target has one source address: \(connections) connections may run out of ports")
            }
            return context
        }
        context.sourceAddresses = max(self.sourceAddresses, needed)
        return context
    }

    /// A connector with a fresh latency recorder.
    func makeConnector() throws -> BenchConnector {
        try BenchConnector(
            target: self.target, threads: self.threads, sourceAddressCount: self.sourceAddresses,
            recorder: LatencyRecorder(),
            joinTimeout: .seconds(self.joinTimeoutSeconds), sendGrid: .microseconds(self.sendGridMicros))
    }
}

extension BenchContext {
    /// Raises this process's open-file limit for `connections` sockets, or explains why it cannot.
    @discardableResult
    func ensureOpenFiles(for connections: Int) throws(BenchError) -> SystemLimits.FileLimit {
        let limit = SystemLimits.raiseOpenFiles(toFit: connections)
        guard limit.isEnough else {
            throw .notEnoughFileDescriptors(needed: connections, soft: limit.soft, hard: limit.hard)
        }
        return limit
    }
}

/// A scenario's result: a table for people and JSON for machines.
protocol ScenarioReport: Encodable, Sendable {
    /// The readable summary printed at the end of a run.
    func table() -> String
    /// The run measured nothing (every room's set-up failed, say): its command exits non-zero,
    /// so that a script does not read a table of zeros as a result.
    var measuredNothing: Bool { get }
    /// Why nothing was measured, when ``measuredNothing``: the table's last line says so, so that
    /// a person does not read its zeros as a result either.
    var whyNothingWasMeasured: String { get }
}

extension ScenarioReport {
    func jsonText() -> String { Format.json(self) }

    /// What the command prints: JSON, or the table, ending with a "nothing measured" line when
    /// nothing was.
    func output(json: Bool) -> String {
        if json { return self.jsonText() }
        guard self.measuredNothing else { return self.table() }
        return self.table() + "\nnothing measured: \(self.whyNothingWasMeasured) (exit status 1)"
    }
}

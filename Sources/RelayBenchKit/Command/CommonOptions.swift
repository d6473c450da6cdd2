import ArgumentParser
import Foundation

/// Options every scenario takes: the server, the bench's share of the machine, the output.
struct CommonOptions: ParsableArguments {
    @Argument(
        help: "Server base URL, e.g. ws://127.0.0.1:8000 (http:// names the same server; loopback addresses only).")
    var url: String

    @Option(
        name: .customLong("server-pid"),
        help:
            "Server process id, to report its CPU and memory from /proc, with its child processes' (workers, a wrapper's child)."
    )
    var serverPID: Int32?

    @Option(help: "Event-loop threads of the bench (default: the CPUs it may run on, as narrowed by taskset).")
    var threads: Int?

    @Option(
        help:
            "Spread connections over 127.0.0.1…127.0.0.N (every scenario adds more when one address would run out of ports)."
    )
    var sourceAddresses = 1

    @Option(
        help: """
            Round send times up to a grid of this many microseconds, so one wake-up sends for every
            connection due in that slot: cheaper for the bench, burstier for the server (0: off;
            relay, fanout, slow-consumer and step only: the others send no states).
            """)
    var sendGridUs: Int64 = 0

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    func validate() throws {
        do {
            _ = try BenchTarget(url: self.url)
        } catch {
            throw ValidationError(error.description)
        }
        guard (1...254).contains(self.sourceAddresses) else {
            throw ValidationError("--source-addresses must be 1…254")
        }
        if self.sourceAddresses > 1, let target = try? BenchTarget(url: self.url), !target.takesLoopbackSources {
            throw ValidationError(
                "--source-addresses needs an IPv4 target (127.0.0.0/8): ::1 is the only IPv6 loopback")
        }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be 1…64") }
        guard (0...100_000).contains(self.sendGridUs) else { throw ValidationError("--send-grid-us must be 0…100000") }
        // A mistyped pid ran the whole scenario, then said only that it could not be read.
        if let pid = self.serverPID, pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH) {
            throw ValidationError("--server-pid \(pid): no such process")
        }
    }

    /// Refuses `--send-grid-us` to a scenario that sends no states (it would change nothing).
    func requireNoSendGrid(scenario: String) throws {
        guard self.sendGridUs == 0 else {
            throw ValidationError("--send-grid-us does nothing for \(scenario), which sends no states")
        }
    }

    /// The scenario context these options describe.
    func context() throws -> BenchContext {
        let toStandardError: @Sendable (String) -> Void = { line in
            FileHandle.standardError.write(Data("[relay-bench] \(line)\n".utf8))
        }
        return BenchContext(
            target: try BenchTarget(url: self.url), threads: self.threads ?? SystemLimits.allowedCPUCount(),
            sourceAddresses: self.sourceAddresses, serverPID: self.serverPID, sendGridMicros: self.sendGridUs,
            progress: self.quiet ? nil : toStandardError)
    }

    /// Prints the report: its table, or JSON with `--json`.
    /// Prints `report`; throws `ExitCode.failure` after it if it measured nothing.
    func emit(_ report: some ScenarioReport) throws {
        print(report.output(json: self.json))
        if report.measuredNothing { throw ExitCode.failure }
    }
}

/// Durations on the command line: "30s", "2m", "500ms" or plain seconds.
enum DurationOption {
    static func seconds(_ text: String) -> Double? {
        if text.hasSuffix("ms") { return Double(text.dropLast(2)).map { $0 / 1000 } }
        if text.hasSuffix("s") { return Double(text.dropLast()) }
        if text.hasSuffix("m") { return Double(text.dropLast()).map { $0 * 60 } }
        return Double(text)
    }

    /// Parses and bounds a duration option, naming it in the error.
    static func validated(_ text: String, name: String, within range: ClosedRange<Double> = 0.1...600) throws -> Double
    {
        guard let seconds = self.seconds(text), range.contains(seconds) else {
            throw ValidationError(
                "--\(name) must be between \(range.lowerBound)s and \(Int(range.upperBound))s, e.g. 10s or 2m")
        }
        return seconds
    }
}

import Foundation

/// CPU time and resident memory of a process, read from /proc (Linux).
struct ProcessStats: Sendable {
    /// User + system CPU seconds used so far.
    let cpuSeconds: Double
    /// Resident set size in bytes.
    let residentBytes: Int
    /// Seconds its threads have been ready to run but waited for a core so far (nil: unknown):
    /// the time other work on its cores took from it.
    let runQueueWaitSeconds: Double?
    /// When it was read.
    let readAt: ContinuousClock.Instant

    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; nil when unavailable.
    static func read(pid: Int32) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let afterName = stat.range(of: ")", options: .backwards)
        else { return nil }
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let rssLine = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        let rssKilobytes = rssLine.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return ProcessStats(
            cpuSeconds: (user + system) / ticks, residentBytes: rssKilobytes * 1024,
            runQueueWaitSeconds: self.runQueueWaitSeconds(pid: pid), readAt: .now)
    }

    /// The run-queue wait of every thread of `pid` that is still there, summed: the second field
    /// of `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds (needs schedstats, on by default).
    static func runQueueWaitSeconds(pid: Int32) -> Double? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        var nanoseconds: UInt64 = 0
        var readAny = false
        for thread in threads {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/schedstat", encoding: .utf8),
                let wait = Self.runQueueWaitNanoseconds(schedstat: text)
            else { continue }
            nanoseconds += wait
            readAny = true
        }
        return readAny ? Double(nanoseconds) / 1e9 : nil
    }

    /// The run-queue wait in a `schedstat` line: "time on the CPU, time waiting to run, time slices" (ns, ns, count).
    static func runQueueWaitNanoseconds(schedstat: String) -> UInt64? {
        let fields = schedstat.split(whereSeparator: \.isWhitespace)
        return fields.count >= 2 ? UInt64(fields[1]) : nil
    }

    /// This process.
    static func current() -> ProcessStats? { self.read(pid: getpid()) }

    /// The soft limit on open files of another process (`Max open files` in /proc/<pid>/limits).
    static func openFilesLimit(pid: Int32) -> Int? {
        guard let limits = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
            let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") })
        else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap { Int($0) }
    }
}

/// CPU and memory a process used over a measured interval.
struct ProcessUsage: Sendable, Codable, Equatable {
    /// CPU seconds used in the interval.
    var cpuSeconds: Double
    /// Wall-clock seconds of the interval.
    var wallSeconds: Double
    /// Resident set size at the end, in bytes.
    var residentBytes: Int
    /// Seconds its threads were ready to run but waited for a core, in the interval.
    var runQueueWaitSeconds: Double?

    /// Percent of one core.
    var cpuPercent: Double { self.wallSeconds > 0 ? 100 * self.cpuSeconds / self.wallSeconds : 0 }

    init(cpuSeconds: Double, wallSeconds: Double, residentBytes: Int, runQueueWaitSeconds: Double? = nil) {
        self.cpuSeconds = cpuSeconds
        self.wallSeconds = wallSeconds
        self.residentBytes = residentBytes
        self.runQueueWaitSeconds = runQueueWaitSeconds
    }

    /// The usage between two readings of one process (nil if either is missing).
    init?(from before: ProcessStats?, to after: ProcessStats?) {
        guard let before, let after else { return nil }
        self.init(
            cpuSeconds: after.cpuSeconds - before.cpuSeconds, wallSeconds: (after.readAt - before.readAt).seconds,
            residentBytes: after.residentBytes,
            runQueueWaitSeconds: after.runQueueWaitSeconds.flatMap { end in before.runQueueWaitSeconds.map { end - $0 } })
    }

    /// CPU microseconds per `count` events (nil when there were none).
    func cpuMicros(per count: Int) -> Double? {
        count > 0 ? self.cpuSeconds * 1e6 / Double(count) : nil
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double { Double(self.components.seconds) + Double(self.components.attoseconds) * 1e-18 }
}

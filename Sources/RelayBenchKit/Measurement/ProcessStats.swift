import Foundation

/// CPU time and resident memory of a process and the processes it started, read from /proc
/// (Linux): a server may serve from workers it forked (uvicorn's `--workers`, Node's `cluster`) or
/// from the child of a wrapper (`npm start`, `sh -c` without `exec`).
struct ProcessStats: Sendable {
    /// User + system CPU seconds used so far, by the process, its descendants running now, and
    /// those that ended and were waited for.
    let cpuSeconds: Double
    /// Resident set size in bytes, of the process and its descendants together (pages they share,
    /// as forked workers do, are counted in each).
    let residentBytes: Int
    /// Nanoseconds each thread has been ready to run but waited for a core so far, by thread id
    /// (nil: unknown): the time other work on its cores took from it.
    let runQueueWaits: [Int32: UInt64]?
    /// When it was read.
    let readAt: ContinuousClock.Instant

    /// Clock ticks per second: the unit of the CPU times in /proc.
    static let clockTicksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Reads `/proc/<pid>/stat`, `/proc/<pid>/status` and the threads' `schedstat` of `pid` and
    /// its descendants; nil when `pid`'s are unavailable.
    static func read(pid: Int32) -> ProcessStats? {
        guard self.ownResidentBytes(pid: pid) != nil else { return nil }
        // A child that ends and is waited for between the readings moves its time from its own
        // figures to its parent's: the descendants are read first and the process last, and the
        // whole read again if the tree changed meanwhile, so that its time is counted once.
        var attempt = 0
        while true {
            let tree = self.processTree(of: pid)
            var (ticks, residentBytes, waits) = (0.0, 0, [Int32: UInt64]())
            for process in tree.dropFirst() {
                guard let processTicks = self.cpuTicks(pid: process) else { continue }  // ended since
                ticks += processTicks
                residentBytes += self.ownResidentBytes(pid: process) ?? 0
                waits.merge(self.runQueueWaits(pid: process) ?? [:]) { first, _ in first }
            }
            guard let ownTicks = self.cpuTicks(pid: pid), let ownResident = self.ownResidentBytes(pid: pid) else {
                return nil
            }
            attempt += 1
            guard attempt == 3 || self.processTree(of: pid) == tree else { continue }
            waits.merge(self.runQueueWaits(pid: pid) ?? [:]) { first, _ in first }
            return ProcessStats(
                cpuSeconds: (ticks + ownTicks) / self.clockTicksPerSecond, residentBytes: residentBytes + ownResident,
                runQueueWaits: waits.isEmpty ? nil : waits, readAt: .now)
        }
    }

    /// The CPU clock ticks of `pid` and of its children that ended and were waited for: utime,
    /// stime, cutime and cstime (fields 14 to 17 of `/proc/<pid>/stat`).
    private static func cpuTicks(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ")", options: .backwards)
        else { return nil }
        // Fields after the command name: state is field 3, so utime (14) is the 12th.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 15 else { return nil }
        let times = fields[11...14].compactMap { Double($0) }
        return times.count == 4 ? times.reduce(0, +) : nil
    }

    /// `pid` and every process descended from it that runs now, parents first (each thread's
    /// `children` in /proc; at most 4,096).
    static func processTree(of pid: Int32) -> [Int32] {
        var tree = [pid]
        var next = 0
        while next < tree.count, tree.count < 4_096 {
            let parent = tree[next]
            next += 1
            for thread in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(parent)/task")) ?? [] {
                let children = try? String(contentsOfFile: "/proc/\(parent)/task/\(thread)/children", encoding: .utf8)
                tree += (children ?? "").split(separator: " ").compactMap { Int32($0) }
            }
        }
        return tree
    }

    /// The resident set size of `pid` and its descendants: for sampling the peak.
    static func residentBytes(pid: Int32) -> Int? {
        guard self.ownResidentBytes(pid: pid) != nil else { return nil }
        return self.processTree(of: pid).reduce(0) { $0 + (self.ownResidentBytes(pid: $1) ?? 0) }
    }

    /// The resident set size of `pid` alone (`VmRSS` in `/proc/<pid>/status`).
    private static func ownResidentBytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return (self.residentKilobytes(inStatus: status) ?? 0) * 1024
    }

    /// `VmRSS` of a `/proc/<pid>/status` text, in kB. The kernel writes `VmRSS:\t%8lu kB`: from
    /// 10,000,000 kB (~9.5 GiB) on, no space follows the tab.
    static func residentKilobytes(inStatus status: String) -> Int? {
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") }
    }

    /// The run-queue wait of every thread of `pid` that is there now: the second field of
    /// `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds (needs schedstats, on by default).
    static func runQueueWaits(pid: Int32) -> [Int32: UInt64]? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else {
            return nil
        }
        var waits: [Int32: UInt64] = [:]
        for thread in threads {
            guard let id = Int32(thread),
                let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/schedstat", encoding: .utf8),
                let wait = Self.runQueueWaitNanoseconds(schedstat: text)
            else { continue }
            waits[id] = wait
        }
        return waits.isEmpty ? nil : waits
    }

    /// Seconds the threads waited for a core between two readings: each thread's growth, a
    /// thread new since `before` counted whole. A thread that ended in between takes its wait
    /// with it, so this is a lower bound; it is never negative.
    static func runQueueWaitSeconds(from before: [Int32: UInt64], to after: [Int32: UInt64]) -> Double {
        let nanoseconds = after.reduce(UInt64(0)) { total, thread in
            let earlier = before[thread.key] ?? 0
            // A smaller figure than before: the id was reused by a thread started since.
            return total + (thread.value >= earlier ? thread.value - earlier : thread.value)
        }
        return Double(nanoseconds) / 1e9
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
    /// Seconds its threads were ready to run but waited for a core, in the interval (at least:
    /// a thread that ended meanwhile is not counted).
    var runQueueWaitSeconds: Double?

    /// Percent of one core over the interval.
    var cpuPercent: Double { self.wallSeconds > 0 ? 100 * self.cpuSeconds / self.wallSeconds : 0 }
    /// Percent of one core while the bench sent, when read apart from the interval: a window's
    /// drain is mostly a wait (all of its length once a message is lost), which would dilute the
    /// share of a process the window kept busy.
    var cpuPercentWhileSending: Double?
    /// The share reported: while sending, when read.
    var reportedCPUPercent: Double { self.cpuPercentWhileSending ?? self.cpuPercent }

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
            cpuSeconds: max(0, after.cpuSeconds - before.cpuSeconds),
            wallSeconds: (after.readAt - before.readAt).seconds,
            residentBytes: after.residentBytes,
            runQueueWaitSeconds: after.runQueueWaits.flatMap { end in
                before.runQueueWaits.map { ProcessStats.runQueueWaitSeconds(from: $0, to: end) }
            })
    }

    /// The usage between `before` and `after`, with the share of a core between `before` and
    /// `sendingEnded` (``cpuPercentWhileSending``).
    init?(from before: ProcessStats?, sendingEnded: ProcessStats?, to after: ProcessStats?) {
        self.init(from: before, to: after)
        self.cpuPercentWhileSending = ProcessUsage(from: before, to: sendingEnded)?.cpuPercent
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

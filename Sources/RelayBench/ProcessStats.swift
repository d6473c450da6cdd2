import Foundation

/// CPU time and resident memory of a process, read from /proc (Linux).
struct ProcessStats: Sendable {
    /// User + system CPU seconds used so far.
    let cpuSeconds: Double
    /// Resident set size in bytes.
    let residentBytes: Int

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
        return ProcessStats(cpuSeconds: (user + system) / ticks, residentBytes: rssKilobytes * 1024)
    }
}

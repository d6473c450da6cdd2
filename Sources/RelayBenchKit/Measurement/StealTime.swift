import Foundation

/// Time the hypervisor ran something else while this (virtual) machine's cores wanted to run:
/// the `steal` column of `/proc/stat` (Linux), summed over all cores.
enum StealTime {
    /// Seconds stolen since boot; nil when unavailable.
    static func read() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let ticks = self.stealTicks(procStat: text)
        else { return nil }
        return Double(ticks) / ProcessStats.clockTicksPerSecond
    }

    /// The steal ticks of the all-cores line: "cpu user nice system idle iowait irq softirq steal …".
    static func stealTicks(procStat: String) -> UInt64? {
        guard let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count > 8 ? UInt64(fields[8]) : nil
    }
}

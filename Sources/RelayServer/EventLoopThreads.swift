import Foundation
import NIOCore

/// How many event loops the relay runs: one per CPU the process may use.
///
/// Sockets, rooms and their tasks all run on NIO's shared event-loop group. NIO sizes it by the
/// machine's CPUs and cgroup limits but not by the process's CPU affinity, so a relay pinned to
/// one core (`taskset -c 1`) would run two loops taking turns on that core and hand half of
/// all messages from one thread to the other.
enum EventLoopThreads {
    /// Sizes the shared group before anything starts it; `NIO_SINGLETON_GROUP_LOOP_COUNT`, when
    /// set, wins. Called first thing by the command line's entry points, not by the server's run
    /// (which tests call in a process whose shared group is in use): NIO stops a process that
    /// sizes the group twice, or once it has started.
    static func configure() {
        _ = Self.configured
    }

    private static let configured: Void = {
        guard ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil,
            let allowed = Self.cpusInAffinityMask(), allowed < System.coreCount
        else { return }
        NIOSingletons.groupLoopCountSuggestion = max(1, allowed)
    }()

    /// CPUs this process may run on (`Cpus_allowed` of /proc/self/status), where the system says.
    static func cpusInAffinityMask() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return Self.cpuCount(inStatus: status)
    }

    /// The number of CPUs in the `Cpus_allowed:` hex mask (comma-separated 32-bit words) of `status`.
    static func cpuCount(inStatus status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
            return nil
        }
        let mask = line.dropFirst("Cpus_allowed:".count).filter { $0 != "," && !$0.isWhitespace }
        guard !mask.isEmpty else { return nil }
        var count = 0
        for digit in mask {
            guard let value = digit.hexDigitValue else { return nil }
            count += value.nonzeroBitCount
        }
        return count
    }
}

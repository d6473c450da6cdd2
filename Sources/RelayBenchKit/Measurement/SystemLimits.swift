import Foundation

/// The operating-system limits that bound how many connections one bench process can open.
enum SystemLimits {
    /// Open-file limits of this process after trying to make room for `needed` descriptors.
    struct FileLimit: Sendable, Codable, Equatable {
        var soft: Int
        var hard: Int
        /// Whether `needed` descriptors fit.
        var isEnough: Bool
    }

    /// Raises this process's soft limit on open files (and, when allowed, the hard one) to
    /// `needed` plus a margin for the event loops, /proc reads and standard streams.
    static func raiseOpenFiles(toFit needed: Int) -> FileLimit {
        let wanted = rlim_t(needed + 256)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            raised.rlim_max = max(limit.rlim_max, wanted)
            // Raising the hard limit needs CAP_SYS_RESOURCE; without it, take what the hard limit allows.
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
                raised = limit
                raised.rlim_cur = min(wanted, limit.rlim_max)
                setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return FileLimit(soft: Int(limit.rlim_cur), hard: Int(limit.rlim_max), isEnough: limit.rlim_cur >= wanted)
    }

    /// Ephemeral ports one source address can use towards one server (`ip_local_port_range`).
    static func ephemeralPortCount() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        else { return 28_232 }
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard bounds.count == 2, bounds[1] >= bounds[0] else { return 28_232 }
        return bounds[1] - bounds[0] + 1
    }

    /// Source addresses (127.0.0.1, .2, …) needed for `connections` to one server, keeping a
    /// quarter of each address's ports free for sockets still in TIME_WAIT from earlier runs.
    static func sourceAddressesNeeded(for connections: Int, portsPerAddress: Int = ephemeralPortCount()) -> Int {
        let usable = max(1, portsPerAddress * 3 / 4)
        return max(1, (connections + usable - 1) / usable)
    }

    /// CPUs this process may run on (`taskset` narrows it), for sizing the event-loop group:
    /// the bits of `Cpus_allowed` in /proc/self/status.
    static func allowedCPUCount() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return ProcessInfo.processInfo.activeProcessorCount }
        let mask = line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
        let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
        return max(1, count)
    }
}

import Foundation

/// The process's open-file limit (`RLIMIT_NOFILE`), which bounds its connections.
///
/// Linux distributions start processes with a soft limit of 1,024 and a hard one far above it;
/// a server that keeps the soft one can hold about a thousand players. Like Go's runtime, the
/// relay raises the soft limit to the hard one at start, which needs no privilege.
enum OpenFileLimit {
    /// Raises the soft limit to the hard one (never above the most the kernel lets a process
    /// set, which `setrlimit` refuses), and returns the soft limit now in force, or nil if it is unknown.
    @discardableResult
    static func raiseSoftLimitToHard() -> Int? {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return nil }
        var target = limit.rlim_max
        if let kernelMaximum = Self.kernelMaximum() { target = min(target, kernelMaximum) }
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(Self.resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    #if canImport(Glibc)
        private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resource = RLIMIT_NOFILE
    #endif

    #if canImport(Darwin)
        /// `kern.maxfilesperproc` on macOS: its hard limit is usually "unlimited", which `setrlimit`
        /// refuses as a soft one, as it does anything above this (Go's runtime caps it the same way).
        private static func kernelMaximum() -> rlim_t? {
            var value: Int32 = 0
            var size = MemoryLayout<Int32>.size
            guard sysctlbyname("kern.maxfilesperproc", &value, &size, nil, 0) == 0, value > 0 else { return nil }
            return rlim_t(value)
        }
    #else
        /// `/proc/sys/fs/nr_open` on Linux: the most any process may set.
        private static func kernelMaximum() -> rlim_t? {
            guard let text = try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8) else { return nil }
            return rlim_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    #endif
}

import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The process groups of the plugins running now, each in a session of its own. A forced exit
/// (``StopEscalation``) skips the plugins' orderly stop: without this, a plugin that ignores the end
/// of its input, or what it started, would live on with no server.
enum LivePluginGroups {
    private static let groups = Mutex<Set<pid_t>>([])

    static func add(_ group: pid_t) {
        _ = self.groups.withLock { $0.insert(group) }
    }

    static func remove(_ group: pid_t) {
        _ = self.groups.withLock { $0.remove(group) }
    }

    /// Kills every group now (SIGKILL), without waiting for them to go.
    static func killAll() {
        for group in self.groups.withLock({ $0 }) { killpg(group, SIGKILL) }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether a child process has exited, asked without reaping it: Subprocess reaps it, and
/// reads its status, once the body of its `run` returns.
enum ProcessExit {
    /// Returns once the child `pid` has exited, or after `limit`, whichever comes first.
    static func wait(for pid: pid_t, atMost limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !self.hasExited(pid), ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return }
        }
    }

    /// `WNOWAIT` leaves the exited child a zombie for Subprocess to reap, so its pid cannot be
    /// reused meanwhile. No such child (`ECHILD`) counts as exited.
    static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1 {
            if errno != EINTR { return true }
        }
        #if canImport(Glibc)
            return info._sifields._sigchld.si_pid != 0
        #else
            return info.si_pid != 0
        #endif
    }
}

import Foundation
import NIOCore
import NIOPosix
import Relay

/// The threads the relay needs, checked for and started at start-up.
///
/// NIO stops the process where it cannot start a thread (`Unable to create thread: 11`), and
/// libdispatch waits for ever for one. Under a process limit that left too few (`ulimit -u` for a
/// user other than root, a container's `pids.max`, systemd's `TasksMax`) the relay trapped at
/// start, or hung there after `plugin.hello.timeout`; or it started, and the first room socket or
/// boss image, whose threads NIO started on first use, stopped it for every player.
enum ThreadHeadroom {
    /// Threads the process must be able to run at start: the relay runs 15–20 with two event
    /// loops, and needs room for the Swift and dispatch pools to grow, a plugin's restart and the
    /// stop; 2 more a CPU past 16 (its loops, and the pools sized by CPUs).
    static func required(cpus: Int = System.coreCount) -> Int {
        64 + 2 * max(0, cpus - 16)
    }

    /// Starts threads, up to `total` with those running, that end once all have started or one
    /// could not. Nil if all started; else the error number of the first that could not, how many
    /// had started, and how many ran before.
    static func check(total: Int = Self.required()) -> (error: Int32, started: Int, running: Int)? {
        let running = Self.runningThreads() ?? 1
        return Self.startThreads(max(0, total - running)).map { ($0.error, $0.started, running) }
    }

    /// The name of the check's threads, while they wait (`/proc/PID/task/*/comm`).
    static let threadName = "relay-headroom"

    /// Starts `count` threads that end once all have started or one could not (with a small
    /// stack: only whether they start is asked), and waits for them to end. Nil if all started;
    /// else the error number of the first that could not, and how many had started.
    static func startThreads(_ count: Int) -> (error: Int32, started: Int)? {
        var release: [Int32] = [0, 0]
        guard pipe(&release) == 0 else { return nil }  // not a thread shortage; the start goes on
        defer { close(release[0]) }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 64 * 1024)
        var threads: [pthread_t] = []
        var failure: Int32?
        // The read end's number rides in the argument pointer, plus one (0 would be a nil pointer).
        let argument = UnsafeMutableRawPointer(bitPattern: Int(release[0]) + 1)
        for _ in 0..<count {
            var thread = pthread_t()
            let error = pthread_create(
                &thread, &attributes,
                { argument in
                    ThreadHeadroom.nameThisThread()
                    var byte: UInt8 = 0
                    _ = read(Int32(Int(bitPattern: argument) - 1), &byte, 1)  // returns once the write end closes
                    return nil
                }, argument)
            guard error == 0 else {
                failure = error
                break
            }
            threads.append(thread)
        }
        close(release[1])
        for thread in threads { pthread_join(thread, nil) }
        return failure.map { ($0, threads.count) }
    }

    /// Starts now the threads NIO would start on first use: the blocking pool's (boss images are
    /// read there) and, if the busy-loop cap can ever start, the probe's (``ProbeSender``).
    static func startThreadsUsedLater(limits: RelayLimits) {
        _ = NIOSingletons.posixBlockingThreadPool
        if BusyLoopCap(limits: limits).canStart { ProbeSender.startThread() }
    }

    /// Names the calling thread ``threadName`` (Glibc's `pthread_setname_np` is not imported).
    private static func nameThisThread() {
        let file = open("/proc/thread-self/comm", O_WRONLY)
        guard file >= 0 else { return }
        _ = Self.threadName.withCString { write(file, $0, strlen($0)) }
        close(file)
    }

    /// The `Threads:` line of /proc/self/status.
    private static func runningThreads() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Threads:") })
        else { return nil }
        return Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces))
    }
}

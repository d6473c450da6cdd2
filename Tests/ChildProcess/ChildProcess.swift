import Foundation
import Synchronization

/// An executable run as a child process with `posix_spawn`, what it prints to stdout and stderr
/// captured together.
///
/// Not Foundation's `Process`: on Linux its `run()` (Swift 6.3.1) sometimes crashes the calling
/// process, copying 256 bytes for each entry it reads from /proc/self/fd past the end of
/// glibc's buffer (swift-corelibs-foundation#5472). It took down a full test run here.
///
/// The child is killed if this process ends first (a crashed test run), through its
/// parent-death signal (`setpriv --pdeathsig KILL`, util-linux): a relay orphaned by a crashed
/// run kept serving, and skewed every benchmark after it.
public final class ChildProcess: Sendable {
    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// How long ``waitUntilExit()`` waits for the output's end once the child has exited: a
    /// grandchild that inherited it may keep it open.
    public static let outputEndTimeout: Duration = .seconds(2)

    public let pid: Int32
    private let output: CapturedOutput
    private let reaping = Mutex(Reaping.running)

    private enum Reaping {
        case running
        /// Reaped, with its raw wait status.
        case exited(Int32)
        /// `waitpid` found no such child: gone, with no status.
        case lost
    }

    /// Starts `path` with `arguments`, this process's environment plus `environment`. Every
    /// other file descriptor of this process is closed in the child, as `Process` does.
    public init(path: String, arguments: [String], environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SpawnError(description: "not an executable: \(path)")
        }
        // A socket pair rather than a pipe: it can be made close-on-exec atomically (`pipe2` is
        // not visible from Swift), so a child another thread spawns meanwhile cannot inherit it.
        var ends: [Int32] = [0, 0]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &ends) == 0 else {
            throw SpawnError(description: "socketpair: errno \(errno)")
        }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let command = Self.parentDeathWrapper + [path] + arguments
        var fullEnvironment = ProcessInfo.processInfo.environment
        fullEnvironment.merge(environment) { $1 }
        let variables = fullEnvironment.map { "\($0.key)=\($0.value)" }
        let spawned = SpawnerThread.shared.run { Self.spawn(command, environment: variables, output: writeEnd) }
        close(writeEnd)
        guard case .success(let pid) = spawned else {
            close(readEnd)
            throw SpawnError(description: "posix_spawn \(command[0]): error \(spawned)")
        }
        self.pid = pid
        let output = CapturedOutput()
        self.output = output
        // A blocking read on a thread of its own, not a dispatch read source: tearing one down
        // races the pipe's close and can crash libdispatch on Linux (swift-corelibs-libdispatch#949).
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                output.append(buffer[..<count])
            }
            close(readEnd)
            output.finish()
        }.start()
    }

    /// Everything the child printed so far; all of it once ``hasOutputEnded``.
    public var printed: String { self.output.state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// The child's output has reached its end (the child and whatever inherited it closed it).
    public var hasOutputEnded: Bool { self.output.state.withLock { $0.ended } }

    /// Whether the child has not exited yet (reaps it once it has).
    public var isRunning: Bool {
        self.reaping.withLock { reaping in
            guard case .running = reaping else { return false }
            var raw: Int32 = 0
            switch waitpid(self.pid, &raw, WNOHANG) {
            case 0: return true
            case self.pid: reaping = .exited(raw)
            default: reaping = .lost
            }
            return false
        }
    }

    /// The exit code, or the number of the signal that ended the child (as `Process` reports
    /// it); nil while it runs, -1 if its status was lost.
    public var terminationStatus: Int32? {
        guard !self.isRunning else { return nil }
        return self.reaping.withLock { reaping in
            guard case .exited(let raw) = reaping else { return -1 }
            let signal = raw & 0x7f
            return signal == 0 ? (raw >> 8) & 0xff : signal
        }
    }

    /// Sends `signal` (SIGKILL, SIGTERM, …), unless the child has been reaped already: its pid
    /// may belong to another process by then.
    public func send(_ signal: Int32) {
        self.reaping.withLock { reaping in
            if case .running = reaping { _ = kill(self.pid, signal) }
        }
    }

    /// Sends `signal` as soon as the child's output holds `text` (at once if it does already),
    /// or `delay` after: from the thread that reads the output (or one of its own, for a delay),
    /// so that the signal is timed from the line however long a loaded test run holds the test's
    /// own tasks.
    public func send(_ signal: Int32, oncePrinted text: String, after delay: Duration = .zero) {
        self.output.whenPrinted(text) { [weak self] in
            guard let self else { return }
            guard delay > .zero else { return self.send(signal) }
            Thread {
                Thread.sleep(
                    forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                self.send(signal)
            }.start()
        }
    }

    /// Blocks until the child has exited and its output has ended (or ``outputEndTimeout`` has
    /// passed since the exit), so that ``printed`` holds its last words.
    public func waitUntilExit() {
        while self.isRunning { usleep(5_000) }
        let deadline = ContinuousClock.now + Self.outputEndTimeout
        while !self.hasOutputEnded, ContinuousClock.now < deadline { usleep(1_000) }
    }

    /// ``waitUntilExit()`` without blocking a thread, for at most `limit`: true once the child has
    /// exited and its output has ended (or ``outputEndTimeout`` has passed since the exit), false
    /// if it is still running at `limit`.
    public func exited(within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while self.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        let outputDeadline = ContinuousClock.now + Self.outputEndTimeout
        while !self.hasOutputEnded, ContinuousClock.now < outputDeadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    deinit {
        // No zombie left behind, and no server left running after its test.
        if self.isRunning {
            self.send(SIGKILL)
            while self.isRunning { usleep(5_000) }
        }
    }

    /// Runs a command with SIGKILL as its parent-death signal (util-linux's `setpriv`; nothing
    /// where it is missing).
    private static let parentDeathWrapper: [String] = {
        let setpriv = "/usr/bin/setpriv"
        return FileManager.default.isExecutableFile(atPath: setpriv) ? [setpriv, "--pdeathsig", "KILL", "--"] : []
    }()

    /// Starts `command` with stdout and stderr on `output`: the pid, or posix_spawn's error.
    private static func spawn(_ command: [String], environment: [String], output: Int32) -> Result<Int32, SpawnFailure>
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, output, STDERR_FILENO)
        // Descriptors opened meanwhile by other threads may stay open in the child, and closed
        // ones are skipped by glibc: tests only need the child not to hold this process's sockets.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > STDERR_FILENO {
            posix_spawn_file_actions_addclose(&actions, fd)
        }

        // Signals as for a new process: none blocked, every one at its default action (this process
        // may ignore some, e.g. SIGTERM for a dispatch signal source, and a child would inherit that).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigfillset(&signals)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = command.map { strdup($0) }
        let envp = environment.map { strdup($0) }
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: Int32 = 0
        let error = posix_spawn(&pid, command[0], &actions, &attributes, argv + [nil], envp + [nil])
        return error == 0 ? .success(pid) : .failure(SpawnFailure(code: error))
    }

    private struct SpawnFailure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "\(self.code)" }
    }
}

/// The one thread every child is started from. A parent-death signal fires when the thread that
/// started the child ends, not the process; this thread never ends, so the signal fires only
/// when this process does (a test's own thread, or a pooled one, may come and go).
private final class SpawnerThread: Sendable {
    static let shared = SpawnerThread()

    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let pending = DispatchSemaphore(value: 0)

    private init() {
        Thread { [self] in
            while true {
                self.pending.wait()
                let next = self.queue.withLock { $0.removeFirst() }
                next()
            }
        }.start()
    }

    /// Runs `body` on the spawner thread and returns its result; blocks the caller meanwhile.
    func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) -> Value {
        let result = ResultSlot<Value>()
        let done = DispatchSemaphore(value: 0)
        self.queue.withLock {
            $0.append {
                result.value.withLock { $0 = body() }
                done.signal()
            }
        }
        self.pending.signal()
        done.wait()
        return result.value.withLock { $0! }
    }
}

/// Carries a result from the spawner thread back to its caller.
private final class ResultSlot<Value: Sendable>: Sendable {
    let value = Mutex<Value?>(nil)
}

/// What a child process printed, appended by its output's reader thread. Kept as bytes, decoded
/// when read: a read of the pipe can end inside a character (a `…` came out as three U+FFFD).
private final class CapturedOutput: Sendable {
    struct State {
        var bytes: [UInt8] = []
        /// The reader has seen the end of the output.
        var ended = false
        /// What to do once the output holds a text, not yet done.
        var watches: [(text: String, action: @Sendable () -> Void)] = []
    }

    let state = Mutex(State())

    func append(_ bytes: ArraySlice<UInt8>) {
        let due = self.state.withLock { state in
            state.bytes += bytes
            return Self.takeDue(&state)
        }
        for action in due { action() }
    }

    /// Runs `action` on the reader's thread once the output holds `text` (at once if it does).
    func whenPrinted(_ text: String, _ action: @escaping @Sendable () -> Void) {
        let due = self.state.withLock { state in
            state.watches.append((text, action))
            return Self.takeDue(&state)
        }
        for action in due { action() }
    }

    private static func takeDue(_ state: inout State) -> [@Sendable () -> Void] {
        guard !state.watches.isEmpty else { return [] }
        let printed = String(decoding: state.bytes, as: UTF8.self)
        var due: [@Sendable () -> Void] = []
        state.watches.removeAll { watch in
            guard printed.contains(watch.text) else { return false }
            due.append(watch.action)
            return true
        }
        return due
    }

    func finish() {
        self.state.withLock { $0.ended = true }
    }
}

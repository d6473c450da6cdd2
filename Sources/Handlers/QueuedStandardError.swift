import Foundation
import Logging
import Synchronization

#if canImport(Darwin)
    import Darwin
#else
    import Glibc
#endif

/// Standard error for the relay's log, written by a thread of its own. A log whose reader stops
/// reading (a frozen log shipper, Docker's blocking log driver, a terminal paused with Ctrl-S)
/// fills its pipe, and the next write to it blocks. Written where it was logged, that line held
/// its event loop, and every room and socket on it, until the reader came back. Here a line is
/// only queued: up to ``capacity`` bytes wait, further lines are dropped and counted, and a
/// `log.lines_dropped` warning takes their place once the reader takes lines again. Each line is
/// one `write`, so it is not split by another writer of the same pipe (a crash's last words).
public final class QueuedStandardError: TextOutputStream, Sendable {
    /// The process's standard error; what it holds is flushed at `exit` (within a second).
    public static let shared: QueuedStandardError = {
        let output = QueuedStandardError(descriptor: STDERR_FILENO)
        atexit { _ = QueuedStandardError.shared.flush(within: .seconds(1)) }
        return output
    }()

    /// The bytes that may wait for the reader, those being written included.
    static let capacity = 1 << 20

    private struct Entry {
        var line: String
        /// Lines dropped just before this one, for the warning written in their place.
        var droppedBefore: Int
    }

    private struct Queue {
        var entries: [Entry] = []
        var bytes = 0
        var dropped = 0
        var writerIsWaiting = true
    }

    private let descriptor: Int32
    private let capacity: Int
    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)

    /// Writes to `descriptor` (left open), holding at most `capacity` bytes for it.
    init(descriptor: Int32, capacity: Int = QueuedStandardError.capacity) {
        self.descriptor = descriptor
        self.capacity = capacity
        Thread.detachNewThread { [self] in self.writeForever() }
    }

    /// Queues `line` (a whole log line) for the writer, or drops it if the queue is full.
    public func write(_ line: String) {
        let bytes = line.utf8.count
        let wakeWriter = self.queue.withLock { queue in
            if queue.bytes + bytes <= self.capacity {
                queue.entries.append(Entry(line: line, droppedBefore: queue.dropped))
                queue.bytes += bytes
                queue.dropped = 0
            } else {
                queue.dropped += 1  // a waiting writer too is woken: a line alone over the capacity
            }
            defer { queue.writerIsWaiting = false }
            return queue.writerIsWaiting
        }
        if wakeWriter { self.wakeUp.signal() }
    }

    /// Waits until every queued line is written, and the warning for lines dropped last, at most
    /// `limit`; whether they were.
    public func flush(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            // Set once the writer finds nothing left to write; a line queued since clears it.
            if self.queue.withLock(\.writerIsWaiting) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(1_000)
        }
    }

    private func writeForever() {
        while true {
            self.wakeUp.wait()
            while let (entries, droppedLast) = self.takeEntries() {
                var bytes = 0
                for entry in entries {
                    if entry.droppedBefore > 0 { self.writeWhole(self.droppedWarning(entry.droppedBefore)) }
                    self.writeWhole(entry.line)
                    bytes += entry.line.utf8.count
                }
                if droppedLast > 0 { self.writeWhole(self.droppedWarning(droppedLast)) }
                self.queue.withLock { $0.bytes -= bytes }
            }
        }
    }

    /// The queued lines and, once none is left, the lines dropped after the last (reported when
    /// the queue runs dry, as no later line may come); nil (the writer then waits) when there is
    /// nothing of either.
    private func takeEntries() -> ([Entry], droppedLast: Int)? {
        self.queue.withLock { queue in
            if queue.entries.isEmpty {
                guard queue.dropped > 0 else {
                    queue.writerIsWaiting = true
                    return nil
                }
                defer { queue.dropped = 0 }
                return ([], queue.dropped)
            }
            defer { queue.entries.removeAll(keepingCapacity: true) }
            return (queue.entries, 0)
        }
    }

    /// Writes all of `text`, waiting for the reader as long as it takes; a descriptor that fails
    /// (its reader gone: EPIPE, as SIGPIPE is ignored) loses the line.
    private func writeWhole(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(self.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written >= 0 {
                    offset += written
                } else if errno == EAGAIN || errno == EWOULDBLOCK {
                    var ready = pollfd(fd: self.descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, -1)
                } else if errno != EINTR {
                    return
                }
            }
        }
    }

    /// The warning written where `count` lines were dropped, formatted as every other line.
    private func droppedWarning(_ count: Int) -> String {
        let captured = CapturedLine()
        let logger = Logger(label: "relay") { StreamLogHandler(label: $0, stream: captured, metadataProvider: nil) }
        logger.warning(
            "log.lines_dropped",
            metadata: [
                "count": "\(count)", "queue.bytes": "\(self.capacity)",
                "effect": "the log's reader fell that far behind: lines were dropped, not waited for",
            ])
        return captured.text
    }
}

/// One formatted line, caught rather than written.
private final class CapturedLine: TextOutputStream, Sendable {
    private let line = Mutex("")

    var text: String { self.line.withLock { $0 } }

    func write(_ string: String) {
        self.line.withLock { $0 += string }
    }
}

/// `write(2)`, which ``QueuedStandardError/write(_:)`` hides by its name.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
        Darwin.write(descriptor, bytes, count)
    #else
        Glibc.write(descriptor, bytes, count)
    #endif
}

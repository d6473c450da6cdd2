public import NIOCore
import Synchronization

/// A `TaskExecutor` that runs jobs on one NIO event loop.
///
/// A connection's reader and writer tasks prefer their channel's event loop
/// (`withTaskExecutorPreference`), so a message goes from the socket through the room to
/// the other sockets without a hop to the cooperative pool and back; on a room that lives
/// on the same loop it takes no thread hop at all.
///
/// Jobs are queued here and run in batches: a frame relayed in place wakes its recipients'
/// writers, and the jobs of all the writers woken while the loop handles one batch of reads go
/// to the loop as one task (one closure, one push onto the loop's queue), not one each. For
/// that, the connections on a loop share its executor (``RoomRegistry/taskExecutor(for:)``).
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job runs on.
    public let eventLoop: any EventLoop

    private struct Queue {
        var jobs = CircularBuffer<UnownedJob>(initialCapacity: 16)
        /// A drain is queued on the loop and has not taken the jobs yet.
        ///
        /// A loop that is shutting down drops work from other threads: the flag then stays set
        /// and later jobs wait for good, even ones the loop would still have run for its own
        /// thread (one `execute` per job ran those). The server's loops (the singleton group)
        /// never shut down; a group that does should not have tasks left preferring its loops.
        var drainQueued = false
    }

    private let queue = Mutex(Queue())
    /// The jobs of the drain running now; only the loop's thread touches it (in ``drain()``).
    /// Swapped with the queue's buffer, so neither is ever reallocated once grown.
    nonisolated(unsafe) private var running = CircularBuffer<UnownedJob>(initialCapacity: 16)

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let mustQueueDrain = self.queue.withLock { queue in
            queue.jobs.append(job)
            guard !queue.drainQueued else { return false }
            queue.drainQueued = true
            return true
        }
        if mustQueueDrain { self.eventLoop.execute { self.drain() } }
    }

    /// Runs the jobs queued so far; jobs they queue go to the next drain, after the loop's other work.
    private func drain() {
        self.queue.withLock { queue in
            swap(&queue.jobs, &self.running)
            queue.drainQueued = false
        }
        // Run as a task executor (not as the loop's serial executor), so nonisolated code of
        // a job counts as already being on its preferred executor and does not hop again.
        while let job = self.running.popFirst() {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

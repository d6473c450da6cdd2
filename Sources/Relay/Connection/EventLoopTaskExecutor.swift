public import NIOCore

/// A `TaskExecutor` that runs jobs on one NIO event loop.
///
/// A connection's reader and writer tasks prefer their channel's event loop
/// (`withTaskExecutorPreference`), so a message goes from the socket through the room to
/// the other sockets without a hop to the cooperative pool and back; on a room that lives
/// on the same loop it takes no thread hop at all.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job runs on.
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Run as a task executor (not as the loop's serial executor), so nonisolated code of
        // the job counts as already being on its preferred executor and does not hop again.
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

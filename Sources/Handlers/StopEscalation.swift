import Foundation
import Logging
import Synchronization

/// What each stop signal does (``StopSignals``). The first stops the server in order, also while it
/// starts. A later one ends the process at once (`relay.stop.forced`, status 128 + the signal), for
/// an operator whose stop or start waits on something stuck (a frozen disk): every write
/// acknowledged is committed already, and the plugins are killed. One within
/// ``repeatWindow`` of the first is taken for the same Ctrl-C delivered twice (a runner such as
/// npm forwards it to a process group that got it already), and changes nothing.
final class StopEscalation: Sendable {
    enum Verdict: Equatable {
        case stopInOrder
        case repeated
        case force
    }

    static let repeatWindow: Duration = .seconds(1)
    private let firstSignal = Mutex<ContinuousClock.Instant?>(nil)

    /// What a signal at `now` does.
    func verdict(now: ContinuousClock.Instant = .now) -> Verdict {
        self.firstSignal.withLock { first in
            guard let first else {
                first = now
                return .stopInOrder
            }
            return now - first < Self.repeatWindow ? .repeated : .force
        }
    }

    /// How long a forced exit waits for its log line and the logs' flush: a log whose reader
    /// stopped reading (a frozen log shipper) takes none.
    static let logGrace: Duration = .seconds(1)

    /// Ends the process now, from a signal's handler with other threads running: the plugins'
    /// process groups are killed (their orderly stop is skipped), `relay.stop.forced` is logged and
    /// what the logs hold is flushed (within ``logGrace``), and exit-time cleanup, which could meet
    /// the other threads half-way, is skipped.
    static func exitNow(_ signal: Int32, logger: Logger?) -> Never {
        LivePluginGroups.killAll()
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: Double(logGrace.components.seconds))
            _exit(128 + signal)
        }
        logger?.critical("relay.stop.forced", metadata: ["signal": "\(signal)"])
        _ = QueuedStandardError.shared.flush(within: logGrace)
        fflush(nil)  // every output stream
        _exit(128 + signal)
    }
}

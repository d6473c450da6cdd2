public import Logging
import Synchronization

/// A log handler that keeps what is logged at debug and above.
public final class RecordedLogs: LogHandler, Sendable {
    public struct Entry: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let recorded = Mutex<[Entry]>([])

    public init() {}

    public var entries: [Entry] { self.recorded.withLock { $0 } }

    public var logLevel: Logger.Level {
        get { .debug }
        set {}
    }
    public var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    public subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    public func log(event: LogEvent) {
        let entry = Entry(level: event.level, message: event.message.description, metadata: event.metadata ?? [:])
        self.recorded.withLock { $0.append(entry) }
    }
}

import Handlers
import Logging

/// Keeps each event on one line, as README's "What the log says" promises and as `grep` and log
/// shippers read it: newlines and other controls in the message and in metadata values (an SQLite
/// error quoting a statement, a client's or a plugin's text inside an error) are escaped as
/// `\u{…}` before the handler it wraps (the relay's: swift-log's `StreamLogHandler` over
/// ``QueuedStandardError``) writes them.
struct OneLineLogHandler: LogHandler {
    private var wrapped: any LogHandler

    init(wrapping handler: any LogHandler) {
        self.wrapped = handler
    }

    var logLevel: Logger.Level {
        get { self.wrapped.logLevel }
        set { self.wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { self.wrapped.metadata }
        set { self.wrapped.metadata = newValue.mapValues(\.onOneLine) }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { self.wrapped.metadataProvider }
        set { self.wrapped.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.wrapped[metadataKey: key] }
        set { self.wrapped[metadataKey: key] = newValue?.onOneLine }
    }

    func log(event: LogEvent) {
        var event = event
        let message = event.message.description
        let escaped = String(loggable: message)
        if escaped != message { event.message = "\(escaped)" }
        event.metadata = event.metadata?.mapValues(\.onOneLine)
        self.wrapped.log(event: event)
    }
}

extension Logger.MetadataValue {
    /// This value with its text escaped for one log line; `.stringConvertible` values are
    /// described now, as the handler would, only when that text needs escaping.
    fileprivate var onOneLine: Self {
        switch self {
        case .string(let text):
            let escaped = String(loggable: text)
            return escaped == text ? self : .string(escaped)
        case .stringConvertible(let value):
            let text = value.description
            let escaped = String(loggable: text)
            return escaped == text ? self : .string(escaped)
        case .array(let values):
            return .array(values.map(\.onOneLine))
        case .dictionary(let values):
            return .dictionary(values.mapValues(\.onOneLine))
        }
    }
}

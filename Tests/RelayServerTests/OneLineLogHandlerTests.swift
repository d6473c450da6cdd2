import Logging
import RecordedLogs
import Testing

@testable import RelayServer

/// Every event on one line (README, "What the log says"), whatever text its values carry.
@Suite("One line per logged event")
struct OneLineLogHandlerTests {
    /// An error whose description spans lines, as an SQLite error quoting a statement did.
    struct TwoLineError: CustomStringConvertible, Sendable {
        var description: String { "first\nsecond" }
    }

    /// A handler that keeps its own metadata, to see what the wrapper hands it.
    struct KeptMetadata: LogHandler {
        var logLevel = Logger.Level.trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(event: LogEvent) {}
    }

    @Test("Line breaks, escapes and other controls in the message and in values, nested too, are escaped")
    func escapesControls() {
        let records = RecordedLogs()
        let logger = Logger(label: "test") { _ in OneLineLogHandler(wrapping: records) }
        logger.error(
            "two\nlines",
            metadata: [
                "error": .stringConvertible(TwoLineError()), "text": "a\r\nb", "list": ["\u{1b}[31mred", "plain"],
                "map": ["key": "\u{2028}"], "clean": "é, ü and \\n as typed",
            ])
        let entry = records.entries[0]
        #expect(entry.message == "two\\u{a}lines")
        #expect(entry.metadata["error"] == "first\\u{a}second")
        #expect(entry.metadata["text"] == "a\\u{d}\\u{a}b")
        #expect(entry.metadata["list"] == ["\\u{1b}[31mred", "plain"])
        #expect(entry.metadata["map"] == ["key": "\\u{2028}"])
        #expect(entry.metadata["clean"] == "é, ü and \\n as typed", "nothing to escape: left as it is")
    }

    @Test("The handler's own metadata is escaped as it is set; its level is the wrapped handler's")
    func handlerMetadataAndLevel() {
        var handler = OneLineLogHandler(wrapping: KeptMetadata())
        handler[metadataKey: "room.id"] = "AB\nCD"
        #expect(handler[metadataKey: "room.id"] == "AB\\u{a}CD")
        handler.metadata = ["plugin": "x\ty"]
        #expect(handler.metadata == ["plugin": "x\\u{9}y"])
        handler.logLevel = .warning
        #expect(handler.logLevel == .warning)
    }
}

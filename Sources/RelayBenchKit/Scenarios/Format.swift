import Foundation

/// Number formatting shared by the scenario tables.
enum Format {
    /// One line per failure reason, indented under the table's labels, the most frequent first.
    static func failureLines(_ failures: [String: Int]) -> [String] {
        failures.sorted(by: { $0.value > $1.value }).map { reason, count in "            \(count) × \(reason)" }
    }

    /// Microseconds as milliseconds with two decimals.
    static func ms(_ micros: UInt64) -> String { String(format: "%.2f", Double(micros) / 1000) }

    /// A latency percentile as milliseconds, or `lost` when it falls among the messages lost
    /// (``LatencySnapshot/pastTheDrain``).
    static func latencyMs(_ micros: UInt64) -> String {
        micros == LatencySnapshot.pastTheDrain ? "lost" : ms(micros)
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }

    static func fixed(_ value: Double, _ decimals: Int = 1) -> String { String(format: "%.\(decimals)f", value) }

    /// `text` right-aligned in `width` columns.
    static func right(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// "p50 … p90 … p99 … p99.9 … max …" in milliseconds.
    static func percentiles(_ latency: LatencySnapshot) -> String {
        "p50 \(latencyMs(latency.p50))  p90 \(latencyMs(latency.p90))  p99 \(latencyMs(latency.p99))  "
            + "p99.9 \(latencyMs(latency.p999))  max \(latencyMs(latency.max))"
    }

    /// "CPU 1.23 s (45% of one core), 12.3 µs per delivery, RSS 40.0 MB, waited 12 ms for a core".
    static func usage(_ usage: ProcessUsage, microsPerDelivery: Double?) -> String {
        var text = String(format: "CPU %.2f s (%.0f%% of one core)", usage.cpuSeconds, usage.reportedCPUPercent)
        if let microsPerDelivery { text += String(format: ", %.2f µs per delivery", microsPerDelivery) }
        text += ", RSS " + megabytes(usage.residentBytes)
        if let wait = usage.runQueueWaitSeconds { text += String(format: ", waited %.0f ms for a core", wait * 1000) }
        return text
    }

    /// "p99 … max …" of how late the bench wrote its sends, in milliseconds.
    static func sendLag(_ latency: LatencySnapshot) -> String {
        "p99 \(ms(latency.sendLagP99))  max \(ms(latency.sendLagMax))  (the bench's own delay, part of each latency)"
    }

    /// The message-count line of a window.
    static func messages(_ latency: LatencySnapshot) -> String {
        let lossPercent = latency.expected > 0 ? 100 * Double(latency.lost) / Double(latency.expected) : 0
        return
            // Each message once: a repeat is counted apart, and makes up for no loss.
            "sent \(latency.sent), delivered \(latency.delivered - latency.repeated) of \(latency.expected) expected, "
            + "lost \(latency.lost) "
            + String(format: "(%.3f%%)", lossPercent)
            + (latency.repeated > 0 ? ", \(latency.repeated) REPEATED" : "")
            + (latency.outOfOrder > 0 ? ", \(latency.outOfOrder) OUT OF ORDER" : "")
            + (latency.unexpected > 0 ? ", \(latency.unexpected) MORE than expected" : "")
            + (latency.echoed > 0 ? ", \(latency.echoed) ECHOED to their sender" : "")
            + (latency.misrouted > 0 ? ", \(latency.misrouted) MISROUTED from another room" : "")
            + (latency.mislabelled > 0 ? ", \(latency.mislabelled) LABELLED with their receiver's own player_id" : "")
            + (latency.unreadable > 0 ? ", \(latency.unreadable) with UNREADABLE stamps" : "")
            + (latency.beyondRange > 0 ? ", \(latency.beyondRange) OVER 60 s (counted as 60 s)" : "")
    }

    /// The relays a correct server never sends, in words ("2 repeated, 1 echoed to their
    /// sender"), or nil when there were none. Out of order ones are not among them: each is
    /// still its one delivery, with its latency (a `step` fails on them all the same).
    static func wrongDeliveries(_ latency: LatencySnapshot) -> String? {
        let counts = [
            (latency.repeated, "repeated"), (latency.unexpected, "more than expected"),
            (latency.echoed, "echoed to their sender"), (latency.misrouted, "misrouted from another room"),
            (latency.mislabelled, "labelled with their receiver's own player_id"),
            (latency.unreadable, "with unreadable stamps"),
        ]
        let named = counts.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        return named.isEmpty ? nil : named.joined(separator: ", ")
    }

    /// Pretty, key-sorted JSON of a report.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            return #"{"error":"\#(error)"}"#
        }
    }
}

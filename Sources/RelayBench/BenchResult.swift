import Foundation

/// What one run measured.
struct BenchResult: Codable {
    struct Usage: Codable {
        var cpuSeconds: Double
        var residentBytes: Int
    }

    var rooms, playersPerRoom: Int
    var hertz, seconds: Double
    var payloadBytes: Int
    var roomsReady, roomsFailed: Int
    var setupSeconds: Double
    var latency: LatencySnapshot
    var server: Usage?
    var bench: Usage?

    /// Server CPU microseconds per delivered message.
    var serverMicrosPerDelivery: Double? {
        guard let server, self.latency.delivered > 0 else { return nil }
        return server.cpuSeconds * 1e6 / Double(self.latency.delivered)
    }

    func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        let players = self.rooms * self.playersPerRoom
        let lossPercent = self.latency.expected > 0 ? 100 * Double(self.latency.lost) / Double(self.latency.expected) : 0
        func ms(_ micros: UInt64) -> String { String(format: "%.2f", Double(micros) / 1000) }
        var lines = [
            "relay-bench: \(self.rooms) rooms × \(self.playersPerRoom) players @ \(self.hertz) Hz for \(self.seconds) s, padding \(self.payloadBytes) B",
            String(
                format: "setup       %d players in %.2f s (%.0f connect+join/s); rooms ready %d, failed %d",
                players, self.setupSeconds, Double(players) / max(self.setupSeconds, 1e-9), self.roomsReady,
                self.roomsFailed),
            String(
                format: "messages    sent %d, delivered %d of %d expected, lost %d (%.3f%%), server errors %d",
                self.latency.sent, self.latency.delivered, self.latency.expected, self.latency.lost, lossPercent,
                self.latency.errors),
            "latency ms  p50 \(ms(self.latency.p50))  p90 \(ms(self.latency.p90))  p99 \(ms(self.latency.p99))  "
                + "p99.9 \(ms(self.latency.p999))  max \(ms(self.latency.max))",
        ]
        if let server = self.server {
            lines.append(
                String(
                    format: "server      CPU %.2f s (%.0f%% of one core), %.2f µs per delivery, RSS %.1f MB",
                    server.cpuSeconds, 100 * server.cpuSeconds / self.seconds, self.serverMicrosPerDelivery ?? 0,
                    Double(server.residentBytes) / 1_048_576))
        }
        if let bench = self.bench {
            lines.append(
                String(
                    format: "bench       CPU %.2f s (%.0f%% of one core), RSS %.1f MB", bench.cpuSeconds,
                    100 * bench.cpuSeconds / self.seconds, Double(bench.residentBytes) / 1_048_576))
        }
        return lines.joined(separator: "\n")
    }
}

import Histogram
import Synchronization

/// Collects broadcast latencies (HDR histogram, microseconds) and message counts from
/// every simulated player.
final class LatencyRecorder: Sendable {
    private struct State {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var sent = 0
        var expected = 0
        var delivered = 0
        var errors = 0
    }

    private let state = Mutex(State())
    /// The sending period, for coordinated-omission correction.
    let expectedIntervalMicros: UInt64

    init(expectedIntervalMicros: UInt64) {
        self.expectedIntervalMicros = expectedIntervalMicros
    }

    /// One `player_state` sent that `recipients` room-mates should receive.
    func recordSend(recipients: Int) {
        self.state.withLock {
            $0.sent += 1
            $0.expected += recipients
        }
    }

    /// One matching `player_state_update` received `micros` after it was sent.
    func recordDelivery(latencyMicros micros: UInt64) {
        self.state.withLock {
            $0.delivered += 1
            _ = $0.histogram.recordCorrectedValue(max(micros, 1), expectedInterval: self.expectedIntervalMicros)
        }
    }

    /// An `error` message from the server.
    func recordError() { self.state.withLock { $0.errors += 1 } }

    /// A consistent copy of everything recorded.
    func snapshot() -> LatencySnapshot {
        self.state.withLock { state in
            LatencySnapshot(
                sent: state.sent, expected: state.expected, delivered: state.delivered, errors: state.errors,
                p50: state.histogram.valueAtPercentile(50), p90: state.histogram.valueAtPercentile(90),
                p99: state.histogram.valueAtPercentile(99), p999: state.histogram.valueAtPercentile(99.9),
                max: state.histogram.max, mean: state.histogram.mean)
        }
    }
}

/// Counts and latency percentiles (microseconds) at one moment.
struct LatencySnapshot: Sendable, Codable {
    var sent, expected, delivered, errors: Int
    var p50, p90, p99, p999, max: UInt64
    var mean: Double

    var lost: Int { Swift.max(0, self.expected - self.delivered) }
}

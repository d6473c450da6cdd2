import Testing

@testable import RelayBenchKit

/// The recorder behind every latency figure: what a window counts and what a snapshot holds.
@Suite("Latency recorder")
struct LatencyRecorderTests {
    @Test("A window counts only messages sent after it opened, and reads their percentiles")
    func window() {
        let recorder = LatencyRecorder(expectedIntervalMicros: 0)
        recorder.openWindow(at: 1_000)
        recorder.recordSend(sentAt: 999, recipients: 1)  // before the window
        recorder.recordDelivery(sentAt: 999, receivedAt: 5_000)
        for latency in 1...100 {
            recorder.recordSend(sentAt: 1_000, recipients: 1)
            recorder.recordDelivery(sentAt: 1_000, receivedAt: 1_000 + Int64(latency))
        }
        let snapshot = recorder.snapshot()
        #expect(snapshot.sent == 100)
        #expect(snapshot.delivered == 100)
        #expect(snapshot.lost == 0)
        #expect(snapshot.p50 == 50)
        #expect(snapshot.p99 == 99)
        #expect(snapshot.max == 100)
    }

    @Test("A snapshot is a copy: what arrives after it does not change it")
    func snapshotIsACopy() {
        let recorder = LatencyRecorder(expectedIntervalMicros: 0)
        recorder.openWindow(at: 0)
        recorder.recordSend(sentAt: 0, recipients: 2)
        recorder.recordDelivery(sentAt: 0, receivedAt: 10)
        let before = recorder.snapshot()
        recorder.recordDelivery(sentAt: 0, receivedAt: 50_000)
        #expect(before.delivered == 1)
        #expect(before.lost == 1)
        #expect(before.max == 10)
        #expect(recorder.snapshot().max >= 50_000)
    }

    @Test("Snapshots taken while loops record see whole deliveries, and the last one sees all")
    func snapshotsDuringRecording() async {
        let recorder = LatencyRecorder(expectedIntervalMicros: 0)
        recorder.openWindow(at: 0)
        let writers = 4
        let perWriter = 20_000
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        recorder.recordSend(sentAt: 0, recipients: 1)
                        recorder.recordDelivery(sentAt: 0, receivedAt: Int64(1 + (index + writer) % 1_000))
                    }
                }
            }
            group.addTask {
                var last = 0
                for _ in 0..<50 {
                    let snapshot = recorder.snapshot()
                    #expect(snapshot.delivered >= last, "deliveries never go back")
                    #expect(snapshot.delivered <= snapshot.expected, "a delivery is counted after its send")
                    last = snapshot.delivered
                    await Task.yield()
                }
            }
        }
        let final = recorder.snapshot()
        #expect(final.delivered == writers * perWriter)
        #expect(final.lost == 0)
        #expect(final.max == 1_000)
    }
}

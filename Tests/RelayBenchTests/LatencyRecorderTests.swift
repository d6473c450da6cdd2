import Testing

@testable import RelayBenchKit

/// The recorder behind every latency figure: what a window counts and what a snapshot holds.
@Suite("Latency recorder")
struct LatencyRecorderTests {
    @Test("A window counts only messages sent after it opened, and reads their percentiles")
    func window() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 1_000)
        recorder.recordSend(dueAt: 999, sentAt: 999, recipients: 1)  // before the window
        recorder.recordDelivery(dueAt: 999, receivedAt: 5_000)
        for latency in 1...100 {
            recorder.recordSend(dueAt: 1_000, sentAt: 1_000, recipients: 1)
            recorder.recordDelivery(dueAt: 1_000, receivedAt: 1_000 + Int64(latency))
        }
        let snapshot = recorder.snapshot()
        #expect(snapshot.sent == 100)
        #expect(snapshot.delivered == 100)
        #expect(snapshot.lost == 0)
        #expect(snapshot.p50 == 50)
        #expect(snapshot.p99 == 99)
        #expect(snapshot.max == 100)
    }

    /// Below 2,048 µs the histogram (3 significant digits) holds each value exactly, so these are the
    /// recorded values of nearest rank ⌈q·n⌉. With 160 delivered: p99 the 159th (⌈158.4⌉; rounding
    /// would read the 158th), p99.9 the 160th. With one more expected and lost (ranked past every
    /// delivery, by the recorder's own rank, not the histogram's): p99 the 160th (⌈159.39⌉; rounding
    /// 159th), p99.9 the 161st, the lost one.
    @Test("p99 and p99.9 are the deliveries of nearest rank, with and without a loss", arguments: [0, 1])
    func nearestRankPercentiles(lost: Int) {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 1_000)
        for latency in 1...160 {
            recorder.recordSend(dueAt: 1_000, sentAt: 1_000, recipients: 1)
            recorder.recordDelivery(dueAt: 1_000, receivedAt: 1_000 + Int64(latency))
        }
        for _ in 0..<lost { recorder.recordSend(dueAt: 1_000, sentAt: 1_000, recipients: 1) }
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 160 && snapshot.lost == lost)
        if lost == 0 {
            #expect(snapshot.p99 == 159, "\(snapshot.p99)")
            #expect(snapshot.p999 == 160, "\(snapshot.p999)")
            #expect(snapshot.max == 160)
        } else {
            #expect(snapshot.p99 == 160, "\(snapshot.p99)")
            #expect(snapshot.p999 == LatencySnapshot.pastTheDrain, "\(snapshot.p999)")
        }
    }

    /// A message lost had not come by the drain's end: it counts as later than every delivery,
    /// so losses cannot make the percentiles look better than the deliveries alone.
    @Test("Lost messages count as the latest: a percentile among them reads `lost`, JSON null")
    func lostMessagesAreTheLatest() throws {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        for latency in 1...100 {
            recorder.recordSend(dueAt: 1_000, sentAt: 1_000, recipients: 1)
            if latency <= 98 { recorder.recordDelivery(dueAt: 1_000, receivedAt: 1_000 + Int64(latency)) }
        }
        let snapshot = recorder.snapshot()
        #expect(snapshot.lost == 2)
        #expect(snapshot.p50 == 50 && snapshot.p90 == 90, "ranks over the 100 expected, not the 98 delivered")
        #expect(snapshot.p99 == LatencySnapshot.pastTheDrain)
        #expect(snapshot.p999 == LatencySnapshot.pastTheDrain && snapshot.max == LatencySnapshot.pastTheDrain)
        #expect(Format.percentiles(snapshot) == "p50 0.05  p90 0.09  p99 lost  p99.9 lost  max lost")
        let json = Format.json(snapshot)
        #expect(json.contains(#""p99" : null"#) && json.contains(#""p50" : 50"#), "\(json)")
    }

    /// The window's CPU also works off what a warm-up left queued: CPU per delivery divides it by
    /// every relay received meanwhile, not by the window's deliveries alone (which overstated it).
    @Test("Relays received since the window opened are counted whenever they fell due, repeats aside")
    func relaysReceivedSinceTheWindowOpened() {
        let recorder = LatencyRecorder()
        recorder.recordDelivery(dueAt: 100, receivedAt: 200)  // before the window opened: forgotten
        let start = recorder.openWindow()
        for _ in 0..<3 { recorder.recordDelivery(dueAt: start - 1_000, receivedAt: start + 10) }  // the backlog
        recorder.recordSend(dueAt: start, sentAt: start, recipients: 2)
        recorder.recordDelivery(dueAt: start, receivedAt: start + 10)
        recorder.recordDelivery(dueAt: start, receivedAt: start + 20, arrival: .repeated)
        recorder.recordUnsampledRelay(dueAt: start - 1_000)
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 2 && snapshot.repeated == 1 && snapshot.lost == 1)
        #expect(snapshot.relaysReceived == 5, "3 of the backlog, 1 in the window, 1 unsampled")
        let usage = ProcessUsage(cpuSeconds: 0.5, wallSeconds: 1, residentBytes: 0)
        let window = WindowResult(
            seconds: 1, latency: snapshot, server: usage, bench: nil, serverPeakResidentBytes: nil)
        #expect(window.serverMicrosPerDelivery == 100_000)
    }

    /// README: slow-consumer's CPU per delivery counts these; `--json` must show them.
    @Test("Relays to players whose latency is not sampled are counted, and written in JSON")
    func unsampledRelaysInJSON() {
        let recorder = LatencyRecorder()
        recorder.recordUnsampledRelay(dueAt: 500)  // before the window: not counted
        recorder.openWindow(at: 1_000)
        for _ in 0..<5 { recorder.recordUnsampledRelay(dueAt: 1_000) }
        let snapshot = recorder.snapshot()
        #expect(snapshot.unsampled == 5 && snapshot.delivered == 0)
        #expect(Format.json(snapshot).contains(#""unsampled" : 5"#), "\(Format.json(snapshot))")
    }

    /// 60,000 expected, 60 lost: p99.9 is the 59,940th, the last delivery, not a lost one (a
    /// rank computed in doubles, 59,940.00000000001, said `lost`).
    @Test("A percentile exactly at the last delivery is that delivery")
    func rankAtTheLastDelivery() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        for latency in 1...60_000 {
            recorder.recordSend(dueAt: 0, sentAt: 0, recipients: 1)
            if latency <= 59_940 { recorder.recordDelivery(dueAt: 0, receivedAt: Int64(latency)) }
        }
        let snapshot = recorder.snapshot()
        #expect(snapshot.lost == 60)
        #expect(snapshot.p999 != LatencySnapshot.pastTheDrain && snapshot.p999 >= 59_900, "\(snapshot.p999)")
        #expect(snapshot.max == LatencySnapshot.pastTheDrain)
        // While messages still fly, those not come yet are not lost.
        let inFlight = recorder.snapshot(inFlight: true)
        #expect(inFlight.max != LatencySnapshot.pastTheDrain && inFlight.max >= 59_900, "\(inFlight.max)")
        #expect(inFlight.p99 <= snapshot.p99)
    }

    @Test("A repeated delivery is counted apart: it takes no latency sample and does not hide a loss")
    func repeatsDoNotHideLosses() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        for due in [Int64(10), 20, 30] { recorder.recordSend(dueAt: due, sentAt: due, recipients: 1) }
        recorder.recordDelivery(dueAt: 10, receivedAt: 11)
        recorder.recordDelivery(dueAt: 20, receivedAt: 25)
        recorder.recordDelivery(dueAt: 20, receivedAt: 90_000, arrival: .repeated)  // 30 was lost
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 3)
        #expect(snapshot.repeated == 1)
        #expect(snapshot.lost == 1)
        #expect(snapshot.unexpected == 0)
        #expect(snapshot.mean < 100, "the repeat's latency is not a sample")
        #expect(recorder.counts().delivered == 2)
        #expect(Format.messages(snapshot).contains("delivered 2 of 3 expected, lost 1 "), "a repeat is no delivery")
        #expect(Format.messages(snapshot).contains("1 REPEATED"))
        #expect(!Format.messages(snapshot).contains("OUT OF ORDER"))
    }

    @Test("A first delivery out of order is a delivery like any other, with its latency, counted apart")
    func outOfOrderIsDelivered() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        for due in [Int64(10), 20] { recorder.recordSend(dueAt: due, sentAt: due, recipients: 1) }
        recorder.recordDelivery(dueAt: 20, receivedAt: 21)
        recorder.recordDelivery(dueAt: 10, receivedAt: 5_000, arrival: .outOfOrder)
        let snapshot = recorder.snapshot()
        #expect(snapshot.lost == 0)
        #expect(snapshot.outOfOrder == 1 && snapshot.repeated == 0)
        #expect(snapshot.max >= 4_990, "its latency is a sample")
        #expect(recorder.counts().delivered == 2)
        #expect(Format.messages(snapshot).contains("1 OUT OF ORDER"))
    }

    @Test("A slow delivery is one sample: the messages a stall delayed are measured as they arrive, not made up")
    func noCoordinatedOmissionCorrection() {
        // At 30 Hz: 99 deliveries in 1 ms and one in 100 ms, three periods. A correction for a
        // closed loop would add samples at 66.7 and 33.3 ms and move p99 to 66.7 ms.
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        for index in 0..<100 {
            let due = Int64(index) * 33_333
            recorder.recordSend(dueAt: due, sentAt: due, recipients: 1)
            recorder.recordDelivery(dueAt: due, receivedAt: due + (index == 50 ? 100_000 : 1_000))
        }
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 100)
        #expect(snapshot.p99 == 1_000)
        #expect(snapshot.max >= 100_000 && snapshot.max < 100_100)
    }

    @Test("How late the bench wrote its sends is kept apart, for sends in the window")
    func sendLag() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 1_000)
        recorder.recordSend(dueAt: 999, sentAt: 90_000, recipients: 1)  // before the window
        for index in 0..<100 {
            let due = 1_000 + Int64(index) * 10
            recorder.recordSend(dueAt: due, sentAt: due + (index < 98 ? 0 : 5_000), recipients: 1)
        }
        recorder.recordSend(dueAt: 5_000, sentAt: 4_990, recipients: 1)  // a clock read before the due time
        let snapshot = recorder.snapshot()
        #expect(snapshot.sent == 101)
        #expect(snapshot.sendLagP99 >= 4_990 && snapshot.sendLagP99 < 5_010)  // within the histogram's 3 digits
        #expect(snapshot.sendLagMax >= 4_990 && snapshot.sendLagMax < 5_010)
        #expect(LatencyRecorder().snapshot().sendLagMax == 0)
    }

    @Test("Deliveries beyond those expected (misrouted) are reported, not hidden by the loss count")
    func overDelivery() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        recorder.recordSend(dueAt: 0, sentAt: 0, recipients: 1)
        recorder.recordDelivery(dueAt: 0, receivedAt: 10)
        #expect(!Format.messages(recorder.snapshot()).contains("MORE"))
        recorder.recordDelivery(dueAt: 0, receivedAt: 20)  // another's, not a repeat of this receiver's
        let snapshot = recorder.snapshot()
        #expect(snapshot.lost == 0)
        #expect(snapshot.unexpected == 1)
        #expect(Format.messages(snapshot).contains("1 MORE than expected"))
    }

    @Test("A delivery later than the histogram holds is kept at its top and counted, not left out")
    func beyondTheRange() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        recorder.recordSend(dueAt: 0, sentAt: 0, recipients: 3)
        recorder.recordDelivery(dueAt: 0, receivedAt: 2_000)
        recorder.recordDelivery(dueAt: 0, receivedAt: 70_000_000)  // 70 s
        // 65 s: within the histogram's last bucket (it takes values up to ~67.1 s), yet over a minute.
        recorder.recordDelivery(dueAt: 0, receivedAt: 65_000_000)
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 3)
        #expect(snapshot.beyondRange == 2)
        let top = Double(LatencyRecorder.highestLatency)
        #expect(Double(snapshot.max) >= top * 0.999, "\(snapshot.max)")
        #expect(Double(snapshot.max) <= top * 1.001, "kept as a minute: \(snapshot.max)")
        #expect(Double(snapshot.p99) >= top * 0.999)
        #expect(Format.messages(snapshot).contains("2 OVER 60 s"))
    }

    @Test("Relays to unmeasured players in the window are counted apart: no latency, no delivery")
    func unsampledRelays() {
        let recorder = LatencyRecorder()
        let start = recorder.openWindow()
        recorder.recordSend(dueAt: start, sentAt: start, recipients: 1)
        recorder.recordDelivery(dueAt: start, receivedAt: start + 10)
        recorder.recordUnsampledRelay(dueAt: start)
        recorder.recordUnsampledRelay(dueAt: start - 1)  // due before the window
        let snapshot = recorder.snapshot()
        #expect(snapshot.unsampled == 1)
        #expect(snapshot.delivered == 1 && snapshot.lost == 0 && snapshot.unexpected == 0)
    }

    @Test("Echoes to their sender and unreadable stamps are counted apart, never as deliveries")
    func echoesAndUnreadableStamps() {
        let recorder = LatencyRecorder()
        recorder.recordUnreadableStamp()  // before any window: not counted
        recorder.openWindow(at: 100)
        recorder.recordSend(dueAt: 100, sentAt: 100, recipients: 1)
        recorder.recordEcho(dueAt: 100)
        recorder.recordEcho(dueAt: 99)  // an earlier window's
        recorder.recordUnreadableStamp()
        recorder.recordClosedWhileSending(code: 1009)
        recorder.recordClosedWhileSending(code: nil)
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 0)
        #expect(snapshot.lost == 1)
        #expect(snapshot.echoed == 1)
        #expect(snapshot.unreadable == 1)
        #expect(snapshot.closedWhileSending == 2)
        #expect(snapshot.firstCloseCode == 1009)
        #expect(Format.messages(snapshot).contains("1 ECHOED to their sender, 1 with UNREADABLE stamps"))
    }

    @Test("A relay of a message sent in another room is counted apart, never as a delivery")
    func misroutedRelays() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 100)
        recorder.recordSend(dueAt: 100, sentAt: 100, recipients: 1)
        recorder.recordMisrouted(dueAt: 100)
        recorder.recordMisrouted(dueAt: 99)  // an earlier window's
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 0)
        #expect(snapshot.lost == 1, "a misrouted relay does not make up for the one its room-mate lost")
        #expect(snapshot.misrouted == 1)
        #expect(Format.messages(snapshot).contains("1 MISROUTED from another room"))
    }

    @Test("A room-mate's relay labelled with the receiver's own player_id is counted apart, never as a delivery")
    func mislabelledRelays() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 100)
        recorder.recordSend(dueAt: 100, sentAt: 100, recipients: 1)
        recorder.recordMislabelled(dueAt: 100)
        recorder.recordMislabelled(dueAt: 99)  // an earlier window's
        let snapshot = recorder.snapshot()
        #expect(snapshot.delivered == 0 && snapshot.lost == 1)
        #expect(snapshot.mislabelled == 1)
        #expect(Format.messages(snapshot).contains("1 LABELLED with their receiver's own player_id"))
    }

    @Test("Stream ids carry their room, stay unique and under 2^53, and tell a relay's origin")
    func streamIDs() {
        let streams = (0..<100).map { _ in StreamID.next(inRoom: 7) }
        #expect(Set(streams).count == 100)
        #expect(streams.allSatisfy { StreamID.room(of: $0) == 7 })
        let last = StreamID.next(inRoom: StreamID.maxRoom)
        #expect(last < 1 << 53 && StreamID.room(of: last) == StreamID.maxRoom)
        let mine = StreamID.next(inRoom: 3)
        let mate = StreamID.next(inRoom: 3)
        let stranger = StreamID.next(inRoom: 4)
        #expect(StreamID.origin(of: mate, ownStream: mine, room: 3) == .roomMate)
        #expect(StreamID.origin(of: mine, ownStream: mine, room: 3) == .ownSending)
        #expect(StreamID.origin(of: stranger, ownStream: mine, room: 3) == .anotherRoom)
        #expect(StreamID.origin(of: stranger, ownStream: nil, room: nil) == .roomMate, "before it sent")
    }

    @Test("A snapshot is a copy: what arrives after it does not change it")
    func snapshotIsACopy() {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        recorder.recordSend(dueAt: 0, sentAt: 0, recipients: 2)
        recorder.recordDelivery(dueAt: 0, receivedAt: 10)
        let before = recorder.snapshot()
        recorder.recordDelivery(dueAt: 0, receivedAt: 50_000)
        #expect(before.delivered == 1)
        #expect(before.lost == 1)
        #expect(before.p50 == 10 && before.max == LatencySnapshot.pastTheDrain, "one of two still missing")
        #expect(recorder.snapshot().max >= 50_000)
    }

    @Test("Snapshots taken while loops record see whole deliveries, and the last one sees all")
    func snapshotsDuringRecording() async {
        let recorder = LatencyRecorder()
        recorder.openWindow(at: 0)
        let writers = 4
        let perWriter = 20_000
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        recorder.recordSend(dueAt: 0, sentAt: 0, recipients: 1)
                        recorder.recordDelivery(dueAt: 0, receivedAt: Int64(1 + (index + writer) % 1_000))
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

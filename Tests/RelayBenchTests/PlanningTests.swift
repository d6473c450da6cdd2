import Testing

@testable import RelayBenchKit

/// The pure decisions of the scenarios: room places, slow players, steps and their verdicts.
@Suite("Scenario planning")
struct PlanningTests {
    @Test("A join storm never sends a room more players than max_players, whatever the order of answers")
    func joinStormPlaces() {
        var generator = SystemRandomNumberGenerator()
        for players in 2...5 {
            var plan = JoinStormPlan(playersPerRoom: players)
            var pendingCreates: [Int] = []
            var joinsPerRoom: [Int: Int] = [:]
            for _ in 0..<2_000 {
                switch plan.next() {
                case .create(let room):
                    pendingCreates.append(room)
                case .join(let room, let code):
                    #expect(code == "R\(room)")
                    joinsPerRoom[room, default: 0] += 1
                }
                // Rooms are confirmed in random order, some late, some never.
                if !pendingCreates.isEmpty, Bool.random(using: &generator) {
                    let room = pendingCreates.remove(at: Int.random(in: 0..<pendingCreates.count, using: &generator))
                    if Int.random(in: 0..<10, using: &generator) > 0 { plan.roomOpened(room, code: "R\(room)") }
                }
            }
            #expect(joinsPerRoom.values.allSatisfy { $0 <= players - 1 })
            #expect(plan.largestRoom <= players)
            #expect(plan.largestRoom == players, "rooms should fill up")
        }
    }

    @Test("A joiner only gets a place once its room exists")
    func noPlaceBeforeTheRoomExists() {
        var plan = JoinStormPlan(playersPerRoom: 3)
        #expect(plan.next() == .create(room: 0))
        #expect(plan.next() == .create(room: 1))
        plan.roomOpened(0, code: "AAAAAA")
        #expect(plan.next() == .join(room: 0, code: "AAAAAA"))
        #expect(plan.next() == .join(room: 0, code: "AAAAAA"))
        #expect(plan.next() == .create(room: 2))
    }

    @Test("A run that cannot get a descriptor per connection stops before connecting, and says why")
    func openFileLimit() async throws {
        let context = BenchContext(target: try BenchTarget(url: "ws://127.0.0.1:9"), threads: 1)
        let tooMany = RelayScenario(rooms: 20_000, players: 64, hertz: 1, seconds: 1)  // 1.28M sockets
        await #expect(throws: BenchError.self) { try await tooMany.run(in: context) }
        #expect(SystemLimits.raiseOpenFiles(toFit: 10).isEnough)
    }

    @Test("A run of more connections than one address has ports spreads them over more source addresses")
    func sourceAddressesFollowTheConnections() throws {
        let context = BenchContext(target: try BenchTarget(url: "ws://127.0.0.1:9"), threads: 1)
        #expect(context.withSourceAddresses(for: 100).sourceAddresses == 1)
        let ports = SystemLimits.ephemeralPortCount()
        let many = context.withSourceAddresses(for: 2 * ports)
        #expect(many.sourceAddresses == SystemLimits.sourceAddressesNeeded(for: 2 * ports) && many.sourceAddresses >= 3)
        var asked = context
        asked.sourceAddresses = 8
        #expect(asked.withSourceAddresses(for: 100).sourceAddresses == 8, "never fewer than asked for")
    }

    @Test("Slow players are spread over the rooms, never the creator")
    func slowPlayers() {
        let perRoom = (0..<10).map { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 4, percent: 25) }
        #expect(perRoom == Array(repeating: 1, count: 10))
        let tenPercent = (0..<10).map { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 2, percent: 10) }
        #expect(tenPercent.reduce(0, +) == 2)
        #expect((0..<10).allSatisfy { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 3, percent: 99) <= 2 })
    }

    @Test("Steps double or grow by the step size, up to the maximum")
    func plannedSteps() {
        let doubling = StepScenario(
            startRooms: 100, stepRooms: 0, maxRooms: 1_000, players: 2, hertz: 30, stepSeconds: 1, sloMicros: 50_000)
        #expect(doubling.plannedSteps == [100, 200, 400, 800])
        let linear = StepScenario(
            startRooms: 1, stepRooms: 2, maxRooms: 6, players: 2, hertz: 30, stepSeconds: 1, sloMicros: 50_000)
        #expect(linear.plannedSteps == [1, 3, 5])
    }

    @Test("A step fails on loss before latency, and holds only within the SLO")
    func verdicts() {
        func window(expected: Int, delivered: Int, p99: UInt64) -> WindowResult {
            var latency = LatencySnapshot(
                histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: 1,
                expected: expected, delivered: delivered)
            latency.p99 = p99
            return WindowResult(seconds: 1, latency: latency, server: nil, bench: nil, serverPeakResidentBytes: nil)
        }
        #expect(StepVerdict(window: window(expected: 10, delivered: 10, p99: 5_000), sloMicros: 50_000) == .withinSLO)
        #expect(
            StepVerdict(window: window(expected: 10, delivered: 10, p99: 60_000), sloMicros: 50_000)
                == .p99OverSLO(p99Micros: 60_000))
        #expect(
            StepVerdict(window: window(expected: 10, delivered: 9, p99: 60_000), sloMicros: 50_000) == .messagesLost(1))
        #expect(StepVerdict(window: window(expected: 10, delivered: 0, p99: 0), sloMicros: 50_000) == .nothingDelivered)
    }

    @Test(
        "A step within the SLO still fails on repeats, echoes, misroutes, reordering, closed connections and server errors"
    )
    func verdictsOfAMisbehavingServer() {
        func window(_ change: (inout LatencySnapshot) -> Void) -> WindowResult {
            var latency = LatencySnapshot(
                histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: 5,
                expected: 10, delivered: 10)
            latency.p99 = 5_000
            change(&latency)
            return WindowResult(seconds: 1, latency: latency, server: nil, bench: nil, serverPeakResidentBytes: nil)
        }
        func verdict(serverErrors: Int = 0, _ change: (inout LatencySnapshot) -> Void) -> StepVerdict {
            StepVerdict(window: window(change), sloMicros: 50_000, serverErrors: serverErrors)
        }
        #expect(verdict { _ in } == .withinSLO)
        #expect(verdict { $0.outOfOrder = 3 } == .outOfOrder(3), "an older state shown after a newer one")
        #expect(StepVerdict.outOfOrder(3).summary == "3 out of order")
        #expect(verdict(serverErrors: 4) { $0.outOfOrder = 3 } == .outOfOrder(3))
        #expect(
            verdict {
                $0.delivered = 12
                $0.repeated = 2
            } == .wrongDeliveries("2 repeated"))
        #expect(verdict { $0.delivered = 11 } == .wrongDeliveries("1 more than expected"))
        #expect(
            verdict {
                $0.echoed = 1
                $0.misrouted = 2
                $0.unreadable = 3
            } == .wrongDeliveries("1 echoed to their sender, 2 misrouted from another room, 3 with unreadable stamps"))
        #expect(
            verdict {
                $0.closedWhileSending = 2
                $0.firstCloseCode = 4000
            } == .connectionsClosed(2, firstCode: 4000))
        #expect(
            StepVerdict(window: window { _ in }, sloMicros: 50_000, serverCloses: (3, 4000))
                == .connectionsClosed(3, firstCode: 4000), "closed between windows: no loss seen")
        #expect(verdict(serverErrors: 4) { _ in } == .serverErrors(4))
        #expect(verdict(serverErrors: 4) { $0.delivered = 9 } == .messagesLost(1), "loss comes first")
        #expect(
            StepVerdict.connectionsClosed(2, firstCode: nil).summary
                == "the server closed 2 connections (first: no close code)")
        #expect(StepVerdict.serverErrors(4).summary == "4 server errors")
    }

    @Test("A repeated relay is not throughput: deliveries per second and CPU per delivery count each message once")
    func repeatsAreNotThroughput() {
        var latency = LatencySnapshot(
            histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: 50,
            expected: 100, delivered: 200)
        latency.repeated = 100
        latency.relaysReceived = 100  // as the recorder counts them: repeats aside
        let usage = ProcessUsage(cpuSeconds: 0.5, wallSeconds: 1, residentBytes: 0)
        let window = WindowResult(seconds: 2, latency: latency, server: usage, bench: nil, serverPeakResidentBytes: nil)
        #expect(window.deliveriesPerSecond == 50)
        #expect(window.serverMicrosPerDelivery == 5_000)
        // Over the window's length by due time, not the longer time a late bench took to stop.
        let late = WindowResult(
            seconds: 2, sendingSeconds: 4, latency: latency, server: usage, bench: nil, serverPeakResidentBytes: nil)
        #expect(late.deliveriesPerSecond == 50)
    }

    /// A window whose drain waits for a lost message: the drain would halve the share of a core
    /// the window kept busy.
    @Test("A process's share of a core is over the sending; its CPU seconds run to the end of the drain")
    func shareOfACoreWhileSending() {
        let start = ContinuousClock.now
        func reading(cpu: Double, at seconds: Int) -> ProcessStats {
            ProcessStats(cpuSeconds: cpu, residentBytes: 0, runQueueWaits: nil, readAt: start + .seconds(seconds))
        }
        let usage = ProcessUsage(
            from: reading(cpu: 10, at: 0), sendingEnded: reading(cpu: 12, at: 2), to: reading(cpu: 12, at: 4))
        #expect(usage?.cpuSeconds == 2 && usage?.cpuPercent == 50)
        #expect(usage?.reportedCPUPercent == 100)
        #expect(Format.usage(usage!, microsPerDelivery: nil).hasPrefix("CPU 2.00 s (100% of one core)"))
        #expect(ProcessUsage(cpuSeconds: 1, wallSeconds: 4, residentBytes: 0).reportedCPUPercent == 25)
    }

    /// slow-consumer's slow players read in its first window, unmeasured: the server's CPU went
    /// into their relays too (a quarter of them slow in rooms of four: a third of the relays).
    @Test("CPU per delivery counts the relays to unmeasured players; deliveries per second does not")
    func unsampledRelaysShareTheCPU() {
        var latency = LatencySnapshot(
            histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: 50,
            expected: 100, delivered: 100)
        latency.unsampled = 50
        latency.relaysReceived = 150  // as the recorder counts them
        let usage = ProcessUsage(cpuSeconds: 1.5, wallSeconds: 1, residentBytes: 0)
        let window = WindowResult(
            seconds: 2, latency: latency, server: usage, bench: usage, serverPeakResidentBytes: nil)
        #expect(window.deliveriesPerSecond == 50)
        #expect(window.serverMicrosPerDelivery == 10_000)  // over 150 relays, not 100 deliveries
        #expect(window.benchMicrosPerDelivery == 10_000)
    }

    @Test("The knee is the last step that held")
    func knee() {
        let latency = LatencySnapshot(
            histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: 1,
            expected: 1, delivered: 1)
        let window = WindowResult(seconds: 1, latency: latency, server: nil, bench: nil, serverPeakResidentBytes: nil)
        let steps = [
            StepResult(rooms: 100, players: 2, window: window, verdict: .withinSLO),
            StepResult(rooms: 200, players: 2, window: window, verdict: .withinSLO),
            StepResult(rooms: 400, players: 2, window: window, verdict: .p99OverSLO(p99Micros: 80_000)),
        ]
        let report = StepReport(players: 2, hertz: 30, stepSeconds: 1, sloMicros: 50_000, maxRooms: 800, steps: steps)
        #expect(report.kneeRooms == 200)
        #expect(report.stopReason.hasPrefix("400 rooms: p99 80.00 ms"))
        #expect(report.table().contains("knee        200 rooms"))
        // Every step held: the climb found no knee, and says so rather than call the last one it.
        let held = StepReport(
            players: 2, hertz: 30, stepSeconds: 1, sloMicros: 50_000, maxRooms: 200, steps: Array(steps.prefix(2)))
        #expect(held.kneeRooms == 200 && !held.kneeFound && report.kneeFound)
        #expect(held.jsonText().contains(#""kneeFound" : false"#))
        #expect(held.table().contains("knee        not reached: every step held, up to 200 rooms (400 players)"))
    }

    /// slow-consumer's figure is the others' latency: a bench behind its own sends is part of it,
    /// and the table said nothing of it (relay's did).
    @Test("slow-consumer warns of a bench behind its sends in either window, as relay does")
    func slowConsumerWarnsOfALaggingBench() {
        func table(baselineLag: UInt64, stalledLag: UInt64) -> String {
            SlowConsumerReport(
                rooms: 1, players: 2, slowPercent: 50, hertz: 10, seconds: 1, paddingBytes: 0, setup: SetupReport(),
                slowPlayers: 1, baseline: .allDelivered(sendLagP99: baselineLag),
                stalled: .allDelivered(sendLagP99: stalledLag),
                slowClosedByServer: 1, slowCloseFrames4000: 1, slowStillOpen: 0, slowAnnouncedDisconnected: 1,
                healthyAnnouncedDisconnected: 0
            ).table()
        }
        let warning = "the bench fell behind"
        #expect(!table(baselineLag: 500, stalledLag: 1_000).contains(warning))
        #expect(table(baselineLag: 2_500, stalledLag: 0).contains("over 2.50 ms late: \(warning)"))
        #expect(table(baselineLag: 0, stalledLag: 1_001).contains(warning))
    }

    /// A step whose bench fell behind may fail for the bench, not the server: the table's lag
    /// column alone left that to the reader, while `relay` and `slow-consumer` warned of it.
    @Test("step warns of the steps where the bench fell behind its sends")
    func stepWarnsOfALaggingBench() {
        func step(_ rooms: Int, sendLagP99: UInt64, verdict: StepVerdict = .withinSLO) -> StepResult {
            StepResult(rooms: rooms, players: 2, window: .allDelivered(sendLagP99: sendLagP99), verdict: verdict)
        }
        func table(_ steps: [StepResult]) -> String {
            StepReport(players: 2, hertz: 30, stepSeconds: 1, sloMicros: 5_000, maxRooms: 800, steps: steps).table()
        }
        let warning = "the bench fell behind its sends"
        #expect(!table([step(100, sendLagP99: 200), step(200, sendLagP99: 1_000)]).contains(warning))
        let lagged = table([
            step(100, sendLagP99: 200), step(200, sendLagP99: 1_500),
            step(400, sendLagP99: 3_000, verdict: .p99OverSLO(p99Micros: 9_000)),
        ])
        #expect(lagged.contains("WARNING     \(warning) (lag p99 over 1.00 ms) at 200, 400 rooms"), "\(lagged)")
    }
}

extension LatencySnapshot {
    /// `count` messages sent and each delivered once, the bench's sends late by `sendLagP99` µs at p99.
    static func allDelivered(_ count: Int, sendLagP99: UInt64) -> LatencySnapshot {
        var latency = LatencySnapshot(
            histogram: .init(highestTrackableValue: 1_000), sendLag: .init(highestTrackableValue: 1_000), sent: count,
            expected: count, delivered: count)
        latency.sendLagP99 = sendLagP99
        return latency
    }
}

extension WindowResult {
    /// A second's window of five messages each delivered once, the bench's sends late by `sendLagP99` µs at p99.
    static func allDelivered(sendLagP99: UInt64) -> WindowResult {
        WindowResult(
            seconds: 1, latency: .allDelivered(5, sendLagP99: sendLagP99), server: nil, bench: nil,
            serverPeakResidentBytes: nil)
    }
}

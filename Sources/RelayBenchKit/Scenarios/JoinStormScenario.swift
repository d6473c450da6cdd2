/// `join-storm`: connections arrive at a fixed rate (open loop: on schedule, whether or not
/// earlier ones finished), each creating a room or joining one with a free place. Join
/// latency runs from the arrival's scheduled time to the server's `room_created`/`room_joined`;
/// an arrival that failed counts as later than every one that joined.
struct JoinStormScenario: Sendable {
    /// Arrivals per second.
    var rate: Double
    var seconds: Double
    /// `max_players` of each room; the storm fills rooms to exactly this.
    var players: Int
    /// How long the connections stay open after the last arrival.
    var holdSeconds = 1.0

    var arrivals: Int { Int((self.rate * self.seconds).rounded()) }

    func run(in context: BenchContext) async throws -> JoinStormReport {
        try context.ensureOpenFiles(for: self.arrivals)
        let context = context.withSourceAddresses(for: self.arrivals)
        let connector = try context.makeConnector()
        let tally = Locked(JoinTally())
        let plan = Locked(JoinStormPlan(playersPerRoom: self.players))
        let serverBefore = context.serverPID.flatMap(ProcessStats.read(pid:))
        let benchBefore = ProcessStats.current()
        context.say("\(self.arrivals) arrivals at \(Format.fixed(self.rate, 0))/s, rooms of \(self.players)")

        let startMicros = BenchClock.micros()
        connector.recorder.openWindow(at: startMicros)
        let start = ContinuousClock.now
        let stormSeconds = await withTaskGroup(of: Void.self, returning: Double.self) { group in
            for index in 0..<self.arrivals {
                let offset = Double(index) / self.rate
                try? await Task.sleep(until: start + .microseconds(Int64(offset * 1e6)), clock: .continuous)
                let arrival = plan.withLock { $0.next() }
                let dueMicros = startMicros + Int64(offset * 1e6)
                group.addTask {
                    await Self.attempt(
                        arrival, dueMicros: dueMicros, players: self.players, connector: connector, plan: plan,
                        tally: tally)
                }
            }
            // Read before the group waits for the answers (each up to the join timeout): a slow or
            // silent server must not make the bench look behind in sending.
            return (ContinuousClock.now - start).seconds
        }
        try? await Task.sleep(for: .milliseconds(Int64(self.holdSeconds * 1000)))
        let serverAfter = context.serverPID.flatMap(ProcessStats.read(pid:))
        let benchAfter = ProcessStats.current()
        let sockets = tally.withLock { $0.sockets }
        for socket in sockets { socket.leave() }
        for socket in sockets { _ = try? await socket.closed.get() }
        await connector.shutdown()

        let final = tally.value
        return JoinStormReport(
            offeredRate: self.rate, seconds: self.seconds, players: self.players, arrivals: self.arrivals,
            roomsCreated: final.created, joined: final.joined, failures: final.failures,
            achievedJoinsPerSecond: final.lastConfirmation.map {
                Double(final.created + final.joined) / max(1e-6, Double($0 - startMicros) / 1e6)
            } ?? 0,
            stormSeconds: stormSeconds, latency: connector.recorder.snapshot(),
            largestRoomSent: plan.withLock { $0.largestRoom },
            roomsOverCapacity: connector.events.roomsOverCapacity.count,
            afterJoining: ServerActions(connector.events),
            server: ProcessUsage(from: serverBefore, to: serverAfter),
            bench: ProcessUsage(from: benchBefore, to: benchAfter))
    }

    private static func attempt(
        _ arrival: JoinStormPlan.Arrival, dueMicros: Int64, players: Int, connector: BenchConnector,
        plan: Locked<JoinStormPlan>, tally: Locked<JoinTally>
    ) async {
        let greeting: Greeting =
            switch arrival {
            case .create(let room): .create(playerName: "s\(room)_0", maxPlayers: players)
            case .join(let room, let code): .join(code: code, playerName: "s\(room)_j")
            }
        // Expected, so that a failed arrival counts as later than every join, not as none.
        connector.recorder.recordSend(dueAt: dueMicros, sentAt: BenchClock.micros(), recipients: 1)
        let socket: BenchSocket
        do {
            socket = try await connector.connect(greeting)
        } catch {
            tally.withLock { $0.failed(RoomSetupFailure(error).reason) }
            return
        }
        tally.withLock { $0.sockets.append(socket) }
        do {
            let confirmation =
                switch arrival {
                case .create: try await socket.confirmation()
                case .join(_, let code): try await socket.confirmation(joining: code)
                }
            connector.recorder.recordDelivery(dueAt: dueMicros, receivedAt: confirmation.receivedAt)
            if case .create(let room) = arrival {
                plan.withLock { $0.roomOpened(room, code: confirmation.roomCode) }
            }
            tally.withLock { $0.succeeded(arrival, at: confirmation.receivedAt) }
        } catch {
            tally.withLock { $0.failed(RoomSetupFailure(error).reason) }
        }
    }
}

/// Outcomes of a join storm, filled by its arrivals.
private struct JoinTally: Sendable {
    var created = 0
    var joined = 0
    var failures: [String: Int] = [:]
    var lastConfirmation: Int64?
    var sockets: [BenchSocket] = []

    mutating func succeeded(_ arrival: JoinStormPlan.Arrival, at micros: Int64) {
        if case .create = arrival { self.created += 1 } else { self.joined += 1 }
        self.lastConfirmation = max(self.lastConfirmation ?? micros, micros)
    }

    mutating func failed(_ reason: String) { self.failures[reason, default: 0] += 1 }
}

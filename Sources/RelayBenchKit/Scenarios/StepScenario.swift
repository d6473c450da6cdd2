/// `step`: climbs the room count at a fixed rate until a step fails (``StepVerdict``: messages
/// lost, relays wrong, connections closed, server errors, p99 over the SLO) or the server refuses
/// rooms; the knee is the last step that held. Rooms of earlier steps
/// stay open, so each step adds load to a server that is already carrying the previous one.
struct StepScenario: Sendable {
    var startRooms: Int
    /// Rooms added per step; 0 doubles the count instead.
    var stepRooms: Int
    var maxRooms: Int
    var players: Int
    var hertz: Double
    var stepSeconds: Double
    var sloMicros: UInt64
    var paddingBytes = 0
    /// How long after the window the bench waits for messages still in flight (then they count as
    /// lost), at least the SLO: a relay within it is late by the objective, never lost.
    var drainSeconds = 1.0
    /// How long the players send before each step's window, unmeasured.
    var warmupSeconds = 0.0
    var setupConcurrency = 50

    /// The drain waited: ``drainSeconds``, at least the SLO.
    var drainWaited: Double { max(self.drainSeconds, Double(self.sloMicros) / 1e6) }

    /// The room counts to try, in order, up to `maxRooms`.
    var plannedSteps: [Int] {
        var steps: [Int] = []
        var rooms = max(1, self.startRooms)
        while rooms <= self.maxRooms {
            steps.append(rooms)
            rooms = self.stepRooms > 0 ? rooms + self.stepRooms : rooms * 2
        }
        return steps
    }

    func run(in context: BenchContext) async throws -> StepReport {
        let fileLimit = SystemLimits.raiseOpenFiles(toFit: self.maxRooms * self.players)
        let context = context.withSourceAddresses(for: (self.plannedSteps.last ?? 1) * self.players)
        let connector = try context.makeConnector()
        let fleet = RoomFleet(connector: connector)
        var steps: [StepResult] = []
        // What the server did up to the step before's verdict: each step answers for what came since.
        var (errorsBefore, closesBefore) = (0, 0)
        for rooms in self.plannedSteps {
            guard fileLimit.soft >= rooms * self.players + 256 else {
                steps.append(
                    StepResult(
                        rooms: rooms, players: self.players, window: nil, verdict: .setupFailed("not enough open files")
                    ))
                break
            }
            context.say("step \(rooms) rooms: setting up \(rooms - fleet.roomCount) more")
            let setup = await fleet.addRooms(
                rooms - fleet.roomCount, players: self.players, concurrency: self.setupConcurrency)
            if setup.roomsFailed > 0 {
                let reason = setup.failures.max { $0.value < $1.value }?.key ?? "unknown"
                steps.append(
                    StepResult(rooms: rooms, players: self.players, window: nil, verdict: .setupFailed(reason)))
                break
            }
            let window = await fleet.measure(
                seconds: self.stepSeconds, hertz: self.hertz, paddingBytes: self.paddingBytes,
                serverPID: context.serverPID, drainSeconds: self.drainWaited, warmupSeconds: self.warmupSeconds)
            let (errors, closes) = (connector.events.serverErrors, connector.events.serverCloses)
            let verdict = StepVerdict(
                window: window, sloMicros: self.sloMicros, serverErrors: errors - errorsBefore,
                serverCloses: (closes.count - closesBefore, closes.firstCode))  // the first is this step's: none before
            (errorsBefore, closesBefore) = (errors, closes.count)
            steps.append(StepResult(rooms: rooms, players: self.players, window: window, verdict: verdict))
            context.say(
                "step \(rooms) rooms: p99 \(Format.latencyMs(window.latency.p99)) ms, lost \(window.latency.lost): \(verdict.summary)"
            )
            if verdict != .withinSLO { break }
        }
        await fleet.closeAll()
        await connector.shutdown()
        return StepReport(
            players: self.players, hertz: self.hertz, stepSeconds: self.stepSeconds, sloMicros: self.sloMicros,
            maxRooms: self.maxRooms, steps: steps)
    }
}

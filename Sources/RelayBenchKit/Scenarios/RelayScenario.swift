/// `relay` and `fanout`: rooms × players, every player sending a state message (`player_state`, or
/// `enemy_state` with `--message`) at a fixed rate; latency from when each send was due to each
/// room-mate's receipt of its relay (`player_state_update`, `enemy_state_update`).
struct RelayScenario: Sendable {
    var name = "relay"
    var rooms: Int
    var players: Int
    var hertz: Double
    var seconds: Double
    var paddingBytes = 0
    var message = StateMessage.playerState
    var setupConcurrency = 50
    /// How long after the window the bench waits for messages still in flight (then they count as lost).
    var drainSeconds = 1.0
    /// How long the players send before the window opens, unmeasured.
    var warmupSeconds = 0.0

    func run(in context: BenchContext) async throws -> RelayReport {
        try context.ensureOpenFiles(for: self.rooms * self.players)
        let context = context.withSourceAddresses(for: self.rooms * self.players)
        let connector = try context.makeConnector()
        let fleet = RoomFleet(connector: connector)
        context.say("setting up \(self.rooms) rooms of \(self.players) players")
        let setup = await fleet.addRooms(self.rooms, players: self.players, concurrency: self.setupConcurrency)
        var window: WindowResult?
        if setup.roomsReady > 0 {
            context.say("measuring for \(Format.fixed(self.seconds, 0)) s")
            window = await fleet.measure(
                seconds: self.seconds, hertz: self.hertz, paddingBytes: self.paddingBytes, message: self.message,
                serverPID: context.serverPID,
                drainSeconds: self.drainSeconds, warmupSeconds: self.warmupSeconds, progress: context.progress)
        }
        await fleet.closeAll()
        await connector.shutdown()
        return RelayReport(
            scenario: self.name, rooms: self.rooms, players: self.players, hertz: self.hertz, seconds: self.seconds,
            paddingBytes: self.paddingBytes, message: self.message, setup: setup, window: window,
            serverErrors: connector.events.serverErrors,
            firstServerError: connector.events.firstServerError,
            roomsOverCapacity: connector.events.roomsOverCapacity.count,
            serverCloses: connector.events.serverCloses.count,
            firstServerCloseCode: connector.events.serverCloses.firstCode, drainSeconds: self.drainSeconds,
            serverPID: context.serverPID)
    }
}

/// The result of `relay` or `fanout`.
struct RelayReport: ScenarioReport, Equatable {
    var scenario: String
    var rooms, players: Int
    var hertz, seconds: Double
    var paddingBytes: Int
    var message: StateMessage
    var setup: SetupReport
    /// nil when no room could be set up.
    var window: WindowResult?
    /// `error` messages after joining (e.g. `rate_limited`).
    var serverErrors: Int
    var firstServerError: String?
    /// Rooms whose `room_info` ever showed more players than `max_players`.
    var roomsOverCapacity: Int
    /// Joined connections the server closed, in the window or out of it (warm-up, drain).
    var serverCloses = 0
    var firstServerCloseCode: UInt16?
    /// How long the bench waited after the window for messages still in flight.
    var drainSeconds = 1.0
    /// The server process whose CPU and memory were asked for (`--server-pid`).
    var serverPID: Int32?

    /// No room was set up, or nothing came back: there is no measurement, and the command fails.
    var measuredNothing: Bool { (self.window?.latency.delivered ?? 0) == 0 }
    var whyNothingWasMeasured: String { self.window == nil ? "no room was set up" : "nothing came back" }

    /// A p99 send lag above this gets a warning: the bench's own delay is then a visible part of
    /// a millisecond-scale latency.
    static let laggingSendMicros: UInt64 = 1_000

    func table() -> String {
        var lines = [
            "relay-bench \(self.scenario): \(self.rooms) rooms × \(self.players) players @ \(Format.fixed(self.hertz, 0)) Hz "
                + "for \(Format.fixed(self.seconds, 0)) s, padding \(self.paddingBytes) B"
                + (self.message == .playerState ? "" : ", sending \(self.message.rawValue)"),
            "setup       \(self.setup.players) players in \(Format.fixed(self.setup.seconds, 2)) s "
                + "(\(Format.fixed(self.setup.joinsPerSecond, 0)) connect+join/s); rooms ready \(self.setup.roomsReady), "
                + "failed \(self.setup.roomsFailed)",
        ]
        lines += Format.failureLines(self.setup.failures)
        guard let window = self.window else {
            lines.append("window      none: no room could be set up")
            return lines.joined(separator: "\n")
        }
        let serverActions = ServerActions(
            errors: self.serverErrors, firstError: self.firstServerError, closes: self.serverCloses,
            firstCloseCode: self.firstServerCloseCode)
        lines.append("messages    \(Format.messages(window.latency)), \(serverActions.summary)")
        if let firstServerError { lines.append("            first error: \(firstServerError.prefix(160))") }
        lines.append("latency ms  \(Format.percentiles(window.latency))")
        lines.append("send lag ms \(Format.sendLag(window.latency))")
        lines.append("throughput  \(Format.fixed(window.deliveriesPerSecond, 0)) deliveries/s")
        if let server = window.server {
            lines.append("server      " + Format.usage(server, microsPerDelivery: window.serverMicrosPerDelivery))
        } else if let pid = self.serverPID {
            lines.append("server      (process \(pid) could not be read at the window's end: did it exit?)")
        } else {
            lines.append("server      (pass --server-pid for its CPU and memory)")
        }
        if let bench = window.bench {
            lines.append("bench       " + Format.usage(bench, microsPerDelivery: window.benchMicrosPerDelivery))
        }
        if let steal = window.stealSeconds {
            lines.append("machine     hypervisor steal \(Format.fixed(steal * 1000, 0)) ms (all cores)")
        }
        if let warning = Self.laggingSendWarning(window.latency) { lines.append(warning) }
        lines += Self.warnings(
            window, drainSeconds: self.drainSeconds, senders: self.setup.roomsReady * self.players, hertz: self.hertz)
        // The errors are named above; closes while sending were warned of.
        lines += ServerActions(closes: self.serverCloses, firstCloseCode: self.firstServerCloseCode)
            .warnings(closesAlreadyShown: window.latency.closedWhileSending)
        if self.setup.roomsFailed > 0 {
            lines.append(
                "WARNING     \(self.setup.roomsFailed) of \(self.setup.roomsRequested) rooms failed to set up: "
                    + "the load measured is that much lighter")
        }
        if self.roomsOverCapacity > 0 {
            lines.append("WARNING     \(self.roomsOverCapacity) rooms reported more players than their max_players")
        }
        return lines.joined(separator: "\n")
    }
}

extension RelayReport {
    /// That the bench fell behind its own sends (1 % over ``laggingSendMicros`` late), if it did.
    static func laggingSendWarning(_ latency: LatencySnapshot) -> String? {
        guard latency.sendLagP99 > Self.laggingSendMicros else { return nil }
        return "WARNING     1 % of the bench's sends went out over \(Format.ms(latency.sendLagP99)) ms late: "
            + "the bench fell behind (its core is busy), and that delay is part of the latency"
    }

    /// What makes a window's figures say less than they seem to: messages still missing after the
    /// drain (past every percentile they reach), connections the server closed, and sends short of the
    /// rate asked (`senders` × `hertz`).
    static func warnings(_ window: WindowResult, drainSeconds: Double, senders: Int, hertz: Double) -> [String] {
        var lines: [String] = []
        let latency = window.latency
        if latency.lost > 0 {
            lines.append(
                "WARNING     \(latency.lost) deliveries had not arrived \(Format.fixed(drainSeconds, 1)) s after the "
                    + "window (--drain): they count as later than every one that had, and a percentile among them "
                    + "reads `lost` (past that wait)")
        }
        if latency.closedWhileSending > 0 {
            let code = latency.firstCloseCode.map { "code \($0)" } ?? "no close code"
            lines.append(
                "WARNING     the server closed \(latency.closedWhileSending) connections while they sent (first: \(code)): "
                    + "their sends stopped, so the load measured was lighter")
        }
        let scheduled = Double(senders) * hertz * window.seconds
        if senders > 0, Double(latency.sent) < scheduled * 0.99 - Double(senders) {
            lines.append(
                "WARNING     \(latency.sent) sends of the \(Int(scheduled)) the rate asks for: the load measured was lighter"
            )
        }
        return lines
    }
}

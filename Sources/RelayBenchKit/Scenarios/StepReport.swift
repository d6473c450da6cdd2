/// Whether a step held.
enum StepVerdict: Sendable, Equatable, Encodable {
    case withinSLO
    case p99OverSLO(p99Micros: UInt64)
    case messagesLost(Int)
    /// Relays the server sent twice, to the wrong player or room, or unreadably (``Format/wrongDeliveries(_:)``).
    case wrongDeliveries(String)
    /// Relays that came after a later message of their sender's: a game shows the older state
    /// over the newer one.
    case outOfOrder(Int)
    case connectionsClosed(Int, firstCode: UInt16?)
    /// `error` messages the server sent during the window (e.g. `rate_limited`).
    case serverErrors(Int)
    case nothingDelivered
    case setupFailed(String)

    /// A step holds only if the server relayed every message once, to its room-mates alone and in
    /// order, closed nothing and refused nothing, within the SLO.
    ///
    /// `serverErrors` and `serverCloses`: since the step before's verdict (a room whose members
    /// the server all closed between windows would otherwise pass unseen, having lost nothing).
    init(
        window: WindowResult, sloMicros: UInt64, serverErrors: Int = 0,
        serverCloses: (count: Int, firstCode: UInt16?) = (0, nil)
    ) {
        let latency = window.latency
        let closed = max(latency.closedWhileSending, serverCloses.count)
        if latency.delivered == 0 {
            self = .nothingDelivered
        } else if latency.lost > 0 {
            self = .messagesLost(latency.lost)
        } else if closed > 0 {
            self = .connectionsClosed(closed, firstCode: latency.firstCloseCode ?? serverCloses.firstCode)
        } else if let wrong = Format.wrongDeliveries(latency) {
            self = .wrongDeliveries(wrong)
        } else if latency.outOfOrder > 0 {
            self = .outOfOrder(latency.outOfOrder)
        } else if serverErrors > 0 {
            self = .serverErrors(serverErrors)
        } else if latency.p99 > sloMicros {
            self = .p99OverSLO(p99Micros: latency.p99)
        } else {
            self = .withinSLO
        }
    }

    var summary: String {
        switch self {
        case .withinSLO: "ok"
        case .p99OverSLO(let p99): "p99 \(Format.latencyMs(p99)) ms over the SLO"
        case .messagesLost(let lost): "\(lost) messages lost"
        case .wrongDeliveries(let wrong): wrong
        case .outOfOrder(let count): "\(count) out of order"
        case .connectionsClosed(let count, let code):
            "the server closed \(count) connections (first: \(code.map { "code \($0)" } ?? "no close code"))"
        case .serverErrors(let count): "\(count) server errors"
        case .nothingDelivered: "nothing delivered"
        case .setupFailed(let reason): "set-up failed: \(reason)"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.summary)
    }
}

/// One step of `step`.
struct StepResult: Sendable, Encodable, Equatable {
    var rooms, players: Int
    var window: WindowResult?
    var verdict: StepVerdict
}

/// The result of `step`.
struct StepReport: ScenarioReport, Equatable {
    var scenario = "step"
    var players: Int
    var hertz, stepSeconds: Double
    var sloMicros: UInt64
    var maxRooms: Int
    var steps: [StepResult]
    /// No step delivered anything.
    var measuredNothing: Bool { !self.steps.contains { ($0.window?.latency.delivered ?? 0) > 0 } }
    var whyNothingWasMeasured: String { "no step delivered anything" }
    /// The most rooms that held the SLO without loss (nil: not even the first step).
    var kneeRooms: Int?
    /// Whether a step failed after ``kneeRooms``: false when every step held, and the knee is past them.
    var kneeFound: Bool
    /// Why the climb stopped.
    var stopReason: String

    init(players: Int, hertz: Double, stepSeconds: Double, sloMicros: UInt64, maxRooms: Int, steps: [StepResult]) {
        self.players = players
        self.hertz = hertz
        self.stepSeconds = stepSeconds
        self.sloMicros = sloMicros
        self.maxRooms = maxRooms
        self.steps = steps
        self.kneeRooms = steps.last { $0.verdict == .withinSLO }?.rooms
        self.kneeFound = steps.last.map { $0.verdict != .withinSLO } ?? false
        if let last = steps.last, last.verdict != .withinSLO {
            self.stopReason = "\(last.rooms) rooms: \(last.verdict.summary)"
        } else {
            self.stopReason = "reached --max-rooms \(maxRooms) within the SLO"
        }
    }

    func table() -> String {
        var lines = [
            "relay-bench step: rooms × \(self.players) players @ \(Format.fixed(self.hertz, 0)) Hz, "
                + "\(Format.fixed(self.stepSeconds, 0)) s per step, SLO p99 ≤ \(Format.ms(self.sloMicros)) ms and no loss",
            "  rooms  players  deliveries/s   p50 ms   p99 ms  lag p99 ms    lost  server CPU  server µs/del  bench CPU  bench µs/del  verdict",
        ]
        for step in self.steps {
            let head = Format.right("\(step.rooms)", 7) + Format.right("\(step.rooms * step.players)", 9)
            guard let window = step.window else {
                lines.append(head + "  " + step.verdict.summary)
                continue
            }
            let columns = [
                Format.right(Format.fixed(window.deliveriesPerSecond, 0), 14),
                Format.right(Format.latencyMs(window.latency.p50), 9),
                Format.right(Format.latencyMs(window.latency.p99), 9),
                Format.right(Format.ms(window.latency.sendLagP99), 12),
                Format.right("\(window.latency.lost)", 8),
                Format.right(Format.fixed(window.server?.reportedCPUPercent ?? 0, 0) + "%", 12),
                Format.right(Format.fixed(window.serverMicrosPerDelivery ?? 0), 15),
                Format.right(Format.fixed(window.bench?.reportedCPUPercent ?? 0, 0) + "%", 11),
                Format.right(Format.fixed(window.benchMicrosPerDelivery ?? 0), 14),
            ]
            lines.append(head + columns.joined() + "  " + step.verdict.summary)
        }
        lines.append("knee        " + self.kneeText)
        lines.append("stopped at  \(self.stopReason)")
        if let warning = self.laggingSendWarning { lines.append(warning) }
        return lines.joined(separator: "\n")
    }

    /// The knee, or that the climb never found one (every step held: the knee is past them).
    private var kneeText: String {
        guard let rooms = self.kneeRooms else { return "none: the first step already failed" }
        let held = "\(rooms) rooms (\(rooms * self.players) players)"
        return self.kneeFound ? held : "not reached: every step held, up to \(held)"
    }

    /// The steps where the bench fell behind its own sends, as `relay` warns of its window: their
    /// latency holds the bench's delay, so a step failing there may be the bench's limit, not the
    /// server's (the lag column alone left that to the reader).
    private var laggingSendWarning: String? {
        let lagging = self.steps.filter { ($0.window?.latency.sendLagP99 ?? 0) > RelayReport.laggingSendMicros }
        guard !lagging.isEmpty else { return nil }
        return
            "WARNING     the bench fell behind its sends (lag p99 over \(Format.ms(RelayReport.laggingSendMicros)) ms) at "
            + lagging.map { "\($0.rooms)" }.joined(separator: ", ")
            + " rooms: that delay is part of those steps' latency, and a knee there may be the bench's, not the server's"
    }
}

/// The result of `slow-consumer`.
struct SlowConsumerReport: ScenarioReport, Equatable {
    var scenario = "slow-consumer"
    var rooms, players: Int
    var slowPercent, hertz, seconds: Double
    var paddingBytes: Int
    var setup: SetupReport
    var slowPlayers: Int
    /// Everyone reading.
    var baseline: WindowResult
    /// No room was set up, or the healthy players got none of what was due to them while everyone
    /// read. (With every room's readers slow, two players and half of them slow say, nothing is due
    /// to a measured player: what is measured then is the drops, not a baseline.)
    var measuredNothing: Bool {
        self.setup.roomsReady == 0 || (self.baseline.latency.expected > 0 && self.baseline.latency.delivered == 0)
    }
    var whyNothingWasMeasured: String {
        self.setup.roomsReady == 0 ? "no room was set up" : "the healthy players got none of what was due to them"
    }
    /// The slow players not reading; latencies are the others'.
    var stalled: WindowResult
    /// Slow players whose connection the server ended (seen once they read again).
    var slowClosedByServer: Int
    /// …of which received the server's close frame with code 4000 (only possible when the
    /// client reads again before the server gives up writing to it).
    var slowCloseFrames4000: Int
    /// Slow players still connected at the end (their queue never overflowed).
    var slowStillOpen: Int
    /// Slow players the server announced as `player_disconnected` to their room-mates.
    var slowAnnouncedDisconnected: Int
    /// Healthy players announced as disconnected: should be 0.
    var healthyAnnouncedDisconnected: Int
    /// Healthy players whose connection the server ended (should be 0), with the first's code.
    var healthyClosedByServer = 0
    var firstHealthyCloseCode: UInt16?
    /// `error` messages the server sent any joined player (should be 0).
    var serverErrors = 0
    var firstServerError: String?
    /// Seconds from the stall to the first and the last slow player's `player_disconnected`.
    var firstDropSeconds, lastDropSeconds: Double?
    var serverStartResidentBytes: Int?
    var serverAfterStallResidentBytes: Int?

    func table() -> String {
        var lines = [
            "relay-bench slow-consumer: \(self.rooms) rooms × \(self.players) players @ \(Format.fixed(self.hertz, 0)) Hz, "
                + "\(self.slowPlayers) slow (\(Format.fixed(self.slowPercent))%), \(Format.fixed(self.seconds, 0)) s per phase, "
                + "padding \(self.paddingBytes) B",
            "setup       \(self.setup.players) players in \(Format.fixed(self.setup.seconds, 2)) s; rooms ready "
                + "\(self.setup.roomsReady), failed \(self.setup.roomsFailed)",
        ]
        lines += Format.failureLines(self.setup.failures)
        for (name, window) in [("everyone reads ", self.baseline), ("slow stop      ", self.stalled)] {
            lines.append("\(name) \(Format.messages(window.latency))")
            lines.append("  latency ms    \(Format.percentiles(window.latency))")
            lines.append("  send lag ms   \(Format.sendLag(window.latency))")
            // The others' latency is the figure here: a bench behind its sends is part of it.
            if let warning = RelayReport.laggingSendWarning(window.latency) { lines.append(warning) }
            if let server = window.server {
                lines.append(
                    "  server        " + Format.usage(server, microsPerDelivery: window.serverMicrosPerDelivery)
                        + (window.serverPeakResidentBytes.map { ", peak RSS \(Format.megabytes($0))" } ?? ""))
            }
            if let bench = window.bench {
                lines.append("  bench         " + Format.usage(bench, microsPerDelivery: window.benchMicrosPerDelivery))
            }
        }
        lines.append(
            "slow        \(self.slowClosedByServer) of \(self.slowPlayers) disconnected by the server "
                + "(close frame 4000 received by \(self.slowCloseFrames4000); the rest saw the TCP close after their buffered frames), "
                + "\(self.slowStillOpen) still open")
        var announced =
            "announced   player_disconnected for \(self.slowAnnouncedDisconnected) slow and "
            + "\(self.healthyAnnouncedDisconnected) healthy players"
        if let first = self.firstDropSeconds, let last = self.lastDropSeconds {
            announced += ", \(Format.fixed(first, 2))–\(Format.fixed(last, 2)) s after they stopped reading"
        }
        lines.append(announced)
        lines.append(
            "healthy     \(self.healthyClosedByServer) disconnected by the server; server errors \(self.serverErrors)")
        lines += ServerActions(
            errors: self.serverErrors, firstError: self.firstServerError, closes: self.healthyClosedByServer,
            firstCloseCode: self.firstHealthyCloseCode
        ).warnings(closed: "healthy players")
        if self.slowStillOpen > 0 {
            lines.append(
                "note        \(self.slowStillOpen) slow players were never dropped: the server's kernel send buffer "
                    + "(hundreds of KB on loopback) fills before its queue does; raise --payload-bytes or --duration, "
                    + "or start the server with a smaller --outbound-queue-bytes or --outbound-queue-frames")
        }
        if let start = self.serverStartResidentBytes, let end = self.serverAfterStallResidentBytes {
            lines.append(
                "server RSS  \(Format.megabytes(start)) at start → \(Format.megabytes(end)) after the slow phase")
        }
        return lines.joined(separator: "\n")
    }
}

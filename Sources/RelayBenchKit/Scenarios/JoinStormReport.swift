/// The result of `join-storm`.
struct JoinStormReport: ScenarioReport, Equatable {
    var scenario = "join-storm"
    var offeredRate, seconds: Double
    var players, arrivals: Int
    var roomsCreated, joined: Int
    var failures: [String: Int]
    /// Successful creates and joins per second, from the first arrival to the last confirmation.
    var achievedJoinsPerSecond: Double
    /// How long sending the arrivals took (longer than `seconds` if the bench fell behind).
    var stormSeconds: Double
    /// Join latency (microseconds), from each arrival's scheduled time; failed arrivals rank
    /// past every join (`lost`).
    var latency: LatencySnapshot
    /// Most players the bench sent into one room (never above `players`).
    var largestRoomSent: Int
    /// Rooms whose `room_info` showed more players than `max_players`.
    var roomsOverCapacity: Int
    /// Errors and closes the server sent the joined connections, until the bench left.
    var afterJoining = ServerActions()
    var server: ProcessUsage?
    var bench: ProcessUsage?

    var failed: Int { self.failures.values.reduce(0, +) }
    /// No arrival created or joined a room.
    var measuredNothing: Bool { self.roomsCreated + self.joined == 0 }
    var whyNothingWasMeasured: String { "no arrival created or joined a room" }

    func table() -> String {
        var lines = [
            "relay-bench join-storm: \(Format.fixed(self.offeredRate, 0)) arrivals/s for \(Format.fixed(self.seconds, 0)) s "
                + "(\(self.arrivals) connections), rooms of \(self.players)",
            "joins       \(self.roomsCreated) rooms created + \(self.joined) joined, failed \(self.failed); "
                + "achieved \(Format.fixed(self.achievedJoinsPerSecond, 0)) joins/s of \(Format.fixed(self.offeredRate, 0)) offered "
                + "(first arrival to last confirmation, so a little under; arrivals sent over \(Format.fixed(self.stormSeconds, 2)) s)",
        ]
        lines += Format.failureLines(self.failures)
        lines.append(
            "latency ms  \(Format.percentiles(self.latency))  (scheduled arrival → room_created/room_joined; "
                + "a failed arrival is later than every join: `lost`)")
        // From each arrival's scheduled time to its connect's start.
        lines.append("start lag ms \(Format.sendLag(self.latency))")
        lines.append("after join  \(self.afterJoining.summary)")
        lines.append(
            "capacity    largest room sent \(self.largestRoomSent) of max_players \(self.players); "
                + "rooms the server reported over capacity: \(self.roomsOverCapacity)")
        if let server { lines.append("server      " + Format.usage(server, microsPerDelivery: nil)) }
        if let bench { lines.append("bench       " + Format.usage(bench, microsPerDelivery: nil)) }
        if self.latency.sendLagP99 > RelayReport.laggingSendMicros {
            lines.append(
                "WARNING     1 % of the arrivals started over \(Format.ms(self.latency.sendLagP99)) ms late: the bench "
                    + "fell behind (its core is busy), and that delay is part of the join latency")
        }
        lines += self.afterJoining.warnings()
        return lines.joined(separator: "\n")
    }
}

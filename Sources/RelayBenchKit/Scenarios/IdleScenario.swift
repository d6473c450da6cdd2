/// `idle`: opens many connections that each join a room and then stay silent (they still
/// answer the server's pings), and reports the server's memory per connection.
struct IdleScenario: Sendable {
    var connections: Int
    var players = 2
    /// How long the idle connections stay open after the last one joined.
    var holdSeconds = 5.0
    var setupConcurrency = 100
    /// Wait after the last join before reading memory, so the allocator settles.
    var settleSeconds = 1.0

    var rooms: Int { max(1, self.connections / self.players) }

    func run(in context: BenchContext) async throws -> IdleReport {
        let connections = self.rooms * self.players
        let fileLimit = try context.ensureOpenFiles(for: connections)
        let context = context.withSourceAddresses(for: connections)
        let connector = try context.makeConnector()
        let fleet = RoomFleet(connector: connector)
        let serverBefore = context.serverPID.flatMap(ProcessStats.read(pid:))
        let benchBefore = ProcessStats.current()

        context.say(
            "opening \(connections) idle connections in \(self.rooms) rooms from \(context.sourceAddresses) source address(es)"
        )
        let setup = await fleet.addRooms(self.rooms, players: self.players, concurrency: self.setupConcurrency)
        try? await Task.sleep(for: .milliseconds(Int64(self.settleSeconds * 1000)))
        let serverJoined = context.serverPID.flatMap(ProcessStats.read(pid:))
        let benchJoined = ProcessStats.current()
        // What the memory read was of: the joined connections the server has not closed since.
        let openWhenRead = max(0, setup.players - connector.events.serverCloses.count)
        context.say("\(openWhenRead) connections open; holding for \(Format.fixed(self.holdSeconds, 0)) s")
        try? await Task.sleep(for: .milliseconds(Int64(self.holdSeconds * 1000)))
        let serverHeld = context.serverPID.flatMap(ProcessStats.read(pid:))
        let closedByServer = connector.events.serverCloses
        await fleet.closeAll()
        await connector.shutdown()

        return IdleReport(
            connectionsRequested: connections, connectionsOpen: openWhenRead, setup: setup,
            closedByServer: closedByServer.count, firstCloseCode: closedByServer.firstCode,
            serverBefore: serverBefore?.residentBytes, serverJoined: serverJoined?.residentBytes,
            serverHeld: serverHeld?.residentBytes,
            serverIdle: ProcessUsage(from: serverJoined, to: serverHeld),
            benchBefore: benchBefore?.residentBytes, benchJoined: benchJoined?.residentBytes,
            openFilesLimit: fileLimit,
            serverOpenFilesLimit: context.serverPID.flatMap(ProcessStats.openFilesLimit(pid:)),
            sourceAddresses: context.sourceAddresses)
    }
}

/// The result of `idle`.
struct IdleReport: ScenarioReport, Equatable {
    var scenario = "idle"
    /// `connectionsOpen`: joined, and not closed by the server, when its memory was read.
    var connectionsRequested, connectionsOpen: Int
    /// No connection was open when the server's memory was read.
    var measuredNothing: Bool { self.connectionsOpen == 0 }
    var whyNothingWasMeasured: String { "no connection was open as the server's memory was read" }
    var setup: SetupReport
    /// Joined connections the server closed by the hold's end (an idle one it timed out, say),
    /// with the first one's close code.
    var closedByServer = 0
    var firstCloseCode: UInt16?
    /// Server RSS in bytes before connecting, once all joined, and at the end of the hold.
    var serverBefore, serverJoined, serverHeld: Int?
    /// The server's CPU while every connection sat idle.
    var serverIdle: ProcessUsage?
    /// The bench's own RSS before and once all joined.
    var benchBefore, benchJoined: Int?
    var openFilesLimit: SystemLimits.FileLimit
    var serverOpenFilesLimit: Int?
    var sourceAddresses: Int
    /// Server bytes per open connection (RSS growth from before to joined).
    var serverBytesPerConnection: Double?
    var benchBytesPerConnection: Double?

    init(
        connectionsRequested: Int, connectionsOpen: Int, setup: SetupReport, closedByServer: Int = 0,
        firstCloseCode: UInt16? = nil, serverBefore: Int?, serverJoined: Int?,
        serverHeld: Int?, serverIdle: ProcessUsage?, benchBefore: Int?, benchJoined: Int?,
        openFilesLimit: SystemLimits.FileLimit, serverOpenFilesLimit: Int?, sourceAddresses: Int
    ) {
        self.connectionsRequested = connectionsRequested
        self.connectionsOpen = connectionsOpen
        self.setup = setup
        self.closedByServer = closedByServer
        self.firstCloseCode = firstCloseCode
        self.serverBefore = serverBefore
        self.serverJoined = serverJoined
        self.serverHeld = serverHeld
        self.serverIdle = serverIdle
        self.benchBefore = benchBefore
        self.benchJoined = benchJoined
        self.openFilesLimit = openFilesLimit
        self.serverOpenFilesLimit = serverOpenFilesLimit
        self.sourceAddresses = sourceAddresses
        if let serverBefore, let serverJoined, connectionsOpen > 0 {
            self.serverBytesPerConnection = Double(serverJoined - serverBefore) / Double(connectionsOpen)
        }
        if let benchBefore, let benchJoined, setup.players > 0 {  // the bench's: every connection it set up
            self.benchBytesPerConnection = Double(benchJoined - benchBefore) / Double(setup.players)
        }
    }

    func table() -> String {
        var lines = [
            "relay-bench idle: \(self.connectionsRequested) connections in \(self.setup.roomsRequested) rooms, silent after joining",
            "setup       \(self.setup.players) open in \(Format.fixed(self.setup.seconds, 2)) s "
                + "(\(Format.fixed(self.setup.joinsPerSecond, 0)) connect+join/s); rooms failed \(self.setup.roomsFailed); "
                + "\(self.sourceAddresses) source address(es)",
        ]
        lines += Format.failureLines(self.setup.failures)
        if self.closedByServer > 0 {
            let code = self.firstCloseCode.map { "code \($0)" } ?? "no close code"
            lines.append(
                "WARNING     the server closed \(self.closedByServer) joined connections (first: \(code)): "
                    + "the memory per connection is of the \(self.connectionsOpen) still open when it was read")
        }
        if let before = self.serverBefore, let joined = self.serverJoined,
            let perConnection = self.serverBytesPerConnection
        {
            lines.append(
                "server RSS  \(Format.megabytes(before)) before → \(Format.megabytes(joined)) with all joined"
                    + (self.serverHeld.map { " → \(Format.megabytes($0)) after the hold" } ?? "")
                    + String(format: "; %.1f KB per connection", perConnection / 1024))
        } else {
            lines.append("server RSS  (pass --server-pid to measure memory per connection)")
        }
        if let idle = self.serverIdle {
            lines.append(String(format: "server CPU  %.0f%% of one core while idle", idle.cpuPercent))
        }
        if let joined = self.benchJoined, let perConnection = self.benchBytesPerConnection {
            lines.append(
                "bench RSS   \(Format.megabytes(joined))"
                    + String(format: "; %.1f KB per connection", perConnection / 1024))
        }
        var limits = "open files  bench soft \(self.openFilesLimit.soft) / hard \(self.openFilesLimit.hard)"
        if let server = self.serverOpenFilesLimit {
            limits += "; server soft \(server)"
            if server < self.connectionsRequested + 64 {
                limits += " — too low for this many connections (raise it with ulimit -n)"
            }
        }
        lines.append(limits)
        return lines.joined(separator: "\n")
    }
}

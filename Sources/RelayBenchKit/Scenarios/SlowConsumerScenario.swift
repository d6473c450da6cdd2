/// `slow-consumer`: some players stop reading their sockets (they stay open; the bench stops
/// reading them at the channel level). Two windows with the same rooms: a baseline while every
/// player reads, then one while the slow ones do not. Reports the others' latency in both, the
/// server's memory, and how the server got rid of the slow ones (close 4000).
struct SlowConsumerScenario: Sendable {
    var rooms: Int
    var players: Int
    /// Share of all players that stop reading (never a room's creator, who keeps sending).
    var slowPercent: Double
    var hertz: Double
    /// Length of each of the two windows.
    var seconds: Double
    var paddingBytes = 0
    /// The state relay every sending player sends.
    var message = StateMessage.playerState
    /// `SO_RCVBUF` of the slow players, so the server's queue rather than the kernel holds
    /// what they do not read (the kernel doubles it).
    var slowReceiveBufferBytes = 4_096
    var setupConcurrency = 50
    /// How long after the window the bench waits for messages still in flight (then they count as lost).
    var drainSeconds = 1.0
    /// How long the players send before the baseline window opens, unmeasured.
    var warmupSeconds = 0.0
    /// After the window, how long the slow players stay stalled while the bench waits for the
    /// server to drop them all.
    var dropWaitSeconds = 5.0
    /// Then how long they read again, for the dropped ones' connections to end.
    var collectSeconds = 2.0

    /// Slow players in room `index` of `rooms`: the share spread evenly over the rooms.
    static func slowPlayers(inRoom index: Int, players: Int, percent: Double) -> Int {
        let share = percent / 100
        let upToThis = Int((Double((index + 1) * players) * share).rounded(.down))
        let beforeThis = Int((Double(index * players) * share).rounded(.down))
        return min(players - 1, upToThis - beforeThis)
    }

    func run(in context: BenchContext) async throws -> SlowConsumerReport {
        try context.ensureOpenFiles(for: self.rooms * self.players)
        let context = context.withSourceAddresses(for: self.rooms * self.players)
        let connector = try context.makeConnector()
        let fleet = RoomFleet(connector: connector)
        let (players, percent) = (self.players, self.slowPercent)
        context.say("setting up \(self.rooms) rooms of \(self.players) players, \(Format.fixed(percent))% slow")
        let setup = await fleet.addRooms(
            self.rooms, players: players,
            slowPlayers: { Self.slowPlayers(inRoom: $0, players: players, percent: percent) },
            slowReceiveBufferBytes: self.slowReceiveBufferBytes, concurrency: self.setupConcurrency)
        let slow = fleet.slowMembers
        let healthyClosed = Self.closesByServer(of: fleet.allRooms.flatMap(\.healthyMembers))
        let serverStart = context.serverPID.flatMap(ProcessStats.read(pid:))

        context.say("baseline: everyone reads, \(Format.fixed(self.seconds, 0)) s")
        let baseline = await fleet.measure(
            seconds: self.seconds, hertz: self.hertz, paddingBytes: self.paddingBytes, message: self.message,
            serverPID: context.serverPID,
            sampleServerMemory: true, drainSeconds: self.drainSeconds, warmupSeconds: self.warmupSeconds,
            progress: context.progress)

        context.say("\(slow.count) players stop reading, \(Format.fixed(self.seconds, 0)) s")
        let stallStart = BenchClock.micros()
        for member in slow { member.socket.pauseReading() }
        let stalled = await fleet.measure(
            seconds: self.seconds, hertz: self.hertz, paddingBytes: self.paddingBytes, message: self.message,
            serverPID: context.serverPID,
            sampleServerMemory: true, drainSeconds: self.drainSeconds, progress: context.progress)
        let serverAfterStall = context.serverPID.flatMap(ProcessStats.read(pid:))

        let slowIDs = Self.slowPlayers(in: fleet.allRooms)
        // The load goes on (unmeasured) until the server has dropped every slow player, or the wait ends.
        let dropDeadline = ContinuousClock.now + .milliseconds(Int64(self.dropWaitSeconds * 1000))
        fleet.startSending(hertz: self.hertz, paddingBytes: self.paddingBytes, message: self.message)
        while ContinuousClock.now < dropDeadline, Self.dropped(slowIDs, connector.events) < slowIDs.count {
            try? await Task.sleep(for: .milliseconds(50))
        }
        await fleet.stopSending()
        // Reading again drains what the kernel held; a connection the server already closed
        // then ends, with its close frame if the server managed to send one.
        for member in slow { member.socket.resumeReading() }
        let outcomes = await Self.closeOutcomes(
            of: slow.map(\.socket), expectedToEnd: Self.dropped(slowIDs, connector.events),
            within: .milliseconds(Int64(self.collectSeconds * 1000)))
        let announced = connector.events.disconnectAnnouncements
        let dropSeconds = announced.filter { slowIDs.contains($0.key) }.values.map { Double($0 - stallStart) / 1e6 }
            .sorted()
        let serverActions = ServerActions(connector.events)
        let healthyClosedByServer = healthyClosed.value  // before the bench closes them
        await fleet.closeAll()
        await connector.shutdown()

        return SlowConsumerReport(
            rooms: self.rooms, players: self.players, slowPercent: self.slowPercent, hertz: self.hertz,
            seconds: self.seconds, paddingBytes: self.paddingBytes, setup: setup, slowPlayers: slow.count,
            baseline: baseline, stalled: stalled,
            slowClosedByServer: outcomes.filter { $0 != nil && $0?.closedByBench == false }.count,
            slowCloseFrames4000: outcomes.filter { $0?.serverCloseCode == 4000 }.count,
            slowStillOpen: outcomes.filter { $0 == nil }.count,
            slowAnnouncedDisconnected: dropSeconds.count,
            healthyAnnouncedDisconnected: announced.keys.filter { !slowIDs.contains($0) }.count,
            healthyClosedByServer: healthyClosedByServer.count, firstHealthyCloseCode: healthyClosedByServer.firstCode,
            serverErrors: serverActions.errors, firstServerError: serverActions.firstError,
            firstDropSeconds: dropSeconds.first, lastDropSeconds: dropSeconds.last,
            serverStartResidentBytes: serverStart?.residentBytes,
            serverAfterStallResidentBytes: serverAfterStall?.residentBytes)
    }

    /// A count of `members` whose connection the server ends, with the first one's close code.
    private static func closesByServer(of members: [BenchMember]) -> Locked<(count: Int, firstCode: UInt16?)> {
        let closed = Locked<(count: Int, firstCode: UInt16?)>((0, nil))
        for member in members {
            member.socket.closed.whenSuccess { outcome in
                guard !outcome.closedByBench else { return }
                closed.withLock { $0 = ($0.count + 1, $0.firstCode ?? outcome.serverCloseCode) }
            }
        }
        return closed
    }

    /// Slow players the server announced as disconnected so far.
    private static func dropped(_ slowIDs: Set<SocketEvents.PlayerInRoom>, _ events: SocketEvents) -> Int {
        events.disconnectAnnouncements.keys.filter { slowIDs.contains($0) }.count
    }

    /// The slow players of `rooms`, each named with their room.
    static func slowPlayers(in rooms: [BenchRoom]) -> Set<SocketEvents.PlayerInRoom> {
        Set(rooms.flatMap { room in room.members.filter(\.isSlow).map { .init(room: room.code, player: $0.playerID) } })
    }

    /// How each socket ended, or nil for one still open: waits (bounded) until `expectedToEnd` have.
    private static func closeOutcomes(
        of sockets: [BenchSocket], expectedToEnd: Int, within timeout: Duration
    ) async -> [CloseOutcome?] {
        let ended = Locked([Int: CloseOutcome]())
        for (index, socket) in sockets.enumerated() {
            socket.closed.whenSuccess { outcome in ended.withLock { $0[index] = outcome } }
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, ended.withLock({ $0.count }) < expectedToEnd {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let outcomes = ended.value
        return sockets.indices.map { outcomes[$0] }
    }
}

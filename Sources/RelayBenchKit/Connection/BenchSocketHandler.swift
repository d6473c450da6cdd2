import NIOCore
import NIOWebSocket
import WebSocketWire

/// The end of one bench connection's pipeline, after the WebSocket upgrade. Everything runs
/// on the channel's event loop, with no task or thread hop per message: sends are called by
/// the loop's ``SendSchedule`` and write a frame, receives are scanned in place and recorded.
final class BenchSocketHandler: ChannelInboundHandler, ScheduledSender {
    typealias InboundIn = ByteBuffer
    /// Where frames are written (see ``ClientFrame``); set when the upgrade adds this handler.
    var outlet: ChannelHandlerContext?

    /// One connection's sending schedule.
    private struct Sending {
        let period: TimeAmount
        var next: NIODeadline
        let recipients: Int
        let encoder: StateMessageEncoder
        /// Its ``StreamID``: the receivers tell this sending's messages from any other's.
        let stream: Int64
        var sequence = 0
    }

    private var streams = StreamSequences()

    private let greeting: Greeting
    private let recorder: LatencyRecorder
    private let events: SocketEvents
    private let joinedPromise: EventLoopPromise<JoinConfirmation>
    private let closedPromise: EventLoopPromise<CloseOutcome>
    private let watchdog: Scheduled<Void>
    private var context: ChannelHandlerContext?
    private var masks: MaskingKeys
    /// The join's outcome is known: confirmed, refused, or the connection ended first.
    private var isJoinSettled = false
    /// The server confirmed the join.
    private var hasJoined = false
    private var isClosed = false
    private var sentClose = false
    private var benchStartedClose = false
    /// The server's close frame came, or the bench refused one of its frames: nothing after it is read.
    private var stoppedReading = false
    private var serverCloseCode: UInt16?
    private var sending: Sending?
    /// The stream of this connection's latest sending, kept after it stops: a relay of it coming
    /// back here is an echo, not a delivery.
    private var ownStream: Int64?
    /// The number of this connection's room (``StreamID``), once it has started sending: a relay
    /// of a stream sent in another room is misrouted.
    private var room: Int64?
    /// The `player_id` the server confirmed this connection's join with: a room-mate's relay
    /// labelled with it would move this player in the game.
    private var ownPlayerID: [UInt8]?
    /// The code of the room the server confirmed: the players it announces are of that room.
    private var joinedRoomCode: String?
    /// Counts starts and stops of sending, so the schedule can tell a stale entry.
    private var sendingGeneration = 0
    /// This loop's schedule, made by the first connection on the loop that sends.
    private let schedule: NIOLoopBoundBox<SendSchedule?>
    private var fragments: ByteBuffer?
    /// The server's frames, cut out of what the socket reads (up to 1 MB each).
    private var frames = InboundFrameReader(maxPayloadBytes: 1 << 20)
    /// Slow consumers neither record deliveries nor report what they saw.
    var countsDeliveries = true

    /// Completes once the server confirmed the create or join (or fails).
    var joined: EventLoopFuture<JoinConfirmation> { self.joinedPromise.futureResult }
    /// Completes when the connection has closed.
    var closed: EventLoopFuture<CloseOutcome> { self.closedPromise.futureResult }

    init(
        greeting: Greeting, recorder: LatencyRecorder, events: SocketEvents, eventLoop: any EventLoop,
        watchdog: Scheduled<Void>, schedule: NIOLoopBoundBox<SendSchedule?>
    ) {
        self.schedule = schedule
        self.greeting = greeting
        self.recorder = recorder
        self.events = events
        self.joinedPromise = eventLoop.makePromise()
        self.closedPromise = eventLoop.makePromise()
        self.watchdog = watchdog
        self.masks = MaskingKeys()
    }

    // MARK: Pipeline events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Sends `create_room` or `join_room`; called once the HTTP upgrade handler has left the
    /// pipeline (it fails writes while the upgrade is in progress).
    func sendGreeting() {
        guard let context, !self.isClosed else { return }
        var buffer = ClientFrame.payloadBuffer(context.channel.allocator, capacity: 160)
        buffer.writeString(self.greeting.text)
        self.writeFrame(.text, buffer, context: context)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.stoppedReading else { return }
        let refusal = self.frames.read(self.unwrapInboundIn(data)) { frame in
            self.received(frame, context: context)
            return !self.stoppedReading
        }
        // A frame over 1 MB, or a malformed control frame: the server is broken; hang up.
        if let refusal { self.refuse(refusal, context: context) }
    }

    /// Fails the connection for a frame the server should not have sent: the bench's close, so not
    /// counted as the server's (nor as a close while sending), but as the server's error to a joined
    /// connection, or as the join's refusal.
    private func refuse(_ code: WebSocketErrorCode, context: ChannelHandlerContext) {
        self.stoppedReading = true
        self.benchStartedClose = true
        let number = UInt16(webSocketErrorCode: code)
        if !self.sentClose {
            self.sentClose = true
            var close = context.channel.allocator.buffer(capacity: 2)
            close.writeInteger(number)
            self.writeFrame(.connectionClose, close, context: context)
            context.flush()
        }
        let refusal = "the server sent a frame the bench refuses (close \(number))"
        if self.hasJoined {
            self.events.recordServerError(refusal)
        } else if !self.isJoinSettled {
            self.refuseJoin(ServerRefusal(message: refusal))
        }
        context.close(promise: nil)
    }

    /// The join's outcome: refused, with nothing more to wait for.
    private func refuseJoin(_ refusal: ServerRefusal) {
        self.isJoinSettled = true
        self.watchdog.cancel()
        self.joinedPromise.fail(refusal)
    }

    private func received(_ frame: InboundFrame, context: ChannelHandlerContext) {
        switch frame.opcode {
        case .text where frame.fin:
            self.receive(frame.unmaskedData)
        case .text:
            self.fragments = frame.unmaskedData
        case .continuation:
            guard var fragments = self.fragments else { return }
            var data = frame.unmaskedData
            fragments.writeBuffer(&data)
            self.fragments = frame.fin ? nil : fragments
            if frame.fin { self.receive(fragments) }
        case .ping:
            self.writeFrame(.pong, frame.unmaskedData, context: context)
            context.flush()
        case .connectionClose:
            self.stoppedReading = true
            var data = frame.unmaskedData
            self.serverCloseCode = data.readInteger(as: UInt16.self)
            if !self.sentClose {
                self.sentClose = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                echo.writeInteger(self.serverCloseCode ?? 1000)
                self.writeFrame(.connectionClose, echo, context: context)
                context.flush()
            }
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.channelClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.channelClosed()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Receiving

    private func receive(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            let kind = ServerMessage.kind(of: bytes)
            switch kind {
            case .playerStateUpdate, .enemyStateUpdate:
                guard self.countsDeliveries else {
                    if let stamp = ServerMessage.stateStamp(in: bytes) {
                        self.recorder.recordUnsampledRelay(dueAt: stamp.dueAt)
                    }
                    return
                }
                let now = BenchClock.micros()
                // Stamped by this process's monotonic clock before it sent: one from the future was
                // rewritten on the way (it would pass for a latency of 1 µs).
                guard let stamp = ServerMessage.stateStamp(in: bytes), stamp.dueAt <= now else {
                    return self.recorder.recordUnreadableStamp()
                }
                switch StreamID.origin(of: stamp.stream, ownStream: self.ownStream, room: self.room) {
                case .ownSending: return self.recorder.recordEcho(dueAt: stamp.dueAt)
                case .anotherRoom: return self.recorder.recordMisrouted(dueAt: stamp.dueAt)
                case .roomMate: break
                }
                // An enemy's relay names no player: not looked through for one.
                if kind == .playerStateUpdate, let own = self.ownPlayerID,
                    ServerMessage.topLevelString(forKey: "player_id", in: bytes, equals: own)
                {
                    return self.recorder.recordMislabelled(dueAt: stamp.dueAt)
                }
                self.recorder.recordDelivery(
                    dueAt: stamp.dueAt, receivedAt: now,
                    arrival: self.streams.arrival(sequence: stamp.sequence, stream: stamp.stream))
            case .roomCreated, .roomJoined:
                self.recordRoomInfo(bytes)
                guard !self.isJoinSettled, let code = ServerMessage.topLevelString(forKey: "room_id", in: bytes) else {
                    return
                }
                self.isJoinSettled = true
                self.hasJoined = true
                self.watchdog.cancel()
                let playerID = ServerMessage.topLevelString(forKey: "player_id", in: bytes)
                self.ownPlayerID = playerID.map { Array($0.utf8) }
                self.joinedRoomCode = code
                self.joinedPromise.succeed(
                    JoinConfirmation(roomCode: code, playerID: playerID ?? "", receivedAt: BenchClock.micros()))
            case .playerJoined:
                self.recordRoomInfo(bytes)
            case .playerDisconnected, .playerLeft:
                guard self.countsDeliveries, let room = self.joinedRoomCode,
                    let playerID = ServerMessage.topLevelString(forKey: "player_id", in: bytes)
                else { return }
                self.events.recordDisconnectAnnouncement(
                    of: .init(room: room, player: playerID), at: BenchClock.micros())
            case .error:
                let text = String(decoding: bytes, as: UTF8.self)
                // An error to a joined connection, or the join's refusal; one after a refusal (the
                // answer to a `leave_room`, say) is neither.
                if self.hasJoined {
                    self.events.recordServerError(text)
                } else if !self.isJoinSettled {
                    self.refuseJoin(ServerRefusal(message: ServerMessage.string(forKey: "message", in: bytes) ?? text))
                }
            case .other:
                break
            }
        }
    }

    private func recordRoomInfo(_ bytes: UnsafeRawBufferPointer) {
        guard let count = ServerMessage.integer(forKey: "player_count", in: bytes),
            let maxPlayers = ServerMessage.integer(forKey: "max_players", in: bytes),
            let code = ServerMessage.string(forKey: "room_id", in: bytes)
        else { return }
        self.events.recordRoomInfo(code: code, playerCount: Int(count), maxPlayers: Int(maxPlayers))
    }

    // MARK: Sending

    /// Sends `player_state` at `hertz` from a random phase within the first period, until stopped;
    /// sends fall due on `grid` (zero: each at its own time). `room`: the number of the
    /// connection's room in the fleet, the same for every member (``StreamID``).
    func startSending(hertz: Double, recipients: Int, encoder: StateMessageEncoder, grid: TimeAmount, room: Int64) {
        guard let context, !self.isClosed else { return }
        self.stopSending()
        let period = TimeAmount.nanoseconds(Int64(1e9 / hertz))
        let phase = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, period.nanoseconds)))
        let sending = Sending(
            period: period, next: .now() + phase, recipients: recipients, encoder: encoder,
            stream: StreamID.next(inRoom: room))
        self.sending = sending
        self.ownStream = sending.stream
        self.room = room
        let schedule = self.schedule.value ?? SendSchedule(eventLoop: context.eventLoop, grid: grid)
        self.schedule.value = schedule
        schedule.add(self, due: sending.next, generation: self.sendingGeneration)
    }

    /// Stops sending; with `end`, after the sends due before it that this loop has yet to make
    /// (``SendSchedule/sendAll(dueBefore:)``, for every connection on the loop).
    func stopSending(sendingWhatIsDueBefore end: NIODeadline? = nil) {
        if let end, self.sending != nil { self.schedule.value?.sendAll(dueBefore: end) }
        self.sending = nil
        self.sendingGeneration += 1
    }

    /// Sends the next `player_state` and returns when the one after is due; nil (sending nothing)
    /// when `generation` is not the current sending's. Called by the ``SendSchedule``.
    ///
    /// The message carries `scheduledAt`, not the time it goes out: its latency runs from when it
    /// was due, as a fixed-rate (open-loop) load generator measures (wrk2 does the same), so a
    /// bench that falls behind cannot hide the wait in it. How late the send was is recorded apart.
    func sendDue(generation: Int, scheduledAt: NIODeadline) -> NIODeadline? {
        guard generation == self.sendingGeneration, var sending = self.sending, let context else { return nil }
        sending.sequence += 1
        let dueAt = BenchClock.micros(at: scheduledAt)
        var buffer = ClientFrame.payloadBuffer(context.channel.allocator, capacity: sending.encoder.approximateSize)
        sending.encoder.write(sequence: sending.sequence, stream: sending.stream, dueAtMicros: dueAt, into: &buffer)
        self.writeFrame(.text, consume buffer, context: context)
        context.flush()
        self.recorder.recordSend(dueAt: dueAt, sentAt: BenchClock.micros(), recipients: sending.recipients)
        // Fixed rate: a late send is followed by the ones it delayed, as a real client catching up.
        sending.next = sending.next + sending.period
        self.sending = sending
        return sending.next
    }

    // MARK: Reading and closing

    /// Stops reading from the socket: the kernel buffers fill and the server's queue for this
    /// client grows, as with a stalled browser tab.
    func pauseReading() {
        self.context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    func resumeReading() {
        guard let context else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    /// Leaves the room and starts the closing handshake; the channel closes when the server
    /// answers, or after `grace`.
    func leave(grace: TimeAmount) {
        guard let context, !self.isClosed else { return }
        self.stopSending()
        if !self.sentClose {
            self.sentClose = true
            self.benchStartedClose = true
            // Not from a refused connection: the relay answers its `leave_room` with an error. A join
            // still pending may yet be confirmed: leaving frees its seat at once.
            if self.hasJoined || !self.isJoinSettled {
                var leave = context.channel.allocator.buffer(capacity: 32)
                leave.writeString(StateMessageEncoder.leaveRoom)
                self.writeFrame(.text, leave, context: context)
            }
            var close = context.channel.allocator.buffer(capacity: 2)
            close.writeInteger(UInt16(1000))
            self.writeFrame(.connectionClose, close, context: context)
            context.flush()
        }
        let channel = context.channel
        context.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
    }

    private func writeFrame(_ opcode: WebSocketOpcode, _ data: consuming ByteBuffer, context: ChannelHandlerContext) {
        // Clients must mask (RFC 6455 §5.3).
        let frame = ClientFrame.frame(consume data, opcode: opcode, maskKey: self.masks.next())
        guard let outlet = self.outlet else { preconditionFailure("the upgrade sets the outlet before any write") }
        outlet.write(NIOAny(frame), promise: nil)
    }

    /// Settles both promises; also called from the channel's close future, so a connection
    /// whose upgrade never finished (and so never reached this handler) settles them too.
    func channelClosed() {
        guard !self.isClosed else { return }
        self.isClosed = true
        if self.sending != nil, !self.benchStartedClose {
            self.recorder.recordClosedWhileSending(code: self.serverCloseCode)
        }
        if self.hasJoined, !self.benchStartedClose {
            self.events.recordServerClose(code: self.serverCloseCode)
        }
        self.stopSending()
        self.watchdog.cancel()
        if !self.isJoinSettled {
            self.isJoinSettled = true
            self.joinedPromise.fail(ClosedBeforeJoining())
        }
        self.closedPromise.succeed(
            CloseOutcome(serverCloseCode: self.serverCloseCode, closedByBench: self.benchStartedClose))
    }
}

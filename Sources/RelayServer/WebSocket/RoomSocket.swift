import Handlers
import Logging
import NIOCore
import NIOWebSocket
import Relay

/// One client's WebSocket once upgraded: a reader that rate-limits and dispatches what the
/// ``RoomSocketHandler`` hands on, and a writer task that alone writes data frames to the
/// socket, draining the connection's bounded queue. Both run on the channel's event loop.
///
/// Made on the event loop when the connection upgrades (``open(on:roomID:dispatcher:registry:settings:addressBudget:busyLoops:roomCreator:logger:)``);
/// ``run()`` is the connection's task, and returns when the connection is over. A class, so the
/// async frames that hold it for the connection's life hold one reference.
final class RoomSocket: Sendable {
    let dispatcher: MessageDispatcher
    let channel: any Channel
    let handler: NIOLoopBound<RoomSocketHandler>
    let writer: SocketWriter
    /// The executor of the channel's loop, shared with the other connections on it.
    let taskExecutor: EventLoopTaskExecutor
    let logger: Logger

    /// Messages a reader handles before it lets other work on its event loop run.
    static let messagesPerTurn = 16

    private init(
        dispatcher: MessageDispatcher, channel: any Channel, handler: NIOLoopBound<RoomSocketHandler>,
        writer: SocketWriter, taskExecutor: EventLoopTaskExecutor, logger: Logger
    ) {
        self.dispatcher = dispatcher
        self.channel = channel
        self.handler = handler
        self.writer = writer
        self.taskExecutor = taskExecutor
        self.logger = logger
    }

    /// Puts the connection's handlers into the upgraded `channel`. Call on its event loop.
    /// `addressBudget` is the byte budget of its client address (``InboundBytesPerAddress``),
    /// which the connection gives back when it ends; `busyLoops`, the caps of busy loops.
    static func open(
        on channel: any Channel, roomID: String, dispatcher: MessageDispatcher, registry: RoomRegistry,
        settings: RoomSocketHandler.Settings, addressBudget: InboundBytesPerAddress.Share? = nil,
        busyLoops: BusyLoops? = nil, roomCreator: RoomCreator? = nil, logger: Logger
    ) throws -> RoomSocket {
        let limits = registry.limits
        let connection = PlayerConnection(
            queueCapacity: limits.outboundQueueFrames, queueBytes: limits.outboundQueueBytes,
            serverBudget: registry.outboundMemory, floor: limits.outboundBytesEveryConnectionMayHold
        ) { _ in
            // The writer sends what is queued, then the close frame, if the client still reads;
            // the handler hangs up on one that stops (a slow consumer).
            channel.eventLoop.execute {
                if let handler = try? channel.pipeline.syncOperations.handler(type: RoomSocketHandler.self) {
                    handler.closeRequested()
                } else {
                    channel.close(promise: nil)
                }
            }
        }
        let session = ConnectionSession(
            connection: connection, urlRoomID: roomID, registry: registry, logger: logger, eventLoop: channel.eventLoop,
            roomCreator: roomCreator)
        let handler = RoomSocketHandler(
            dispatcher: dispatcher, session: session, settings: settings, addressBudget: addressBudget,
            busyLoop: busyLoops?.busyLoop(of: channel.eventLoop))
        do {
            // One read (up to 64 KiB) per turn of the loop, not NIO's four: what one client's read
            // costs, such as a message of 8,000 tiny objects (~5 ms), is then all that other sockets
            // on the loop wait for before their own turn.
            try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
            try channel.pipeline.syncOperations.addHandler(handler)
        } catch {
            addressBudget?.release()  // the handler, which gives it back with its reader, never started
            throw error
        }
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        let writer = SocketWriter(channel: channel, handler: bound, outlet: PreframedOutlet.install(on: channel))
        return RoomSocket(
            dispatcher: dispatcher, channel: channel, handler: bound, writer: writer,
            taskExecutor: registry.taskExecutor(for: channel.eventLoop), logger: logger)
    }

    /// Serves the connection until it is over: until the channel closes, which ends the reader.
    /// The server closes its connections by quiescing them (``RoomSocketHandler`` answers the
    /// event); if the connection's task is cancelled instead (a service of the server's group
    /// ended), it hangs up.
    func run() async {
        // Reader and writer run on the channel's own event loop: a message read there is
        // dispatched, applied by a room on the same loop and written out without a thread hop.
        await withTaskExecutorPreference(self.taskExecutor) {
            await self.serve()
        }
    }

    private func serve() async {
        let handler = self.handler.value
        let session = handler.session
        let connection = session.connection
        // `async let` rather than a task group: the writer's task comes out of this task's
        // allocator, without a group or a task of its own on the heap.
        async let written: Void = Self.writeLoop(connection: connection, writer: self.writer)
        let ageChecks = handler.settings.messageAgeChecks.map {
            Self.checkMessageAge(
                of: connection, with: $0, on: self.channel, kernelSendQueue: handler.settings.kernelSendQueue)
        }
        await self.readLoop(handler: handler)
        ageChecks?.cancel()
        handler.readerEnded()
        // The player's last states handed to the room's loop are the room's before their
        // departure is (unless the server closed the connection: then the room drops them): the
        // drop does not rely on the runtime queueing it behind them.
        await session.settleForwarded()
        if let membership = session.membership {
            await membership.room.drop(playerID: membership.playerID, connection: connection)
        }
        connection.outbound.close()
        await written
    }

    /// Closes the connection as too slow once a message has waited the age limit (a quarter more
    /// at most) in its queue, or written to the socket and not acknowledged by the client, checking
    /// at `checks`' ticks of the channel's loop. Call on the loop.
    private static func checkMessageAge(
        of connection: PlayerConnection, with checks: MessageAgeChecks, on channel: any Channel,
        kernelSendQueue: @escaping @Sendable (any Channel) -> EventLoopFuture<KernelSendQueue?>
    ) -> MessageAgeChecks.Registration {
        let marks = NIOLoopBoundBox(DeliveryMarks(), eventLoop: channel.eventLoop)
        return checks.register(on: channel.eventLoop) {
            connection.closeIfAFrameWaitedTooLong()
            let queued = connection.outbound.framesQueuedSoFar
            guard !marks.value.recordIfSettled(framesQueuedSoFar: queued) else { return }
            kernelSendQueue(channel).whenSuccess { queue in
                guard let queue,
                    marks.value.isBehind(
                        handedOver: queue.bytesHandedOver, acknowledged: queue.bytesAcknowledged,
                        framesQueuedSoFar: queued)
                else { return }
                connection.closeAsTooSlow(.waitedTooLong)
            }
        }
    }

    /// Handles the messages ``RoomSocketHandler`` handed on, until the client goes away or floods.
    private func readLoop(handler: RoomSocketHandler) async {
        let session = handler.session
        var flood = FloodWatch(threshold: session.limits.floodCloseThreshold)
        var stateFlood = FloodWatch(threshold: session.limits.stateFloodCloseThreshold)
        var sinceYield = 0
        let channel = self.channel
        // If the connection's task is cancelled (not the server's usual way of stopping: see ``run()``).
        let hangUp: @Sendable () -> Void = { channel.close(promise: nil) }
        while let message = await handler.readerQueue.next(onCancel: hangUp) {
            defer { handler.readerFinished(message) }
            // A connection the server is closing speaks for nobody (``MessageDispatcher/dispatch``):
            // what it sent before is dropped here, without waiting for large messages' turns.
            guard !session.connection.isClosing else { continue }
            // Messages forwarded to the room's loop go first, replies and all.
            await session.settleForwarded()
            // Messages already read arrive without a suspension; let the loop's writers (and
            // other connections) take a turn now and then, so a burst cannot outrun them.
            sinceYield += 1
            if sinceYield == Self.messagesPerTurn {
                sinceYield = 0
                await Task.yield()
            }
            let now = ContinuousClock.now
            let kind =
                switch message {
                case .text(let bytes): MessageBudget.kind(of: bytes)
                case .binary: MessageBudget.Kind.other  // not read: refused unseen
                }
            guard handler.budget.take(kind, now: now) else {
                // A state relay past its budget is shed without a word (see ``MessageBudget``).
                let verdict = kind == .state ? stateFlood.record(now: now) : flood.record(now: now)
                switch verdict {
                case .warn where kind == .other: session.reply(.rateLimited)
                case .warn, .quiet: break
                case .close:
                    self.logger.log(
                        level: handler.settings.floodNotices.shouldWarn() ? .notice : .debug,
                        "relay.connection.flooding")
                    // Through the queue, so the replies already queued go out before the close frame.
                    session.connection.close(code: RelayCloseCode.policyViolation)
                    return
                }
                continue
            }
            switch message {
            case .text(let bytes):
                // Not repaired: the room would get characters the client never sent.
                guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
                    session.reply(.invalidUTF8)
                    continue
                }
                let size = bytes.readableBytes
                let turn = handler.isPaced(size) ? await handler.heavyMessageTurn(bytes: size) : nil
                let valueCount = await self.dispatcher.dispatch(text, session: session)
                if let turn { handler.heavyMessageHandled(turn) }
                handler.chargeDecodedValues(valueCount)
            case .binary: session.reply(.binaryFrame)
            }
        }
    }

    /// Writes queued frames until the queue closes, then says goodbye with the close code, if any.
    private static func writeLoop(connection: PlayerConnection, writer: SocketWriter) async {
        var batch = CircularBuffer<ByteBuffer>(initialCapacity: OutboundQueue.initialCapacity)
        while true {
            let limit = writer.batchLimit
            guard await connection.outbound.nextBatch(upTo: limit.frames, bytes: limit.bytes, into: &batch) else {
                break
            }
            await writer.write(batch)
            batch.removeAll(keepingCapacity: true)
            batch.releaseBurstStorage(initialCapacity: OutboundQueue.initialCapacity)
        }
        if let code = connection.closeCode { writer.close(code: code) }
    }
}

/// Counts rate-limited messages: warns at most once a second, and asks to close the
/// connection when more than `threshold` arrive within ten seconds. Counted by whole seconds: the
/// current one and the ten before it, so that no ten seconds escape (by ten alone, the threshold
/// late in one second and again ten seconds later fell in no window together). A window that
/// started afresh every ten seconds let twice the threshold through, half each side of its start.
struct FloodWatch {
    enum Verdict { case warn, quiet, close }

    let threshold: Int
    /// Refusals in each of the last eleven seconds, at the second's number modulo eleven.
    private var perSecond = InlineArray<11, Int>(repeating: 0)
    private var countInWindow = 0
    /// The number of the latest second counted, from the first refusal's.
    private var latestSecond: Int64 = 0
    private var origin: ContinuousClock.Instant?
    private var lastWarning: ContinuousClock.Instant?

    init(threshold: Int) { self.threshold = threshold }

    mutating func record(now: ContinuousClock.Instant) -> Verdict {
        let origin = self.origin ?? now
        self.origin = origin
        let second = (now - origin).components.seconds
        if second > self.latestSecond {
            // The seconds begun since the latest one counted start at zero (all eleven, at most).
            for begun in (self.latestSecond + 1)...min(second, self.latestSecond + 11) {
                self.countInWindow -= self.perSecond[Int(begun % 11)]
                self.perSecond[Int(begun % 11)] = 0
            }
            self.latestSecond = second
        }
        self.perSecond[Int(self.latestSecond % 11)] += 1
        self.countInWindow += 1
        if self.countInWindow > self.threshold { return .close }
        if let last = self.lastWarning, now - last < .seconds(1) { return .quiet }
        self.lastWarning = now
        return .warn
    }
}

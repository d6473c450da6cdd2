import Handlers
import NIOCore
import NIOWebSocket
import Relay
import WebSocketWire

/// The WebSocket protocol of one room connection, on its channel's event loop, reading frames
/// straight from the socket's bytes (``InboundFrame``): control frames, message assembly,
/// keep-alive pings and the close handshake. Outbound, a frame that carries its header (every
/// broadcast) passes NIO's frame encoder through the ``PreframedOutlet``; the protocol's own
/// frames, and a data frame without a header, go through the encoder.
///
/// A message from a member of a room that a raw handler takes (a plain `player_state`,
/// `enemy_state` or `game_action`) is relayed as its frame arrives
/// (``MessageDispatcher/dispatchInPlace(_:session:)``) when the room lives on this loop; on
/// another loop, a `player_state` is read here and handed to the room's loop, and the other two
/// go to the reader. Every other message goes to the
/// connection's reader (``RoomSocket``) through the ``ReaderQueue``, in order: nothing is handled
/// in place while the reader still has messages, the reader waits for what was handed to the
/// room's loop, and reading from the socket pauses while the reader has many. Data frames reach
/// the socket only through the connection's writer (``SocketWriter``), which asks here whether
/// the channel is writable and whether a close frame has gone out; the protocol's own frames
/// (pong, ping, close) are written here.
final class RoomSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Unsent bytes a room socket's kernel may hold (`TCP_NOTSENT_LOWAT`, set as the connection
    /// upgrades): a slow client's backlog then waits in its outbound queue, where
    /// `--outbound-queue-bytes` and `--outbound-queue-frames` count it, while a client that keeps
    /// up never comes near it (about a second of a busy room's traffic). Uncapped, on a fast path
    /// the kernel took megabytes first: a stalled client fell 25–60 s behind before its 4000, and
    /// pinned that much kernel memory beside its queue.
    static let kernelUnsentBytes = 64 * 1024

    /// Timings and sizes of the protocol.
    struct Settings: Sendable {
        /// The largest message, fragments together (and so the largest frame).
        var maxMessageBytes: Int
        /// How often the server pings; a client that has not answered the last ping by the
        /// next one is closed with 1001.
        var pingInterval: TimeAmount
        /// The server's, for its connections closed for flooding: one line each would let a
        /// client write the log at the rate it can open connections.
        var floodNotices = WarningThrottle()
        /// The server's, for its connections closed for falling behind (4000), as for flooding.
        var slowClientNotices = WarningThrottle()
        /// The server's, for its connections closed for leaving a ping unanswered (1001), as for flooding.
        var pingTimeoutNotices = WarningThrottle()
        /// The server's, for its connections closed because all slow clients' queues together
        /// were full (``RelayLimits/maxOutboundBytesPerServer``).
        var outboundBudgetWarnings = WarningThrottle()
        /// What the kernel still holds of a connection's output (a test scripts it).
        var kernelSendQueue: @Sendable (any Channel) -> EventLoopFuture<KernelSendQueue?> = KernelSendQueue.of
        /// The server's, for its room sockets' age checks; nil for no age limit.
        var messageAgeChecks: MessageAgeChecks?
    }

    let session: ConnectionSession
    let readerQueue = ReaderQueue()
    /// The connection's rate limits, whichever of handler and reader handles a message.
    var budget: MessageBudget
    /// What its reads cost, and who pays: its own byte budget, its address's, its loop's cap.
    private var charges: InboundCharges
    /// Bytes read while the address was in debt (a read asked for before it was), or while
    /// reading pauses (NIO reads all the kernel holds once the client hangs up), handled once the
    /// debt is repaid: a read already asked for by each of many connections would otherwise buy
    /// their work all at once.
    private var bytesOnHold: ByteBuffer?
    /// Set while reading pauses for a debt (``charges``: its own, its address's, the loop's cap):
    /// ends when it is repaid.
    private var readPause: Scheduled<Void>?
    /// The ticket of the reader's large message while it waits for its turn (``HeavyMessageTurns``).
    private var waitingTurnTicket: Int?
    /// Messages handed to the reader that it has not finished.
    private(set) var messagesWithReader = 0
    /// The bytes of those messages (``ReaderMessage/heldBytes``).
    private(set) var bytesWithReader = 0
    /// Whole frames were left uncut in ``frames`` because the reader was full (``readerIsFull``):
    /// one read of tiny frames would otherwise queue thousands (64 KiB of empty ones, ~10,900,
    /// ~1 MB). Cut as the reader catches up.
    private var framesWaitForReader = false
    /// A close frame has gone out: no data frame may follow it.
    private(set) var closeSent = false
    /// The reader has stopped (the connection is ending): what the client sends now is discarded.
    private var readerStopped = false

    private let dispatcher: MessageDispatcher
    let settings: Settings
    private var context: ChannelHandlerContext?
    /// Cuts frames out of what the socket reads.
    private(set) var frames: InboundFrameReader
    /// The connection is ending without another word from the client (``fail(_:)``, the client's
    /// own close frame answered, or a frame refused while a close of the server's own waits,
    /// ``refuse(_:)``): what it sends now is read only to be discarded.
    private var inputRefused = false
    /// Bytes read and discarded since then (``discardedBytesLimit``).
    private var discardedBytes = 0
    /// Most bytes read and discarded once input is refused before the server hangs up regardless
    /// (the kernel then resets the connection, and a backlog still queued is lost): enough for
    /// the rest of a message over the cap a client was sending, not a flood.
    static let discardedBytesLimit = 1 << 20
    /// The fragments so far of a message sent in several frames; `pinged`: a ping went out since
    /// it began. One still unfinished at the next ping closes the connection (1008): answering
    /// the pings, a client could otherwise keep up to a message's worth of the server's memory
    /// for as long as it liked (64 KiB by default, several times an idle connection's cost).
    /// `length`: the payload's so far; `bytes` holds it for a text message only (a binary one is
    /// refused whole, so nothing of it is kept).
    private var fragments: (bytes: ByteBuffer, length: Int, isText: Bool, frames: Int, pinged: Bool)?
    /// Most frames one message may come in; more close the connection as a too-large message
    /// does (1009). The message budgets count whole messages: an empty continuation frame costs
    /// its 6 bytes and 256 more of the byte budget (``InboundCharges/chargeRead(_:frames:framesBesideMessages:)``),
    /// and a message needs no more frames than this. Browsers send every message in one frame.
    static let maxFramesPerMessage = 128
    /// The payload of the last ping, while its pong has not come.
    private var pingPayload: UInt64?
    /// Whether this connection's overflow (4000) is logged.
    private var overflowLogged = false
    /// The payload of the latest ping not yet answered: pongs go out when a read is done and
    /// the channel takes writes, and only for the latest ping (RFC 6455 5.5.3), so a client
    /// cannot queue up pongs, nor buy a write with each ping.
    private var pongOwed: ByteBuffer?
    private var pinger: RepeatedTask?
    /// A `read` held back (``mustHoldReads``): bytes in debt, or a reader with many messages.
    private var readHeld = false
    /// The reader charged a message's decoded values to the connection's own budget while reading
    /// paused: the pause's end looks at that debt too.
    private var ownDebtSincePause = false
    /// A `read` was held back since the last ping went out: its pong may still wait unread.
    private var readsHeldSincePing = false
    private var writableWaiter: UnsafeContinuation<Void, Never>?
    /// The server asked to close the connection, and its queue is going out before the close frame.
    private var closingDrain: ClosingDrain?
    private var closingCheck: Scheduled<Void>?
    /// The close frame was sent to be followed by a hang-up, not an answer (a failed connection).
    private var hangsUpAfterClose = false
    /// The close frame has been written to the socket: the client's grace to answer it runs.
    private var closeFrameWritten = false
    /// The client answered the server's close frame before it was written.
    private var closeAnswered = false
    /// The client's TCP input has ended (it closed its half, or the whole connection).
    private var inputEnded = false
    /// When the server first set out to close the connection: its drain's limit counts from then.
    private var closeStartedAt: NIODeadline?
    /// The close frame has been written; the kernel may still hold it (``CloseFrameDelivery``).
    private var closeFrameDelivery: CloseFrameDelivery?

    init(
        dispatcher: MessageDispatcher, session: ConnectionSession, settings: Settings,
        addressBudget: InboundBytesPerAddress.Share? = nil, busyLoop: BusyLoop? = nil,
        budgetClock: BudgetClock = .system
    ) {
        self.dispatcher = dispatcher
        self.session = session
        self.settings = settings
        self.charges = InboundCharges(
            limits: session.limits, addressBudget: addressBudget, busyLoop: busyLoop, clock: budgetClock)
        self.frames = InboundFrameReader(maxPayloadBytes: settings.maxMessageBytes)
        self.budget = MessageBudget(limits: session.limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.charges.opened()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let interval = self.settings.pingInterval
        self.pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            handler.value.ping()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.stop()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        guard !self.inputRefused else { return self.discard(bytes.readableBytes, context: context) }
        if self.bytesOnHold != nil || self.readPause != nil || self.charges.isAddressInDebt {
            self.bytesOnHold.setOrWriteBuffer(&bytes)
            self.pauseReadingIfInDebt(context: context)
            self.handleHeldBytesUnlessPaused(context: context)  // the debt may have ended since
            return
        }
        self.handle(bytes, context: context)
    }

    /// Handles the bytes on hold, unless a pause is set, whose end comes back here: the debt
    /// looked at to hold them may be repaid by the time the pause is timed, and bytes held with
    /// no pause would wait, and take every later read with them, for as long as the connection lives.
    @discardableResult
    private func handleHeldBytesUnlessPaused(context: ChannelHandlerContext) -> Bool {
        guard self.readPause == nil, !self.inputRefused else { return false }
        if let held = self.bytesOnHold.take() {
            self.handle(held, context: context)
            return true
        }
        guard self.framesWaitForReader, !self.readerIsFull else { return false }
        self.framesWaitForReader = false
        self.handle(ByteBuffer(), context: context)  // cuts what ``frames`` kept
        return true
    }

    /// Cuts what was read into frames and handles them, and charges it to the budgets.
    private func handle(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        var frameCount = 0
        var framesBesideMessages = 0  // control frames and fragments: no message's budget pays for them
        // A continuation past what its message has left is refused at its header (1009), before
        // its payload is read: else a frame of the cap's size was buffered first.
        let maxMessageBytes = self.settings.maxMessageBytes
        let refusal = self.frames.read(
            bytes,
            mayCut: {
                // Once the input has ended, no read is held back to make room: what came is cut
                // (a few messages' worth, ``handleWhatWasHeldAtHangUp(context:)``); once closing,
                // data frames are discarded as they are cut, and the client's close answered.
                guard self.readerIsFull, !self.inputEnded, !self.closeSent else { return true }
                self.framesWaitForReader = true
                self.readsHeldSincePing = true  // a pong may wait uncut
                return false
            },
            continuationRoom: {
                // Once closing, data frames are discarded whatever their length.
                self.closeSent || self.readerStopped
                    ? nil : self.fragments.map { maxMessageBytes - $0.length }
            },
            headerRefusal: { self.headerRefusal(firstByte: $0, secondByte: $1) }
        ) { frame in
            frameCount += 1
            if !frame.fin || frame.opcode.isControlOpcode { framesBesideMessages += 1 }
            self.received(frame)
            return !self.inputRefused
        }
        self.charges.chargeRead(bytes.readableBytes, frames: frameCount, framesBesideMessages: framesBesideMessages)
        if let refusal { self.refuse(refusal) }
        self.pauseReadingIfInDebt(context: context)
    }

    /// A frame broken by its header alone (1002), judged before its length: one that is broken
    /// and over the cap too is named for the break, as README says.
    private func headerRefusal(firstByte: UInt8, secondByte: UInt8) -> WebSocketErrorCode? {
        guard !InboundFrame.hasReservedBits(firstByte: firstByte) else { return .protocolError }  // no extensions
        guard secondByte & 0x80 != 0 else { return .protocolError }  // a client masks every frame (RFC 6455 §5.1)
        // Once closing, data frames are discarded whatever they continue.
        let isClosing = self.closeSent || self.readerStopped
        switch firstByte & 0x0F {
        case 0x0:  // a continuation, with nothing to continue
            return isClosing || self.fragments != nil ? nil : .protocolError
        case 0x1, 0x2:  // a new message inside a fragmented one
            return isClosing || self.fragments == nil ? nil : .protocolError
        case 0x8, 0x9, 0xA:
            return nil
        default:
            return .protocolError  // a reserved opcode
        }
    }

    private func received(_ frame: InboundFrame) {
        switch frame.opcode {
        case .text, .binary, .continuation:
            self.received(dataFrame: frame)
        case .ping:
            // Answered once the read is done (``channelReadComplete(context:)``): one pong for a
            // batch of pings, not a write each. A ping costs a message from the connection's
            // budget; one past it goes unanswered. Also while the client has yet to answer the
            // server's close frame (RFC 6455 §5.5.2: unless a close frame was received; §5.5.1's
            // "no further data" after a close is about data frames, §5.6).
            guard self.budget.take(.other) else { return }
            self.pongOwed = frame.unmaskedData
        case .pong:
            // Read in place: a client may send pongs unasked (RFC 6455 §5.5.3), at no message's
            // cost (its bytes, and 256 more, are charged to the byte budget with the read's).
            guard let expected = self.pingPayload else { return }
            let answersThePing = frame.withUnmaskedPayload { payload in
                payload.count >= 8 && payload.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == expected
            }
            if answersThePing { self.pingPayload = nil }
        case .connectionClose:
            self.receivedClose(frame)
        default:
            self.fail(.protocolError)  // a reserved opcode: refused at its header already
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.payPong()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // TCP input ended without a close frame (1006): the player drops now, not at the next
            // ping. What was held back is handled first (a player's last messages, a `leave_room`)
            // unless the connection was past its own share, or more than a few messages were held:
            // handled at once, those would let a client dodge its budgets by hanging up (32
            // flooders hanging up together held every other room 0.15 s), or queue thousands of
            // messages with one read.
            self.inputEnded = true
            self.handleWhatWasHeldAtHangUp(context: context)
            // A close frame waiting behind a backlog (the answer to the client's close, or the
            // server's own) goes out first, to a client that may still read: the drain hangs up
            // on one that does not, and the socket closes once the frame is written.
            guard self.closingDrain != nil else {
                context.close(promise: nil)
                return
            }
            self.pinger?.cancel()  // nothing can answer a ping now
            self.pinger = nil
            self.endReading()
            return
        }
        if event is ChannelShouldQuiesceEvent {
            // The server is stopping: what is queued goes out, then the writer says goodbye.
            self.session.connection.close(code: 1001)  // going away
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The bytes held back and the frames left for the reader, at the client's hang-up: handled
    /// (all of them: no read is held to make room now) unless the connection was past its own
    /// share, or more than a few messages were held (for a debt, or a full reader: handed on
    /// whole, a read of tiny frames would queue thousands of messages). Held bytes are judged
    /// by their size, not by the debt now: a pause outlasts the debt it was timed for.
    private func handleWhatWasHeldAtHangUp(context: ChannelHandlerContext) {
        let framesWaited = self.framesWaitForReader
        self.framesWaitForReader = false
        guard self.bytesOnHold != nil || framesWaited, !self.inputRefused else { return }
        let held = self.bytesOnHold?.readableBytes ?? 0
        let count = held + (framesWaited ? self.frames.unparsed?.readableBytes ?? 0 : 0)
        if self.charges.isPastOwnShare() || count > Self.bytesHandledAtHangUp {
            self.dropHeldBytes()  // what waited uncut for the reader was charged with its read
            self.frames.discardUnparsed()
            self.session.logger.debug("relay.input.dropped_at_hang_up", metadata: ["bytes": "\(count)"])
        } else {
            self.handle(self.bytesOnHold.take() ?? ByteBuffer(), context: context)
        }
    }

    /// Drops the bytes on hold, charged as a discarded read is: whoever ends the connection, a
    /// client that filled them buys no reading it did not pay for.
    private func dropHeldBytes() {
        guard let held = self.bytesOnHold.take() else { return }
        self.charges.chargeRead(held.readableBytes)
    }

    func read(context: ChannelHandlerContext) {
        if self.mustHoldReads {
            self.readHeld = true
            self.readsHeldSincePing = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.closingDrain?.clientTookBytes()
            self.payPong()
            self.resumeWriter()
        }
        context.fireChannelWritabilityChanged()
    }
}

// MARK: Messages

extension RoomSocketHandler {
    private func received(dataFrame frame: InboundFrame) {
        guard !self.closeSent, !self.readerStopped else { return }  // closing: the rest is discarded
        if frame.opcode == .continuation {
            guard var message = self.fragments else { return self.refuse(.protocolError) }  // see headerRefusal
            self.fragments = nil  // keeps `message.bytes` uniquely referenced while it grows
            message.frames += 1
            message.length += frame.data.readableBytes
            guard message.length <= self.settings.maxMessageBytes, message.frames <= Self.maxFramesPerMessage
            else { return self.refuse(.messageTooLarge) }
            if message.isText {
                var payload = frame.unmaskedData
                message.bytes.writeBuffer(&payload)
            }
            if frame.fin {
                self.handToReader(message.isText ? .text(message.bytes) : .binary)
            } else {
                self.fragments = message
            }
            return
        }
        guard self.fragments == nil else { return self.refuse(.protocolError) }  // a message inside a message
        guard frame.fin else {
            let isText = frame.opcode == .text
            self.fragments = (isText ? frame.unmaskedData : ByteBuffer(), frame.data.readableBytes, isText, 1, false)
            return
        }
        if frame.opcode == .text, self.messagesWithReader == 0, self.session.membership != nil,
            frame.withUnmaskedPayload({ self.handleInPlace($0) })
        {
            return
        }
        self.handToReader(frame.opcode == .text ? .text(frame.unmaskedData) : .binary)
    }

    /// Hands a message to its raw handler here, if one takes it and its budget allows; else the
    /// reader handles it (and applies the budget's verdict).
    private func handleInPlace(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let kind = MessageBudget.kind(of: bytes)
        guard self.budget.take(kind) else { return false }
        if self.dispatcher.dispatchInPlace(bytes, session: self.session) { return true }
        self.budget.giveBack(kind)  // the reader takes its own
        return false
    }

    private func handToReader(_ message: ReaderMessage) {
        self.messagesWithReader += 1
        self.bytesWithReader += message.heldBytes
        self.readerQueue.append(message)
    }

    /// What a client hanging up while its reads are held still has handled, if no more than this
    /// is held: its last few messages (the game's are ~200 bytes), not a flood's worth. More is
    /// dropped whole (a player streaming its state while held for a second or more, too).
    static let bytesHandledAtHangUp = 4 * 1024

    /// The reader reads no more (the client flooded; the connection is ending): what waits for it
    /// is dropped, and reading resumes so the client's answer to the close frame gets in. The
    /// address's budget, charged until now for what the reader decoded, is given back.
    func readerEnded() {
        self.charges.readerFinished()
        self.readerStopped = true
        self.readerQueue.discardAll()
        (self.messagesWithReader, self.bytesWithReader) = (0, 0)
        // Frames left for it are cut now (its data discarded), so that the client's close and pings are read.
        if self.framesWaitForReader, let context = self.context, self.handleHeldBytesUnlessPaused(context: context) {
            self.payPong()
        }
        self.releaseHeldRead()
    }

    /// Charges the work of a message the reader decoded into `valueCount` JSON values to the
    /// connection's byte budget (``RelayLimits/bytesCharged(forDecodedValues:)``), and pauses
    /// reading if that puts it in debt.
    func chargeDecodedValues(_ valueCount: Int) {
        let charge = self.session.limits.bytesCharged(forDecodedValues: valueCount)
        guard charge > 0 else { return }
        self.charges.chargeDecoding(bytes: charge)  // also once the connection has ended
        guard let context = self.context else { return }
        if self.readPause != nil { self.ownDebtSincePause = true }
        self.pauseReadingIfInDebt(context: context)
    }

    /// The reader is done with `message`: handling in place may resume once it has none, and
    /// reading from the socket once it is no longer full (``readerIsFull``).
    func readerFinished(_ message: ReaderMessage) {
        self.messagesWithReader -= 1
        self.bytesWithReader -= message.heldBytes
        if self.framesWaitForReader, let context = self.context, self.handleHeldBytesUnlessPaused(context: context) {
            self.payPong()  // as a read's end would
        }
        self.releaseHeldRead()
    }

    /// The (still running) reader has ``ReaderQueue/highWater`` messages, or
    /// ``ReaderQueue/highWaterBytes`` in them.
    private var readerIsFull: Bool {
        (self.messagesWithReader >= ReaderQueue.highWater || self.bytesWithReader >= ReaderQueue.highWaterBytes)
            && !self.readerStopped
    }

    /// Reading from the socket pauses while the client's bytes are in debt, or while the reader is full.
    private var mustHoldReads: Bool {
        guard !self.inputRefused else { return false }  // read to the client's hang-up, to discard
        return self.readPause != nil || self.readerIsFull
    }

    /// Whether a message of `bytes` takes turns with the other large ones on the connection's loop
    /// (``HeavyMessagePacer``): ``heavyMessageTurn(bytes:)`` before it is decoded, and
    /// ``heavyMessageHandled(_:)`` after.
    func isPaced(_ bytes: Int) -> Bool { self.charges.isPaced(bytes) }

    /// Waits for the turn of a large message of `bytes` on the connection's loop; nil if nothing is
    /// paced there, or the server is closing the connection.
    func heavyMessageTurn(bytes: Int) async -> HeavyMessagePacer.Turn? {
        // Closed while the reader was suspended since it last looked (settling forwarded
        // messages): its message will not be handled, so it does not wait for a turn.
        guard let (turns, rank) = self.charges.heavyMessageTurns, !self.session.connection.isClosing else {
            return nil
        }
        defer { self.waitingTurnTicket = nil }
        return await turns.turn(rank: rank, bytes: bytes) { self.waitingTurnTicket = $0 }
    }

    /// The reader handled the large message of `turn`.
    func heavyMessageHandled(_ turn: HeavyMessagePacer.Turn) { self.charges.heavyMessageHandled(turn) }

    /// Pauses reading until the bytes read so far are paid for, by this connection, by its
    /// address and under its busy loop's cap, if they are not. `ownDebt` false leaves the
    /// connection's own budget out: a pause timed for its debt ends when it is repaid, unless
    /// more was charged to it meanwhile (``ownDebtSincePause``).
    private func pauseReadingIfInDebt(context: ChannelHandlerContext, ownDebt: Bool = true) {
        guard self.readPause == nil else { return }
        let wait = self.charges.readPause(includingOwnDebt: ownDebt, logger: self.session.logger)
        guard wait > .zero else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.readPause = context.eventLoop.scheduleTask(in: TimeAmount(wait)) {
            let handler = handler.value
            handler.readPause = nil
            if let context = handler.context {
                // The address's other connections may have read since, and the loop's cap may
                // have been cut: the shared debts are looked at again, and the connection's own
                // if the reader charged a message's values to it during the pause.
                let ownDebt = handler.ownDebtSincePause
                handler.ownDebtSincePause = false
                handler.pauseReadingIfInDebt(context: context, ownDebt: ownDebt)
                if handler.handleHeldBytesUnlessPaused(context: context) {
                    handler.payPong()  // as a read's end would
                }
            }
            handler.releaseHeldRead()
        }
    }

    private func releaseHeldRead() {
        guard self.readHeld, !self.mustHoldReads else { return }
        self.readHeld = false
        self.context?.read()
    }
}

// MARK: Keep-alive and closing

extension RoomSocketHandler {
    private func ping() {
        // Nor while the server's close drains what is queued: the drain bounds the connection's
        // life itself, and the client's pong waits behind the backlog it reads (failing it then
        // replaced the close being sent, 4001 or 1008, with 1001, and dropped the backlog).
        guard let context = self.context, !self.serverIsClosing else { return }
        if let pinged = self.fragments?.pinged {
            // Unless reading was held meanwhile: its last fragment may be waiting unread.
            guard !pinged || self.readsHeldSincePing else { return self.fail(.policyViolation) }
            self.fragments?.pinged = true
        }
        if self.pingPayload != nil {
            // While the server held reads (bytes in debt, a busy reader), the pong may be waiting
            // unread: the client has missed it only once reading has gone a whole interval unheld.
            guard self.readsHeldSincePing else {
                self.session.logger.log(
                    level: self.settings.pingTimeoutNotices.shouldWarn() ? .notice : .debug,
                    "relay.connection.ping_unanswered")
                return self.fail(.goingAway)
            }
            self.readsHeldSincePing = self.readHeld
            return
        }
        let payload = UInt64.random(in: .min ... .max)
        self.pingPayload = payload
        self.readsHeldSincePing = self.readHeld
        var data = context.channel.allocator.buffer(capacity: 8)
        data.writeInteger(payload)
        context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: data)), promise: nil)
    }

    /// Answers the latest ping, if one is owed and the channel takes writes, unless the server's
    /// close frame is still on its way to the client (``CloseFrameDelivery``).
    private func payPong() {
        // Called after every read: the rare owed pong first, so that a read owing none does not
        // pay for the channel's `isWritable` (1.2 % of the server's samples at 500 rooms).
        guard let payload = self.pongOwed, self.closeFrameDelivery?.hasDelivered != false,
            let context = self.context, context.channel.isWritable
        else { return }
        self.pongOwed = nil
        context.writeAndFlush(
            self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
    }

    /// Answers a close frame: the client's goodbye (echoed, then the connection ends) or its
    /// answer to the server's.
    private func receivedClose(_ frame: InboundFrame) {
        guard !self.closeSent else {
            // The client's answer to the server's close frame: the connection ends, once that
            // frame has left (closing before would drop it: 1006 for the client). Nothing after
            // it is read, nor a ping in the same read answered (RFC 6455 §5.5.2).
            self.inputRefused = true
            self.pongOwed = nil
            guard self.closeFrameWritten || self.hangsUpAfterClose else {
                self.closeAnswered = true
                return
            }
            self.context?.close(promise: nil)
            return
        }
        var payload = frame.unmaskedData
        let code = payload.readWebSocketErrorCode()
        let answer: WebSocketErrorCode =
            switch (payload.readableBytes, code) {
            case (0, nil): .normalClosure  // no code at all
            case (_, nil): .protocolError  // one byte
            // Codes below 3000 that NIO does not name are reserved or not for the wire, except
            // those IANA registered since (service restart, try again later, bad gateway).
            case (_, .unknown(let number)?) where !(1012...1014).contains(number) && (number < 3000 || number > 4999):
                .protocolError
            // A reason that is not UTF-8 fails the connection with 1007 (RFC 6455 §5.5.1, §8.1).
            case _ where String(validating: payload.readableBytesView, as: UTF8.self) == nil:
                .dataInconsistentWithMessage
            default: .normalClosure
            }
        self.sendClose(answer, thenHangUp: true)
    }

    /// Refuses what the client sends with `code` (``fail(_:)``), unless a close of the server's own
    /// is on its way: sent, or asked for (4001, 4000, 1008, 1001) and waiting behind the backlog.
    /// Then the refused frame only ends the reading (what follows it cannot be read), and that
    /// close stays, with what is queued before it: a 1009 or 1002 would take its place, and drop
    /// the replies.
    private func refuse(_ code: WebSocketErrorCode) {
        guard self.serverIsClosing else { return self.fail(code) }
        self.inputRefused = true
        self.fragments = nil
    }

    /// The server has sent its close frame, or asked for one: heard here (draining the backlog),
    /// or on another loop and not yet heard (the connection's close code is set at once); or the
    /// reader has stopped (a flood, an overflow: a close follows).
    private var serverIsClosing: Bool {
        self.closeSent || self.readerStopped || self.closingDrain != nil || self.session.connection.closeCode != nil
    }

    /// Fails the connection: a close frame with `code`, then the socket closes.
    private func fail(_ code: WebSocketErrorCode) {
        self.inputRefused = true
        self.sendClose(code, thenHangUp: true)
    }

    /// Drops `count` bytes read after the connection was failed or said goodbye, charged to its
    /// address and its loop's cap as any read is (a failed connection is no way around them);
    /// past ``discardedBytesLimit``, hangs up.
    private func discard(_ count: Int, context: ChannelHandlerContext) {
        self.charges.chargeRead(count)
        self.discardedBytes += count
        if self.discardedBytes > Self.discardedBytesLimit { context.close(promise: nil) }
    }

    /// Sends a close frame once. With `thenHangUp`, the reader ends at once (the player leaves),
    /// the server's half of the connection ends once the frame is written, and the socket closes
    /// when the client's does, or after the grace period. Without, the client is expected to answer it
    /// within the grace period from when the frame is written (on Linux, delivered:
    /// ``CloseFrameDelivery``); until then the drain (``ClosingDrain``) watches that the client
    /// still takes bytes.
    func sendClose(_ code: WebSocketErrorCode, thenHangUp: Bool = false) {
        guard let context = self.context, !self.closeSent else { return }
        self.closeSent = true
        if self.closeStartedAt == nil { self.closeStartedAt = context.eventLoop.now }
        self.fragments = nil
        if let pong = self.pongOwed {
            // A ping read before the close, in the same read, is answered first (RFC 6455 §5.5.2).
            self.pongOwed = nil
            context.write(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: pong)), promise: nil)
        }
        var payload = context.channel.allocator.buffer(capacity: 2)
        payload.write(webSocketErrorCode: code)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(
            self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: written)
        let channel = context.channel
        if thenHangUp {
            self.hangsUpAfterClose = true
            self.inputRefused = true
            self.dropHeldBytes()
            // The player leaves the room now, not when the client hangs up (up to the grace period
            // for one that never does).
            self.endReading()
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { result in
                // Closing with the client's bytes unread would have the kernel reset the connection,
                // and a reset may discard the close frame before the client reads it (1006, not 1009
                // or 1002; RFC 6455 §7.1.1): the server's half ends now, and the socket closes once
                // the client's does (``userInboundEventTriggered(context:event:)``), what it sends
                // until then discarded, or after the grace period.
                guard case .success = result else { return channel.close(promise: nil) }
                channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
                handler.value.closeFrameHasBeenWritten()
            }
            self.releaseHeldRead()
            // Behind a backlog the frame waits while the client still takes bytes (a slow reader
            // hung up after a second lost it: 1006); one that takes none is hung up. A drain the
            // server's own close started goes on, its limit from its start.
            if !self.closeFrameWritten, self.closingDrain == nil, context.channel.isActive {
                self.startClosingDrain(context)
            }
        } else {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in handler.value.closeFrameHasBeenWritten() }
            self.closeRequested()  // the writer may get here before the request does
        }
    }

    private var closeGrace: TimeAmount { TimeAmount(self.session.limits.closeGracePeriod) }

    /// The close frame has left for the socket: the client has the grace period to answer it or
    /// hang up, none if it has answered already; on Linux the grace runs from when the kernel has
    /// delivered it, and the socket stays open while the kernel delivers (``CloseFrameDelivery``).
    private func closeFrameHasBeenWritten() {
        self.closeFrameWritten = true
        self.stopClosingDrain()
        guard let channel = self.context?.channel else { return }
        guard !self.closeAnswered, !self.inputEnded else { return channel.close(promise: nil) }
        let writtenAt = channel.eventLoop.now
        let deadline =
            (self.closeStartedAt ?? writtenAt) + TimeAmount(self.session.limits.closeDrainLimit)
            + self.closeGrace
        let grace = self.closeGrace
        let handler = NIOLoopBound(self, eventLoop: channel.eventLoop)
        self.settings.kernelSendQueue(channel).whenSuccess { queue in
            guard let queue else {
                // The kernel cannot say: a grace period from the write, within the deadline.
                handler.value.closingCheck = channel.eventLoop.scheduleTask(in: min(grace, deadline - writtenAt)) {
                    channel.close(promise: nil)
                }
                return
            }
            handler.value.closeFrameDelivery = CloseFrameDelivery(
                writtenAt: writtenAt, deadline: deadline, grace: grace, queue: queue)
            handler.value.scheduleDeliveryCheck(channel)
        }
    }

    private func scheduleDeliveryCheck(_ channel: any Channel) {
        guard let delivery = self.closeFrameDelivery else { return }
        let handler = NIOLoopBound(self, eventLoop: channel.eventLoop)
        self.closingCheck = channel.eventLoop.scheduleTask(in: delivery.nextCheck(after: channel.eventLoop.now)) {
            handler.value.checkDelivery(channel)
        }
    }

    /// A look at what the kernel still holds for the client: the socket closes unless
    /// ``CloseFrameDelivery`` waits on.
    private func checkDelivery(_ channel: any Channel) {
        self.closingCheck = nil
        let handler = NIOLoopBound(self, eventLoop: channel.eventLoop)
        self.settings.kernelSendQueue(channel).whenSuccess { queue in
            guard handler.value.closeFrameDelivery?.keepsWaiting(now: channel.eventLoop.now, queue: queue) == true
            else {
                return channel.close(promise: nil)
            }
            handler.value.payPong()  // one owed waits for the delivery (``CloseFrameDelivery``)
            handler.value.scheduleDeliveryCheck(channel)
        }
    }

    /// The server asked to close the connection (``PlayerConnection/close(code:)``): the writer
    /// sends what is queued, then the close frame, while the client keeps taking bytes
    /// (``ClosingDrain``). Call on the channel's event loop.
    ///
    /// A slow consumer (its queue overflowed, and was emptied) leaves its room now: nothing is
    /// left to send it but the close frame, and behind what the socket still holds, a client
    /// reading a trickle could keep its seat (and the host's role) up to the drain's limit.
    func closeRequested() {
        if self.closeStartedAt == nil, let context = self.context { self.closeStartedAt = context.eventLoop.now }
        // The message the reader holds will not be handled (``MessageDispatcher/dispatch``): its
        // wait for a turn would hold up the reader's end, and with it the player's departure.
        if let ticket = self.waitingTurnTicket { self.charges.heavyMessageTurns?.turns.giveUp(ticket) }
        // Whether or not the close frame has left already (written at once, the socket not full).
        // What the client sends from now on is discarded, not relayed or handed to the reader.
        let outbound = self.session.connection.outbound
        if outbound.hasOverflowed {
            self.readerStopped = true
            self.endReading()
        }
        if outbound.hasOverflowed, !self.overflowLogged {
            self.overflowLogged = true  // asked by the writer and the room, either first
            if outbound.overflowedServerBudget {
                self.session.logger.log(
                    level: self.settings.outboundBudgetWarnings.shouldWarn() ? .warning : .debug,
                    "relay.outbound.server_budget_full",
                    metadata: ["held": "\(self.session.registry.outboundMemory.heldBytes)"])
            } else {
                self.session.logger.log(
                    level: self.settings.slowClientNotices.shouldWarn() ? .notice : .debug, "relay.connection.too_slow",
                    metadata: ["reason": outbound.overflow == .waitedTooLong ? "message_age" : "queue_full"])
            }
        }
        guard let context = self.context, !self.hangsUpAfterClose, !self.closeFrameWritten,
            self.closingDrain == nil
        else { return }
        self.startClosingDrain(context)
    }

    private func startClosingDrain(_ context: ChannelHandlerContext) {
        self.closingDrain = ClosingDrain(
            startedAt: context.eventLoop.now, limit: TimeAmount(self.session.limits.closeDrainLimit),
            bufferedBytes: Self.bufferedBytes(of: context.channel))
        self.scheduleClosingCheck(context)
    }

    private func stopClosingDrain() {
        self.closingCheck?.cancel()
        self.closingCheck = nil
        self.closingDrain = nil
    }

    /// Bytes the channel holds that the socket has not taken yet.
    private static func bufferedBytes(of channel: any Channel) -> Int? {
        try? channel.syncOptions?.getOption(.bufferedWritableBytes)
    }

    private func scheduleClosingCheck(_ context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.closingCheck = context.eventLoop.scheduleTask(in: self.closeGrace) {
            handler.value.checkClosingDrain()
        }
    }

    private func checkClosingDrain() {
        self.closingCheck = nil
        guard let context = self.context, self.closingDrain != nil else { return }
        let channel = context.channel
        let keepsWaiting = self.closingDrain?.keepsWaiting(
            now: channel.eventLoop.now, writerHasWork: channel.isWritable && !self.closeSent,
            bufferedBytes: Self.bufferedBytes(of: channel))
        if keepsWaiting == true {
            self.scheduleClosingCheck(context)
        } else {
            self.session.logger.debug("relay.connection.hung_up_while_closing")
            context.close(promise: nil)
        }
    }

    /// Suspends the writer until the channel takes more writes (or closes). Its one waiter is
    /// resumed exactly once: by ``resumeWriter()``, from a writability change or ``stop()``.
    func waitUntilWritable() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            guard let channel = self.context?.channel, channel.isActive, !channel.isWritable else {
                return continuation.resume()
            }
            self.writableWaiter = continuation
        }
    }

    private func resumeWriter() {
        let waiter = self.writableWaiter
        self.writableWaiter = nil
        waiter?.resume()
    }

    /// The connection is over: no more pings, the reader ends once it has the rest, a waiting writer goes on.
    private func stop() {
        self.framesWaitForReader = false  // nothing is cut for a reader that gets no more
        self.endReading()
        self.pinger?.cancel()
        self.pinger = nil
        self.stopClosingDrain()
        self.readPause?.cancel()
        self.dropHeldBytes()  // charged to the address before it is given back
        self.charges.ended()
        self.resumeWriter()
    }

    /// Nothing more comes from the client: the reader ends once it has handled what came before,
    /// and the player leaves the room. A plugin's answer the reader waits for would otherwise hold
    /// the player's departure, and a stop.
    private func endReading() {
        self.session.connection.socketHasClosed()
        self.session.closing.close()
        self.readerQueue.finish()
    }
}

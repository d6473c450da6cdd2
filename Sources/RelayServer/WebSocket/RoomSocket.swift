import Handlers
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Relay

/// One client's WebSocket: a reader loop that rate-limits and dispatches, and a writer
/// task that alone writes to the socket, draining the connection's bounded queue.
struct RoomSocket {
    let dispatcher: MessageDispatcher
    let registry: RoomRegistry
    let roomID: String
    let channel: any Channel
    let logger: Logger

    /// How long a connection being closed by the server may take to say goodbye.
    static let closeGracePeriod: TimeAmount = .seconds(1)
    /// Messages a reader handles before it lets other work on its event loop run.
    static let messagesPerTurn = 16

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        // Reader and writer run on the channel's own event loop: a message read there is
        // dispatched, applied by a room on the same loop and written out without a thread hop.
        await withTaskExecutorPreference(EventLoopTaskExecutor(self.channel.eventLoop)) {
            await self.serve(inbound: inbound, outbound: outbound)
        }
    }

    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let channel = self.channel
        let connection = PlayerConnection(queueCapacity: self.registry.limits.outboundQueueFrames) { _ in
            // The writer sends the close frame if the client still reads; if it does not
            // (a slow consumer), hang up after the grace period.
            channel.eventLoop.scheduleTask(in: Self.closeGracePeriod) { channel.close(promise: nil) }
        }
        let session = ConnectionSession(
            connection: connection, urlRoomID: self.roomID, registry: self.registry, logger: self.logger,
            eventLoop: channel.eventLoop)

        let share = self.startInPlaceHandling(session: session)
        let writer = SocketWriter(channel: channel, outbound: outbound, outlet: PreframedOutlet.install(on: channel))

        await withDiscardingTaskGroup { group in
            group.addTask {
                await Self.writeLoop(connection: connection, writer: writer)
            }
            await self.readLoop(inbound: inbound, session: session, share: share)
            if let membership = session.membership {
                await membership.room.drop(playerID: membership.playerID, connection: connection)
            }
            connection.outbound.close()
        }
    }

    /// Puts an ``InPlaceFrameHandler`` into the channel and returns what it shares with the reader.
    /// Synchronous on purpose: locals here stay out of `serve`'s async frame, which every idle
    /// connection keeps for its whole life.
    private func startInPlaceHandling(session: ConnectionSession) -> InboundShare {
        let limits = self.registry.limits
        let share = InboundShare(bucket: TokenBucket(rate: limits.messagesPerSecond, burst: limits.messageBurst))
        if !InPlaceFrameHandler.install(on: self.channel, dispatcher: self.dispatcher, session: session, share: share) {
            self.logger.debug("relay.connection.no_in_place_handler")
        }
        return share
    }

    /// Reads the messages ``InPlaceFrameHandler`` handed on, until the client goes away or floods.
    private func readLoop(
        inbound: WebSocketInboundStream, session: ConnectionSession, share: InboundShare
    ) async {
        let limits = self.registry.limits
        var flood = FloodWatch(threshold: limits.floodCloseThreshold)
        var sinceYield = 0
        do {
            for try await message in inbound.messages(maxSize: limits.maxFrameBytes) {
                let text: String? = if case .text(let text) = message { text } else { nil }
                let kind = share.readerReads(text: text)
                if kind == .sync { continue }
                defer { if kind == .counted { share.messagesWithReader -= 1 } }
                // Messages already read arrive without a suspension; let the loop's writers (and
                // other connections) take a turn now and then, so a burst cannot outrun them.
                sinceYield += 1
                if sinceYield == Self.messagesPerTurn {
                    sinceYield = 0
                    await Task.yield()
                }
                let now = ContinuousClock.now
                guard share.bucket.take(now: now) else {
                    switch flood.record(now: now) {
                    case .warn: session.reply(.rateLimited)
                    case .quiet: break
                    case .close:
                        self.logger.notice("relay.connection.flooding")
                        // Through the queue, so the replies already queued go out before the close frame.
                        session.connection.close(code: RelayCloseCode.policyViolation)
                        return
                    }
                    continue
                }
                switch message {
                case .text(let text): await self.dispatcher.dispatch(text, session: session)
                case .binary: session.reply(.binaryFrame)
                }
            }
        } catch {
            self.logger.debug("relay.connection.read_ended", metadata: ["error": "\(error)"])
        }
    }

    /// Writes queued frames until the queue closes, then says goodbye with the close code, if any.
    private static func writeLoop(connection: PlayerConnection, writer: SocketWriter) async {
        var batch = CircularBuffer<ByteBuffer>(initialCapacity: OutboundQueue.initialCapacity)
        do {
            while await connection.outbound.nextBatch(upTo: writer.batchLimit, into: &batch) {
                try await writer.write(batch)
                batch.removeAll(keepingCapacity: true)
            }
            if let code = connection.closeCode {
                try await writer.outbound.close(.init(codeNumber: Int(code)), reason: nil)
            }
        } catch {
            connection.close(code: RelayCloseCode.slowConsumer)
        }
    }
}

/// Counts rate-limited messages: warns at most once a second, and asks to close the
/// connection when too many arrive within ten seconds.
struct FloodWatch {
    enum Verdict { case warn, quiet, close }

    let threshold: Int
    private var windowStart: ContinuousClock.Instant?
    private var countInWindow = 0
    private var lastWarning: ContinuousClock.Instant?

    init(threshold: Int) { self.threshold = threshold }

    mutating func record(now: ContinuousClock.Instant) -> Verdict {
        if let start = self.windowStart, now - start < .seconds(10) {
            self.countInWindow += 1
        } else {
            self.windowStart = now
            self.countInWindow = 1
        }
        if self.countInWindow > self.threshold { return .close }
        if let last = self.lastWarning, now - last < .seconds(1) { return .quiet }
        self.lastWarning = now
        return .warn
    }
}

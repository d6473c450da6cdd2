import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long an HTTP connection may keep the server waiting, on either side:
///
/// - **A request must arrive in time**: its head within the HTTP timeout of the server starting to
///   wait for it (from the connection's start, and from when each answer has left the server's
///   buffer), and its body within the timeout of its head. An idle timeout alone restarts with every
///   byte, so a client sending its body a byte every few seconds held its connection for as long as
///   it liked (29 bytes over 44 s with a 2 s timeout), and enough of them fill the connection cap.
///   While a request is being answered nothing is timed: a slow store write is not the client's
///   fault.
/// - **An answer must keep moving** (``AnswerTransfer``): a connection whose answer bytes stay in
///   the server's buffer for the HTTP timeout (the client stopped reading) is closed, and so is one
///   whose answer has averaged less than the minimum rate once the grace period has passed (a
///   client reading a trickle would otherwise hold an 8 MiB image's connection for most of an hour).
///   Both are closed with a reset, so that the kernel does not go on sending such a client what it
///   had taken of the answer.
///
/// A room-socket upgrade takes the connection off HTTP, and this handler out: room sockets have
/// their own rules for slow readers. It sits after ``FirstRequestGuard``, which has already
/// dropped any `Upgrade` the server will not act on (the order: ``RelayChildChannel``).
final class HTTPDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How long a request may take to arrive whole, from when the server begins to wait for it.
    private let requestTimeout: TimeAmount
    /// How an answer must keep moving.
    private let rules: AnswerTransfer.Rules
    /// How often a cut-off is logged at info (the server's, shared by its connections).
    private let cutOffLogs: WarningThrottle
    private let logger: Logger
    /// When the server began waiting for the request now due; nil while it answers one.
    private var waitingSince: NIODeadline?
    /// One timer per connection, firing at most once per timeout, not one per request: a
    /// request only stamps ``waitingSince`` (a timer armed and cancelled per request cost the
    /// HTTP API a few per cent of its throughput).
    private var check: Scheduled<Void>?
    /// Requests read whole whose answers have not ended (more than one if the client pipelines).
    private var unanswered = 0
    /// Answers that ended before their request did (a 405 or 413 at the head): that request's end
    /// then starts the wait for the next, rather than waiting for an answer that has gone out.
    private var answeredEarly = 0
    private var isFirstHead = true
    /// The server has closed its output: it answers nothing more (``close(context:mode:promise:)``).
    private var outputClosed = false
    /// An answer's head has been written and its end not yet.
    private var answerHasBegun = false
    /// Set when the last answer due has ended: the wait for the next request starts once that
    /// answer has left the server's buffer, not when it was written (an 8 MiB image may take minutes).
    private var waitsForDelivery = false
    /// Answer bytes written so far (bodies only: heads are not counted, a constant the transfer's
    /// own count leaves out).
    private var bodyBytesWritten = 0
    /// ``bodyBytesWritten`` when the last answer's head was written.
    private var bodyBytesAtHead = 0
    /// ``bodyBytesWritten`` when nothing last waited in the server's buffer. A transfer counts from
    /// there, so what the kernel took at once counts as sent: it takes more only once half of its
    /// share has gone, and counting only what came after would make a client above the minimum
    /// rate look slow early in its transfer.
    private var bodyBytesSettled = 0
    /// Answer bytes waiting in the server's buffer, watched while there are any; one timer for it.
    private var transfer: AnswerTransfer?
    private var transferCheck: Scheduled<Void>?

    /// Unsent answer bytes the kernel may hold (`TCP_NOTSENT_LOWAT`); the rest waits in the
    /// server's buffer, where its progress shows. The kernel would otherwise take up to 4 MiB and
    /// wake the server only once a third of it had drained: a client reading 6 KB/s showed no
    /// progress for over 30 s, and was cut off as stalled. An answer with a longer body is taken to
    /// wait in the server's buffer, and its end is watched (``promiseWatchingTheEnd(context:_:)``);
    /// a shorter one that waits all the same is found delivered at the next check, which can lend
    /// a trickle after it no more than this many bytes of credit.
    static let kernelUnsentBytes = 128 * 1024

    init(requestTimeout: TimeAmount, answers rules: AnswerTransfer.Rules, cutOffLogs: WarningThrottle, logger: Logger) {
        self.requestTimeout = requestTimeout
        self.rules = rules
        self.cutOffLogs = cutOffLogs
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        Self.limitKernelUnsentBytes(of: context.channel, to: Self.kernelUnsentBytes)
        let now = NIODeadline.now()
        self.waitingSince = now
        self.scheduleCheck(context: context, at: now + self.requestTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.check?.cancel()
        self.transferCheck?.cancel()
        // Removed as the connection upgrades (or closes): a room socket has its own cap.
        Self.limitKernelUnsentBytes(of: context.channel, to: RoomSocketHandler.kernelUnsentBytes)
    }

    private static func limitKernelUnsentBytes(of channel: any Channel, to bytes: Int) {
        let option = ChannelOptions.tcpOption(.init(rawValue: CInt(TCP_NOTSENT_LOWAT)))
        _ = try? channel.syncOptions?.setOption(option, value: bytes)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            defer { self.isFirstHead = false }
            if self.isFirstHead, head.asksToUpgrade {
                context.fireChannelRead(data)
                return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
            // A head starts the wait again: the time a kept-alive connection sat idle is not taken
            // from the request that then uses it (a save sent over a slow link after 28 s idle was
            // cut off mid-body). A request still has a timeout from its head, and its head a
            // timeout from the wait's start.
            if self.waitingSince != nil, !self.outputClosed { self.waitingSince = .now() }
        case .body:
            break
        case .end:
            if self.outputClosed {
                break  // a request pipelined behind the last answer: it will not be answered
            } else if self.answeredEarly > 0 {
                self.answeredEarly -= 1
                // The wait for the next request starts now, or once that answer has left the
                // server's buffer if it still waits there (an image is downloading).
                if self.unanswered == 0 {
                    if self.transfer == nil {
                        self.waitingSince = .now()
                    } else {
                        (self.waitingSince, self.waitsForDelivery) = (nil, true)
                    }
                }
            } else {
                self.unanswered += 1
                (self.waitingSince, self.waitsForDelivery) = (nil, false)
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head):
            // A `100 Continue` (``ExpectContinue``) asks for the body: the answer is still to come.
            if head.status.code >= 200 { (self.answerHasBegun, self.bodyBytesAtHead) = (true, self.bodyBytesWritten) }
        case .body(let body):
            self.bodyBytesWritten += body.readableBytes
        case .end:
            self.answerHasBegun = false
            if self.unanswered > 0 {
                self.unanswered -= 1
                if self.unanswered == 0 { self.waitsForDelivery = true }
            } else {
                self.answeredEarly += 1
            }
            // An answer the kernel cannot take at once (hummingbird writes head, body and end before
            // it flushes), or one behind an answer still waiting: it will wait in the server's buffer.
            if self.transfer != nil || self.bodyBytesWritten - self.bodyBytesAtHead > Self.kernelUnsentBytes {
                return context.write(data, promise: self.promiseWatchingTheEnd(context: context, promise))
            }
        }
        context.write(data, promise: promise)
    }

    /// hummingbird half-closes the output after an answer saying `Connection: close`, as
    /// ``EarlyAnswerEndsConnection`` does after an early one: nothing more will be answered, and the
    /// connection ends when the client hangs up, or a timeout after the last answer left. NIO's
    /// parser may yet read a request pipelined behind: it keeps alive some connections the server's
    /// rules close (a stray `Upgrade`, HTTP/1.0 chunked). Counted as unanswered, such a request held
    /// the connection with no deadline, and a graceful stop with it.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output, !self.outputClosed {
            self.outputClosed = true
            (self.unanswered, self.answeredEarly, self.answerHasBegun) = (0, 0, false)
            if self.transfer != nil {
                (self.waitingSince, self.waitsForDelivery) = (nil, true)
            } else if self.waitingSince == nil {
                (self.waitingSince, self.waitsForDelivery) = (.now(), false)
            }
        }
        context.close(mode: mode, promise: promise)
    }

    /// A promise for the `.end` of an answer waiting in the server's buffer (`promise` itself, if
    /// the writer gave one), completed once all of it has gone to the kernel, that then ends its
    /// transfer at once.
    ///
    /// Left to the next check, the transfer would go on for up to a check interval after its answer
    /// had gone, and an answer flushed meanwhile would join it: a fast download then gave a trickle
    /// after it the credit of its average (41 s before it was judged too slow, not 3).
    private func promiseWatchingTheEnd(
        context: ChannelHandlerContext, _ promise: EventLoopPromise<Void>?
    ) -> EventLoopPromise<Void> {
        let watching = promise ?? context.eventLoop.makePromise()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        let answerEnd = self.bodyBytesWritten
        watching.futureResult.whenSuccess {
            handler.value.answerLeft(context: context.value, handedOver: answerEnd)
        }
        return watching
    }

    /// An answer that waited in the server's buffer has gone to the kernel, which has taken
    /// `handedOver` body bytes in all: its transfer ends, and any answer after it starts its own.
    private func answerLeft(context: ChannelHandlerContext, handedOver: Int) {
        guard self.transfer != nil else { return }
        guard Self.bytesWaiting(in: context.channel) == 0 else {
            self.transfer = AnswerTransfer(at: .now(), handedOver: handedOver)
            return
        }
        self.transferCheck?.cancel()
        (self.transfer, self.transferCheck) = (nil, nil)
        self.answersDelivered()
    }

    /// Whether the server is working out an answer: a request has arrived whole and no answer to
    /// it has begun (hummingbird's handler is running).
    var isPreparingAnswer: Bool { self.unanswered > 0 && !self.answerHasBegun }

    /// After each flush (hummingbird flushes once it has written an answer's head, body and end):
    /// either everything written has gone to the kernel, or a transfer starts being watched.
    func flush(context: ChannelHandlerContext) {
        context.flush()
        guard self.transfer == nil else { return }
        guard Self.bytesWaiting(in: context.channel) > 0 else { return self.answersDelivered() }
        self.transfer = AnswerTransfer(at: .now(), handedOver: self.bodyBytesSettled)
        self.scheduleTransferCheck(context: context)
    }

    /// Bytes written to the channel that have not yet gone to the kernel (0 if it cannot tell).
    private static func bytesWaiting(in channel: any Channel) -> Int {
        (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
    }

    /// Nothing waits in the server's buffer: if the last answer due has ended, the wait for the
    /// next request starts.
    private func answersDelivered() {
        self.bodyBytesSettled = self.bodyBytesWritten
        guard self.waitsForDelivery else { return }
        (self.waitingSince, self.waitsForDelivery) = (.now(), false)
    }

    private func scheduleTransferCheck(context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.transferCheck = context.value.eventLoop.scheduleTask(in: self.rules.checkInterval) {
            handler.value.checkTransfer(context: context.value)
        }
    }

    private func checkTransfer(context: ChannelHandlerContext) {
        guard var transfer = self.transfer else { return }
        let waiting = Self.bytesWaiting(in: context.channel)
        let verdict = transfer.check(
            at: .now(), handedOver: self.bodyBytesWritten - waiting, waiting: waiting, rules: self.rules)
        self.transfer = transfer
        switch verdict {
        case .delivered:
            (self.transfer, self.transferCheck) = (nil, nil)
            self.answersDelivered()
        case .inProgress:
            self.scheduleTransferCheck(context: context)
        case .stalled:
            self.cutOff(context: context, transfer, reason: "stalled")
        case .tooSlow:
            self.cutOff(context: context, transfer, reason: "too_slow")
        }
    }

    /// Closes with a reset: the bytes the kernel holds for a client that is not taking them are dropped.
    private func cutOff(context: ChannelHandlerContext, _ transfer: AnswerTransfer, reason: String) {
        let seconds = Double((NIODeadline.now() - transfer.start).nanoseconds) / 1e9
        self.logger.log(
            level: self.cutOffLogs.shouldWarn() ? .info : .debug, "http.answer.cut_off",
            metadata: [
                "reason": "\(reason)", "answer.bytes_sent": "\(transfer.delivered)",
                "answer.seconds": "\((seconds * 10).rounded() / 10)",
                "answer.bytes_per_second": "\(Int(Double(transfer.delivered) / seconds))",
            ])
        if let socket = context.channel as? any SocketOptionProvider {
            _ = socket.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0))
        }
        context.close(promise: nil)
    }

    /// Closes the connection if it has waited a whole timeout for its request; otherwise looks
    /// again when the current wait would run out (or a timeout from now, if it is not waiting).
    private func scheduleCheck(context: ChannelHandlerContext, at time: NIODeadline) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.check = context.value.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = (handler.value, context.value)
            let now = NIODeadline.now()
            guard let since = handler.waitingSince else {
                return handler.scheduleCheck(context: context, at: now + handler.requestTimeout)
            }
            if now >= since + handler.requestTimeout {
                let seconds = (Double(handler.requestTimeout.nanoseconds) / 1e8).rounded() / 10
                handler.logger.debug("http.request.timed_out", metadata: ["timeout.seconds": "\(seconds)"])
                context.close(promise: nil)
            } else {
                handler.scheduleCheck(context: context, at: since + handler.requestTimeout)
            }
        }
    }
}

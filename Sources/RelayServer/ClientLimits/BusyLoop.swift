import Logging
import NIOCore
import NIOPosix
import Relay

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One event loop's ``BusyLoopCap``: measures how long the loop takes to read what arrives, while
/// room sockets live on it, and tells them the cap of the moment; and spaces out the handling of
/// their large messages (``HeavyMessagePacer``). Made and used only on its loop.
///
/// The measure is a datagram sent to the loop on loopback every ``BusyLoopCap/sampleInterval`` from
/// a thread of its own (``ProbeSender``), and the time until the loop reads it: what any client's
/// bytes wait. Two measures from the loop itself said less: how late a timer runs (the loop runs
/// its timers between batches of reads: a timer was 2–3 ms late while other rooms' messages
/// waited 8–20 ms), and a datagram the loop sends itself (sent between its own tasks, it missed
/// the wait for them: other rooms' messages waited 28 ms and the probe never 4 ms twice in a row).
final class BusyLoop {
    let eventLoop: any EventLoop
    private var cap: BusyLoopCap
    private var sockets = 0
    private var probe: Probe = .none
    /// When the thread's CPU time stood where, at recent probe reads (a millisecond apart at least).
    private var readings = ThreadReadings()
    private let warnings: WarningThrottle
    private let logger: Logger
    /// Large messages' turns on the loop (``HeavyMessagePacer``); nil while the cap is off
    /// (`--busy-loop-inbound-bytes-per-second 0`): nothing is paced.
    let heavyMessageTurns: HeavyMessageTurns?

    private enum Probe {
        case none, starting
        /// Not a loop of sockets (an `EmbeddedEventLoop`): nothing to measure.
        case unsupported
        /// Starting failed (out of file descriptors, say): tried again by the first socket opened
        /// from `retryAt` on.
        case failed(retryAt: NIODeadline)
        /// `receiver` on this loop reads what `sender`, on the probe thread, sends.
        case running(receiver: any Channel, sender: any Channel)
    }
    /// How long a probe that failed to start waits before it is tried again.
    static let probeRetryDelay = TimeAmount.seconds(10)

    fileprivate init(eventLoop: any EventLoop, limits: RelayLimits, warnings: WarningThrottle, logger: Logger) {
        self.eventLoop = eventLoop
        self.cap = BusyLoopCap(limits: limits)
        self.warnings = warnings
        self.logger = logger
        self.heavyMessageTurns =
            limits.busyLoopInboundBytesPerSecond > 0 ? HeavyMessageTurns(eventLoop: eventLoop) : nil
    }

    /// Bytes a second each room socket on the loop may read now, and which cap that is
    /// (``LoopShareMeter``); nil while the loop keeps up.
    var connectionCap: (bytesPerSecond: Double, epoch: Int)? {
        self.cap.bytesPerSecond.map { ($0, self.cap.epoch) }
    }

    /// Whether the probe is starting or running (for tests).
    var isProbing: Bool {
        switch self.probe {
        case .starting, .running: true
        case .none, .unsupported, .failed: false
        }
    }

    /// The probe's channels while it runs.
    var probeChannels: (receiver: any Channel, sender: any Channel)? {
        guard case .running(let receiver, let sender) = self.probe else { return nil }
        return (receiver, sender)
    }

    /// A room socket opened on the loop: the loop is measured while it has one, or a cap, with two
    /// datagram sockets of its own, closed when it has neither.
    func socketOpened() {
        self.sockets += 1
        self.startProbeIfNeeded()
    }

    /// Starts the probe for a loop with sockets, unless the cap could never start: measuring
    /// then would bind two sockets and read ~100 datagrams a second for nothing.
    private func startProbeIfNeeded() {
        guard self.cap.canStart, self.sockets > 0 else { return }
        switch self.probe {
        case .none: break
        case .failed(let retryAt) where NIODeadline.now() >= retryAt: break
        case .failed, .unsupported, .starting, .running: return
        }
        guard let bootstrap = DatagramBootstrap(validatingGroup: self.eventLoop) else {
            self.probe = .unsupported
            return
        }
        self.probe = .starting
        let loop = NIOLoopBound(self, eventLoop: self.eventLoop)
        let receiving =
            bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProbeReader(busyLoop: loop))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
        receiving.flatMap { receiver in
            ProbeSender.start(sendingTo: receiver).hop(to: receiver.eventLoop).map { (receiver, $0) }
        }.whenComplete { result in
            let busyLoop = loop.value
            switch result {
            case .success(let (receiver, sender)):
                busyLoop.probe = .running(receiver: receiver, sender: sender)
                // Either closed by anything but ``probeRead(sentAt:from:)`` (the loop shutting
                // down, an error), the other would live on: the sender sending for ever, or the
                // receiver waiting for ever, with the loop unmeasured and its cap as it was.
                // (A receiver closed already is not closed again: its loop may have shut down.)
                sender.closeFuture.whenComplete { _ in if receiver.isActive { receiver.close(promise: nil) } }
                receiver.closeFuture.whenComplete { _ in
                    sender.close(promise: nil)
                    loop.value.probeClosed(receiver)
                }
            case .failure(let error):
                busyLoop.probe = .failed(retryAt: .now() + Self.probeRetryDelay)
                receiving.whenSuccess { $0.close(promise: nil) }
                busyLoop.logger.warning(
                    "relay.loop.probe_failed",
                    metadata: ["error": "\(error)", "effect": "connections are not capped while the loop is behind"])
            }
        }
    }

    func socketClosed() {
        self.sockets -= 1
    }

    /// The probe's receiver has closed: if not by ``probeRead(sentAt:from:)``, the loop is no
    /// longer measured, and a cap that would never be lifted is lifted now; a new probe starts.
    private func probeClosed(_ closed: any Channel) {
        guard case .running(let receiver, _) = self.probe, receiver === closed else { return }
        self.probe = .none
        if self.cap.lift() { self.log(.lifted) }
        self.startProbeIfNeeded()
    }

    /// A probe sent at `sentAt` (``NIODeadline/uptimeNanoseconds``) by `sender` has been read.
    fileprivate func probeRead(sentAt: UInt64, from sender: SocketAddress?) {
        guard case .running(let receiver, let probeSender) = self.probe, sender == probeSender.localAddress else {
            return  // not the probe thread's: anything else on loopback may find the port
        }
        let now = NIODeadline.now().uptimeNanoseconds
        let busyShare = self.readings.busyShare(since: sentAt, now: now)
        self.record(wait: .nanoseconds(Int64(clamping: now &- min(now, sentAt))), busyShare: busyShare)
        if self.sockets == 0, self.cap.bytesPerSecond == nil {
            // Nothing left to measure for.
            self.probe = .none
            probeSender.close(promise: nil)
            receiver.close(promise: nil)
        }
    }

    /// Takes a probe that waited `wait` to be read, while the loop's thread ran `busyShare` of the time.
    func record(wait: Duration, busyShare: Double, now: ContinuousClock.Instant = .now) {
        if let change = self.cap.record(lateness: wait, busyShare: busyShare, now: now) { self.log(change) }
    }

    private func log(_ change: BusyLoopCap.Change) {
        switch change {
        case .started(let rate), .cut(let rate):
            let level: Logger.Level = self.warnings.shouldWarn() ? .warning : .debug
            self.logger.log(
                level: level, "relay.loop.behind",
                metadata: [
                    "inbound.bytes_per_second_per_connection": "\(Int(rate))",
                    "effect": "connections reading more are slowed (--busy-loop-inbound-bytes-per-second)",
                ])
        case .lifted:
            self.logger.debug("relay.loop.caught_up")
        }
    }
}

/// The loop thread's CPU time at its recent probe reads, to tell how much of a probe's wait the
/// thread ran: busy with its own work, or held up (asleep, or without a core). Measured over the
/// probe's own wait, from the last reading before it was sent: after a stall the thread reads the
/// probes that waited it out at once, busy, and a shorter measure would call the stall busy too.
private struct ThreadReadings {
    private var readings: [(wall: UInt64, cpu: UInt64)] = []
    private var next = 0
    /// Readings kept: more than a stall's worth of catching up.
    private static let kept = 16

    /// The share of the time from the last reading at or before `sentAt` (the oldest kept, if none)
    /// until `now` that the calling thread ran; records a reading at `now`.
    mutating func busyShare(since sentAt: UInt64, now: UInt64) -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        let cpu = UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        let from =
            self.readings.lazy.filter { $0.wall <= sentAt }.max { $0.wall < $1.wall }
            ?? self.readings.min { $0.wall < $1.wall }
        let newest = self.readings.max { $0.wall < $1.wall }
        if newest.map({ now >= $0.wall + 1_000_000 }) ?? true {
            if self.readings.count < Self.kept {
                self.readings.append((now, cpu))
            } else {
                self.readings[self.next] = (now, cpu)
                self.next = (self.next + 1) % Self.kept
            }
        }
        guard let from, now > from.wall else { return 0 }
        return Double(cpu &- from.cpu) / Double(now - from.wall)
    }
}

/// Sends each ``BusyLoop`` its probes from a thread of its own, so that a probe arrives whenever
/// the loop is busy, as a client's bytes do.
enum ProbeSender {
    /// One thread for every loop's probes, for the life of the process: ~100 datagrams a second a
    /// loop, idle when no loop is measured. Named, so that it can be told among the process's.
    private static let group = MultiThreadedEventLoopGroup._makePerpetualGroup(
        threadNamePrefix: Self.threadNamePrefix, numberOfThreads: 1)

    static let threadNamePrefix = "NIO-PROBE-"

    /// Starts the thread now, rather than at the first room socket (``ThreadHeadroom``).
    static func startThread() {
        _ = Self.group
    }

    /// A datagram channel on the probe thread that sends `receiver` the time every
    /// ``BusyLoopCap/sampleInterval`` until it is closed.
    static func start(sendingTo receiver: any Channel) -> EventLoopFuture<any Channel> {
        guard let destination = receiver.localAddress else {
            return receiver.eventLoop.makeFailedFuture(ChannelError.unknownLocalAddress)
        }
        return DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: 0).map { sender in
            let interval = TimeAmount(BusyLoopCap.sampleInterval)
            let sending = sender.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                var stamp = sender.allocator.buffer(capacity: 8)
                stamp.writeInteger(NIODeadline.now().uptimeNanoseconds)
                sender.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: stamp), promise: nil)
            }
            sender.closeFuture.whenComplete { _ in sending.cancel() }
            return sender
        }
    }
}

/// Reads the loop's probes (``BusyLoop``).
private final class ProbeReader: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let busyLoop: NIOLoopBound<BusyLoop>

    init(busyLoop: NIOLoopBound<BusyLoop>) { self.busyLoop = busyLoop }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = self.unwrapInboundIn(data)
        guard envelope.data.readableBytes == 8, let sentAt = envelope.data.readInteger(as: UInt64.self) else { return }
        self.busyLoop.value.probeRead(sentAt: sentAt, from: envelope.remoteAddress)
    }
}

/// The ``BusyLoop`` of each event loop that has room sockets.
final class BusyLoops: Sendable {
    private let loops = PerEventLoop<BusyLoop>()
    private let limits: RelayLimits
    private let warnings = WarningThrottle()
    private let logger: Logger

    init(limits: RelayLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// The loop's ``BusyLoop``, made on first use. Call on `eventLoop`.
    func busyLoop(of eventLoop: any EventLoop) -> BusyLoop {
        self.loops.value(of: eventLoop) {
            BusyLoop(eventLoop: eventLoop, limits: self.limits, warnings: self.warnings, logger: self.logger)
        }.value
    }
}

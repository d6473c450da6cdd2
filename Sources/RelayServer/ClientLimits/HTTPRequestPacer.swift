import Logging
import NIOCore
import NIOHTTP1

/// Holds one client address to its budget of HTTP requests (``HTTPRequestBudget``), however many
/// kept-alive connections it uses: unpaced, one client's GETs in a loop took a whole core
/// (13,000 a second for the leaderboard). Past the budget a request is not refused but waits: it is
/// held, with everything read after it, until the address is out of debt, and the connection
/// reads nothing more meanwhile, so that TCP holds the rest back in the client. A player never
/// waits: it makes a few requests a minute.
///
/// Held parts go on in the order they came, as do a parse error and a half-close behind them;
/// each head takes from the budget as it goes on. Pausing the reads alone would not do: one read
/// may hold many pipelined requests (NIO's buffer grows to 64 KiB), and all of them would be served.
///
/// It sits first after NIO's HTTP decoder, before ``HTTPDeadlines``: a held request has not
/// arrived, and a connection held longer than the HTTP timeout is closed as any idle one. A first
/// request that asks to upgrade (a room socket) is not counted, never held, and the handler leaves
/// the pipeline with it: room sockets have their own budgets, and new connections theirs.
final class HTTPRequestPacer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What came while a request was held, in order.
    private enum Held {
        case part(NIOAny)
        case error(any Error)
        case halfClosed(Any)
    }

    private let budget: HTTPRequestBudget
    /// The address counted (``ClientAddressPolicy``).
    private let key: String
    private let logger: Logger
    private var held = CircularBuffer<Held>()
    /// When the held requests go on next.
    private var release: Scheduled<Void>?
    /// A read asked for while requests were held, made once they have all gone on.
    private var isReadWanted = false
    private var isFirstHead = true

    init(budget: HTTPRequestBudget, key: String, logger: Logger) {
        (self.budget, self.key, self.logger) = (budget, key, logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.held.isEmpty else { return self.held.append(.part(data)) }
        guard case .head(let head) = self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        defer { self.isFirstHead = false }
        if self.isFirstHead, head.asksToUpgrade {
            context.fireChannelRead(data)
            return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        guard let wait = self.budget.secondsToWait(key: self.key) else {
            return context.fireChannelRead(data)
        }
        self.held.append(.part(data))
        self.budget.logHeld(self.key, logger: self.logger)
        self.scheduleRelease(inSeconds: wait, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard self.held.isEmpty else { return self.held.append(.error(error)) }
        context.fireErrorCaught(error)
    }

    /// A half-close waits behind the held requests (hummingbird ends the connection when it sees
    /// one); other events, a stop among them, go on at once.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !self.held.isEmpty, let event = event as? ChannelEvent, event == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        self.held.append(.halfClosed(event))
    }

    func read(context: ChannelHandlerContext) {
        guard self.held.isEmpty else {
            self.isReadWanted = true
            return
        }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.release?.cancel()
        self.held.removeAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.release?.cancel()
    }

    /// Schedules the held requests to go on in `seconds`, and up to half as long again: an
    /// address's connections held together then go on one at a time.
    private func scheduleRelease(inSeconds seconds: Double, context: ChannelHandlerContext) {
        let delay = TimeAmount.nanoseconds(Int64(min(seconds, 86_400) * Double.random(in: 1...1.5) * 1e9))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.release = context.eventLoop.scheduleTask(in: delay) {
            let (pacer, context) = bound.value
            pacer.releaseHeld(context: context)
        }
    }

    /// Hands on what was held, request by request, as long as the budget allows; schedules the
    /// rest. What it hands on is read complete: NIO's async channel passes reads on only then.
    private func releaseHeld(context: ChannelHandlerContext) {
        self.release = nil
        var handedOn = false
        defer {
            if handedOn { context.fireChannelReadComplete() }
            if self.held.isEmpty, self.isReadWanted {
                self.isReadWanted = false
                context.read()
            }
        }
        while let next = self.held.first {
            if case .part(let data) = next, case .head = self.unwrapInboundIn(data),
                let wait = self.budget.secondsToWait(key: self.key)
            {
                return self.scheduleRelease(inSeconds: wait, context: context)
            }
            self.held.removeFirst()
            handedOn = true
            switch next {
            case .part(let data): context.fireChannelRead(data)
            case .error(let error): context.fireErrorCaught(error)
            case .halfClosed(let event): context.fireUserInboundEventTriggered(event)
            }
        }
    }
}

/// Every client address's budget of HTTP requests (`--http-requests-per-second-per-address`),
/// kept by a ``HTTPRequestPacer`` on each of its connections.
final class HTTPRequestBudget: Sendable {
    let requests: RatePerAddress
    private let clients: ClientAddressPolicy
    /// The time the budgets are read at (tests move their own).
    private let clock: BudgetClock
    private let warnings = WarningThrottle()

    init(_ settings: RatePerAddress.Settings, clients: ClientAddressPolicy, clock: BudgetClock = .system) {
        self.requests = RatePerAddress(settings)
        (self.clients, self.clock) = (clients, clock)
    }

    /// Takes one request from `key`'s budget unless it is in debt: nil when taken, else the
    /// seconds until it is out of debt.
    fileprivate func secondsToWait(key: String) -> Double? {
        self.requests.secondsOfDebtUnlessSpent(1, key: key, now: self.clock.now())
    }

    /// The pacer for a new connection from `peer`; nil when nothing is limited or the peer is not
    /// counted: a loopback client, or a trusted proxy, whose connections carry many clients'
    /// requests (pace them at the proxy: nginx's `limit_req`).
    func pacer(forPeer peer: SocketAddress?, logger: Logger) -> HTTPRequestPacer? {
        guard self.requests.isLimiting, let key = self.clients.key(ofPeer: peer) else { return nil }
        return HTTPRequestPacer(budget: self, key: key, logger: logger)
    }

    /// A request of `key` waits for its budget: logged as a warning at most every 10 s, else as
    /// debug, so that an operator learns which address to allow more.
    fileprivate func logHeld(_ key: String, logger: Logger) {
        logger.log(
            level: self.warnings.shouldWarn() ? .warning : .debug, "http.per_address_request_budget",
            metadata: [
                "client.address": "\(key)",
                "http.requests_per_second_per_address": "\(self.requests.settings.perSecond)",
                "effect": "requests held (--http-requests-per-second-per-address)",
            ])
    }
}

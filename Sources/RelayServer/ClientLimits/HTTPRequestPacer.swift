import Logging
import NIOCore
import NIOHTTP1

/// Holds one client address to its budget of HTTP requests (``HTTPRequestBudget``), however many
/// kept-alive connections it uses: unpaced, one client's GETs in a loop took a whole core (31,000
/// small leaderboards a second from 64 connections). Past the budget a request is not refused but
/// waits: it is held, with everything read after it, until its turn, and the connection reads
/// nothing more meanwhile, so that TCP holds the rest back in the client. A player never waits: it
/// makes a few requests a minute.
///
/// A request held takes its turn at once (``RatePerAddress/reserve(_:key:now:)``, into debt) and
/// goes on when the debt before it is repaid, without asking again: one timer per request that
/// waits, and an address's connections take turns. Only a connection's first request held
/// reserves; those behind it reserve as it goes on, so an address's debt is at most one request
/// per connection it holds.
///
/// Held parts go on in the order they came, as do a parse error and a half-close behind them.
/// Pausing the reads alone would not do: one read may hold many pipelined requests (NIO's buffer
/// grows to 64 KiB, and it reads up to four times a wake-up), and all of them would be served. Nor
/// does a paused read bound what is held: once the client half-closes, NIO reads to the end of
/// what the kernel holds. So a connection holding more than ``HTTPRequestBudget/maxHeldRequests``
/// requests, or more body bytes than one request may have and one read more, is closed: browsers
/// do not pipeline.
///
/// It sits before ``HTTPDeadlines`` (the order: ``RelayChildChannel``): a held request has not
/// arrived, and a connection held longer than the HTTP timeout is closed as any idle one. A first
/// request that upgrades to a room socket is not counted, and the handler leaves the pipeline with
/// it: room sockets have their own budgets, and new connections theirs.
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
    /// Request heads in ``held``, and the bytes of their bodies.
    private var heldRequests = 0
    private var heldBodyBytes = 0
    /// When the first held request's turn comes: it has been paid for.
    private var turn: Scheduled<Void>?
    /// The first held request has reserved its turn (it is not yet handed on).
    private var holdsReservedTurn = false
    /// A read asked for while requests were held, made once they have all gone on.
    private var isReadWanted = false
    private var isFirstHead = true
    /// Closed for holding too much: nothing more goes on, nor is held.
    private var isClosing = false
    /// An error is held: NIO's decoder raises one for every read after its first, each holding
    /// the bytes read, and only the first is of use.
    private var holdsError = false

    init(budget: HTTPRequestBudget, key: String, logger: Logger) {
        (self.budget, self.key, self.logger) = (budget, key, logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.isClosing else { return }
        let part = self.unwrapInboundIn(data)
        guard self.held.isEmpty else { return self.hold(part, data, context: context) }
        guard case .head(let head) = part else { return context.fireChannelRead(data) }
        defer { self.isFirstHead = false }
        if self.isFirstHead, FirstRequestGuard.isWebSocketUpgrade(head),
            RoomSocketRoutes.roomID(inPath: head.uri) != nil
        {
            context.fireChannelRead(data)
            return context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        let wait = self.budget.reserve(key: self.key)
        guard wait > 0 else { return context.fireChannelRead(data) }
        self.holdsReservedTurn = true
        self.hold(part, data, context: context)
        self.budget.logHeld(
            self.key, effect: "requests held (--http-requests-per-second-per-address)", logger: self.logger)
        self.scheduleTurn(inSeconds: wait, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.isClosing else { return }
        guard self.held.isEmpty else {
            if !self.holdsError { self.held.append(.error(error)) }
            self.holdsError = true
            return
        }
        context.fireErrorCaught(error)
    }

    /// A half-close waits behind the held requests (hummingbird ends the connection when it sees
    /// one). At a stop what is held goes on first, then the stop: requests that arrived whole are
    /// answered before the connection closes, as they are on a connection not held (the stop
    /// bounds how long that takes), rather than dropped unanswered. Other events go on at once.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !self.isClosing else { return }
        if event is ChannelShouldQuiesceEvent, !self.held.isEmpty { self.handOnEverythingHeld(context: context) }
        guard !self.held.isEmpty, let event = event as? ChannelEvent, event == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        self.held.append(.halfClosed(event))
    }

    func read(context: ChannelHandlerContext) {
        guard !self.isClosing else { return }
        guard self.held.isEmpty else {
            self.isReadWanted = true
            return
        }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.turn?.cancel()
        self.dropHeld()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.turn?.cancel()
    }

    /// Adds a part to ``held``; past what a connection may hold, closes it.
    private func hold(_ part: HTTPServerRequestPart, _ data: NIOAny, context: ChannelHandlerContext) {
        switch part {
        case .head: self.heldRequests += 1
        case .body(let bytes): self.heldBodyBytes += bytes.readableBytes
        case .end: break
        }
        self.held.append(.part(data))
        guard self.heldRequests > HTTPRequestBudget.maxHeldRequests || self.heldBodyBytes > self.budget.maxHeldBodyBytes
        else { return }
        self.isClosing = true
        self.turn?.cancel()
        self.dropHeld()
        self.budget.logHeld(self.key, effect: "connection closed: it sent too much while held", logger: self.logger)
        context.close(promise: nil)
    }

    /// Drops what is held. A turn the first held request reserved goes back to the address: else
    /// a client connecting, sending a request and hanging up while in debt would drive its
    /// address's debt up for as long as it went on.
    private func dropHeld() {
        if self.holdsReservedTurn { self.budget.giveBack(key: self.key) }
        self.holdsReservedTurn = false
        self.emptyHeld()
    }

    private func emptyHeld() {
        self.held = CircularBuffer()
        (self.heldRequests, self.heldBodyBytes, self.holdsError) = (0, 0, false)
    }

    private func scheduleTurn(inSeconds seconds: Double, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.turn = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(min(seconds, 86_400) * 1e9))) {
            let (pacer, context) = bound.value
            pacer.handOnHeld(context: context)
        }
    }

    /// Hands on everything held at once, without waiting for turns: the server is stopping.
    private func handOnEverythingHeld(context: ChannelHandlerContext) {
        self.turn?.cancel()
        self.turn = nil
        self.holdsReservedTurn = false  // handed on: its turn is used
        let held = self.held
        self.emptyHeld()
        for next in held { Self.fire(next, context: context) }
        context.fireChannelReadComplete()
        if self.isReadWanted {
            self.isReadWanted = false
            context.read()
        }
    }

    /// The first held request's turn has come: hands it on, and what follows it up to the next
    /// request, which reserves its turn; that one and the rest go on at once if it is not in debt,
    /// else wait for their turn. What is handed on is read complete: NIO's async channel passes
    /// reads on only then.
    private func handOnHeld(context: ChannelHandlerContext) {
        self.turn = nil
        var handedOn = false
        defer {
            if handedOn { context.fireChannelReadComplete() }
            if self.held.isEmpty {
                self.emptyHeld()  // its storage too: a flood may have grown it
                if self.isReadWanted {
                    self.isReadWanted = false
                    context.read()
                }
            }
        }
        while let next = self.held.first {
            if case .part(let data) = next, case .head = self.unwrapInboundIn(data) {
                if handedOn {
                    let wait = self.budget.reserve(key: self.key)
                    if wait > 0 {
                        self.holdsReservedTurn = true
                        return self.scheduleTurn(inSeconds: wait, context: context)
                    }
                }
                self.holdsReservedTurn = false  // handed on: its turn is used
                self.heldRequests -= 1
            } else if case .part(let data) = next, case .body(let bytes) = self.unwrapInboundIn(data) {
                self.heldBodyBytes -= bytes.readableBytes
            }
            self.held.removeFirst()
            handedOn = true
            Self.fire(next, context: context)
        }
    }

    /// Hands on one thing held, as it came.
    private static func fire(_ held: Held, context: ChannelHandlerContext) {
        switch held {
        case .part(let data): context.fireChannelRead(data)
        case .error(let error): context.fireErrorCaught(error)
        case .halfClosed(let event): context.fireUserInboundEventTriggered(event)
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

    /// Most requests a connection may have held at once: more and it is closed.
    static let maxHeldRequests = 32
    /// Most body bytes a connection may have held at once: one largest body and one read more.
    let maxHeldBodyBytes: Int

    init(
        _ settings: RatePerAddress.Settings, clients: ClientAddressPolicy,
        maxBodyBytes: Int = HTTPLimits().maxBodyBytes,
        clock: BudgetClock = .system
    ) {
        self.requests = RatePerAddress(settings)
        (self.clients, self.clock) = (clients, clock)
        self.maxHeldBodyBytes = maxBodyBytes + 64 * 1024
    }

    /// Takes a request's turn from `key`'s budget: the seconds until it comes (0: now).
    fileprivate func reserve(key: String) -> Double {
        self.requests.reserve(1, key: key, now: self.clock.now())
    }

    /// Gives back a turn taken for a request that will not go on.
    fileprivate func giveBack(key: String) {
        self.requests.giveBack(1, key: key, now: self.clock.now())
    }

    /// The pacer for a new connection from `peer`; nil when nothing is limited or the peer is not
    /// counted: a loopback client, or a trusted proxy, whose connections carry many clients'
    /// requests (each is taken from the budget of the client it names instead:
    /// ``ProxiedRequestBudgetMiddleware``).
    func pacer(forPeer peer: SocketAddress?, logger: Logger) -> HTTPRequestPacer? {
        guard self.requests.isLimiting, let key = self.clients.key(ofPeer: peer) else { return nil }
        return HTTPRequestPacer(budget: self, key: key, logger: logger)
    }

    /// A request of `key` waits for its budget, or a connection holding too much is closed:
    /// logged as a warning at most every 10 s, else as debug, so that an operator learns which
    /// address to allow more.
    fileprivate func logHeld(_ key: String, effect: String, logger: Logger) {
        logger.log(
            level: self.warnings.shouldWarn() ? .warning : .debug, "http.per_address_request_budget",
            metadata: [
                "client.address": "\(key)",
                "http.requests_per_second_per_address": "\(self.requests.settings.perSecond)", "effect": "\(effect)",
            ])
    }
}

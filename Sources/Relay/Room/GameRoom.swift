import Logging
public import NIOCore

/// One online room: an actor owning its members' connections and all room state.
///
/// Runs on one NIO event loop (its executor), so the reconnect-window timers it
/// schedules there fire inside its isolation. Its methods never `await`: a message is
/// applied and its replies queued in one step, and it never writes to a socket itself.
public actor GameRoom {
    /// The 6-character code players join with.
    public nonisolated let code: String
    /// The room's rules and data; handlers change it while isolated to the room.
    public var state: RoomState

    private let eventLoop: any EventLoop
    /// Weak: the registry holds its rooms, and one dropped while rooms are live (a server built
    /// in-process) must free them. Without it a room admits nobody new and publishes nothing.
    private weak let registry: RoomRegistry?
    private let observers: [any RoomObserver]
    /// Events for the observers, told in turn (``tell(_:)``).
    private var observedEvents: [ObservedEvent] = []
    private var isTellingObservers = false
    private let logger: Logger
    private var connections: [String: PlayerConnection] = [:]
    private var expiryTimers: [String: ExpiryTimer] = [:]
    /// Handlers' timers (``schedule(after:_:)``) not yet run or cancelled, by number.
    private var handlerTimers: [UInt64: Scheduled<Void>] = [:]
    private var timersScheduled: UInt64 = 0
    /// Drops so far, numbering each member's reconnect window.
    private var drops: UInt64 = 0
    /// Set once the last member is gone; a closed room admits nobody.
    private var isClosed = false
    /// How deep in ``holdingPublication(_:)`` the turn is: a member leaving and joining again.
    private var publicationHolds = 0
    /// Messages a raw handler took as their frames arrived (``isOnCurrentLoop``), for
    /// tests: how much of the room's traffic takes the fastest path.
    public package(set) var messagesHandledInPlace = 0
    /// Messages handed to the room from a connection on another event loop and applied here
    /// (``executeOnLoop(_:)``), for tests.
    public package(set) var messagesForwarded = 0
    /// Dropped members whose reconnect window is running, for tests.
    package var pendingExpiries: Int { self.expiryTimers.count }

    /// A dropped member's reconnect window, and which drop it is for: NIO still runs a timer
    /// cancelled once it was due in the loop's batch, so an expiry checks it is the latest one.
    private struct ExpiryTimer {
        let scheduled: Scheduled<Void>
        let drop: UInt64
    }

    deinit {
        // A room that never closed (its server stopped, or was dropped in-process).
        self.state.entityMemory?.release(self.state.entityBytes + self.state.rememberedIDBytes)
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.eventLoop.executor.asUnownedSerialExecutor()
    }

    init(
        code: String, state: RoomState, eventLoop: any EventLoop, registry: RoomRegistry,
        observers: [any RoomObserver] = [], logger: Logger
    ) {
        self.code = code
        self.state = state
        self.eventLoop = eventLoop
        self.registry = registry
        self.observers = observers
        var logger = logger
        logger[metadataKey: "room.id"] = "\(code)"
        self.logger = logger
    }

    /// Runs `body` inside the room's isolation: one hop, no awaits inside.
    public func enter<Result: Sendable, Failure: Error>(
        _ body: @Sendable (isolated GameRoom) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(self)
    }

    /// Runs `body` inside the room's isolation at once when the caller is on the room's event
    /// loop (a connection whose reader shares the loop), else with one hop like ``enter(_:)``.
    ///
    /// `body` gets what it needs as `context` rather than capturing it: with a context-free
    /// closure, entering on the loop costs one allocation (the cast's thunk); `assumeIsolated`
    /// with a capturing closure costs two.
    package nonisolated func enterFromAnywhere<Context: Sendable, Result: Sendable, Failure: Error>(
        with context: Context,
        _ body: @escaping @Sendable (isolated GameRoom, Context) throws(Failure) -> Result
    ) async throws(Failure) -> Result {
        guard self.eventLoop.inEventLoop else {
            return try await self.enter { room throws(Failure) in try body(room, context) }
        }
        // The loop is the actor's executor, so code running on it is isolated to the room: the
        // same cast `assumeIsolated` makes after its own check.
        typealias Plain = @Sendable (GameRoom, Context) throws(Failure) -> Result
        return try unsafeBitCast(body, to: Plain.self)(self, context)
    }

    /// Whether the caller runs on the room's event loop, and so is isolated to the room (the loop
    /// is its executor). For code that runs on a loop outside Swift concurrency, e.g. a NIO
    /// channel handler, which then enters the room with the cast ``enterFromAnywhere(with:_:)``
    /// makes.
    package nonisolated var isOnCurrentLoop: Bool { self.eventLoop.inEventLoop }

    /// Runs `body` in the room on its event loop, without the caller waiting: for a connection
    /// on another loop that hands the room a message. Whatever one thread hands over runs in
    /// that order. Not necessarily before a room call the same thread makes afterwards: while the
    /// actor is running, the runtime may run that call's job first. So a caller that needs what it
    /// handed over applied first waits for it (``ConnectionSession/settleForwarded()``). A loop that
    /// has shut down drops `body` (NIO prints a warning); the server's loops, the singleton
    /// group's, never shut down.
    package nonisolated func executeOnLoop(_ body: @escaping @Sendable (isolated GameRoom) -> Void) {
        self.eventLoop.execute { [self] in
            // On the loop, which is the actor's executor: the cast `assumeIsolated` makes after
            // its own check (see ``enterFromAnywhere(with:_:)``); debug builds ask the executor.
            self.assertIsolated()
            typealias Plain = @Sendable (GameRoom) -> Void
            unsafeBitCast(body, to: Plain.self)(self)
        }
    }

    // MARK: Sending

    /// Queues an encoded message for one member (nothing if they are not connected).
    public func send(_ frame: ByteBuffer, to playerID: String) {
        self.connections[playerID]?.send(frame)
    }

    /// Queues the same encoded message for every connected member, except `excluded`.
    public func broadcast(_ frame: ByteBuffer, excluding excluded: String? = nil) {
        for (playerID, connection) in self.connections where playerID != excluded {
            connection.send(frame)
        }
    }

    /// Whether `connection` still speaks for `playerID` here (not dropped, left or replaced).
    public func isCurrent(_ playerID: String, connection: PlayerConnection) -> Bool {
        self.connections[playerID] === connection
    }

    /// The members' connection count (tests).
    public var connectionCount: Int { self.connections.count }

    // MARK: Membership

    /// Throws what ``admit(playerID:name:reconnectToken:connection:)`` would refuse `playerID` with
    /// now (`duplicate_player_id`, or `join_failed`: closed, full, started), changing nothing.
    public func checkAdmission(playerID: String) throws(RelayError) {
        guard !self.isClosed else { throw .joinFailed }
        guard self.state.player(playerID) == nil else { throw .duplicatePlayerID }
        guard self.state.acceptsJoiner else { throw .joinFailed }
    }

    /// Whether member `memberID` may join this, their own room, anew as `playerID`: leaving first
    /// frees their seat, but in a started game it would cost them that seat, and as its only member
    /// the room itself (`already_in_room`: they stay as they are). The caller leaves and joins in
    /// the same turn of the room.
    public func checkRejoin(by memberID: String, as playerID: String) throws(RelayError) {
        guard self.state.player(memberID) != nil else { return try self.checkAdmission(playerID: playerID) }
        guard !self.isClosed else { throw .joinFailed }
        guard !self.state.gameStarted, self.state.players.count > 1 else { throw .alreadyInRoom }
        guard playerID == memberID || self.state.player(playerID) == nil else { throw .duplicatePlayerID }
    }

    /// Adds a player on `connection`; the caller announces it, then tells the observers
    /// (``tellObservers(joined:)``).
    public func admit(
        playerID: String, name: String, reconnectToken: String, connection: PlayerConnection
    )
        throws(RelayError) -> RoomPlayer
    {
        try self.checkAdmission(playerID: playerID)
        // The server closed it (replaced by a reconnect elsewhere, say), or its client hung up,
        // while its join was on the way: it can speak for no one, and a seat taken now would only
        // be held for its window.
        guard connection.canTakeASeat else {
            if self.state.isAbandoned { self.close() }  // made for this connection: nobody to keep it for
            throw .joinFailed
        }
        // A dropped member makes way (`player_left`, as at their window's end), but not for a
        // joiner under a taken id, whom `addPlayer` refuses as a duplicate.
        if self.state.player(playerID) == nil, let away = self.state.memberMakingWay {
            self.remove(away.id, clearingReadyFlags: false)
            try self.checkAdmission(playerID: playerID)  // an observer told of it may have closed the room
        }
        let player = try self.state.addPlayer(id: playerID, name: name, reconnectToken: reconnectToken)
        guard self.claimPlace() else {
            // Evicted meanwhile: the eviction removes who is here, and they never joined.
            self.state.removePlayer(playerID, clearingReadyFlags: false)
            throw .joinFailed
        }
        self.connections[playerID] = connection
        self.publish()
        return player
    }

    /// Starts the game if `playerID` may (``RoomState/checkStart(by:)``). Members who dropped from
    /// the lobby leave first (`player_left`, as at their window's end, the others' ready flags kept):
    /// a lobby seat holds no game to come back to, and their window would otherwise hold up a start
    /// that every player the others see is ready for. The caller announces the start.
    public func startGame(by playerID: String, nowMilliseconds: Double) throws(RelayError) {
        try self.state.checkStart(by: playerID)
        for away in self.state.players.filter({ !$0.isConnected }) {
            self.remove(away.id, clearingReadyFlags: false)
        }
        try self.state.startGame(by: playerID, nowMilliseconds: nowMilliseconds)
    }

    /// A member leaves for good: the others get `player_left`.
    public func leave(playerID: String, connection: PlayerConnection) {
        self.leave(playerID: playerID, connection: connection, unlessItsSocketClosed: false)
    }

    /// ``leave(playerID:connection:)``, but with `unlessItsSocketClosed` not for a connection that
    /// can take no seat any more (checked in this turn): it stays, to drop with a window. Whether
    /// the connection is now out of the room.
    @discardableResult
    public func leave(playerID: String, connection: PlayerConnection, unlessItsSocketClosed: Bool) -> Bool {
        guard self.isCurrent(playerID, connection: connection) else { return true }
        guard !unlessItsSocketClosed || connection.canTakeASeat else { return false }
        self.connections[playerID] = nil
        self.remove(playerID)
        return true
    }

    /// A member's socket closed without `leave_room`: they may come back within the window.
    public func drop(playerID: String, connection: PlayerConnection) {
        guard self.isCurrent(playerID, connection: connection), let player = self.state.player(playerID) else { return }
        self.connections[playerID] = nil
        self.state.markDisconnected(playerID)
        self.broadcast(self.departure("player_disconnected", player: player, canReconnect: true))
        self.logger.debug("room.player.dropped", metadata: ["player.id": "\(playerID)"])
        self.expiryTimers[playerID]?.scheduled.cancel()
        self.drops += 1
        let drop = self.drops
        let scheduled = self.scheduleOnLoop(after: self.state.limits.reconnectWindow) { room in
            room.expire(playerID, drop: drop)
        }
        self.expiryTimers[playerID] = ExpiryTimer(scheduled: scheduled, drop: drop)
        self.publish()
        if let away = self.state.player(playerID) { self.tell(.dropped(away)) }
    }

    /// Restores a member on a new connection if `token` is theirs; a still-open old
    /// connection is closed as replaced. The caller announces it.
    public func resume(
        playerID: String, token: String, newToken: String, connection: PlayerConnection
    )
        throws(RelayError) -> RoomPlayer
    {
        // A connection already over takes nothing: not the seat, not the token, and not the place
        // of a live connection the player reconnected on meanwhile.
        guard connection.canTakeASeat else { throw .reconnectFailed }
        let player = try self.state.reconnect(playerID, token: token, newToken: newToken)
        guard self.claimPlace() else {
            // Evicted meanwhile: they are still away when the eviction removes them.
            self.state.markDisconnected(playerID)
            throw .reconnectFailed
        }
        if let previous = self.connections[playerID], previous !== connection {
            previous.close(code: RelayCloseCode.replaced)
        }
        self.connections[playerID] = connection
        self.expiryTimers.removeValue(forKey: playerID)?.scheduled.cancel()
        self.publish()
        return player
    }

    /// Whether a player the caller let in may connect: a vacant room asks the registry first,
    /// which may just have evicted it (the `evict()` it queued then removes that player too).
    private func claimPlace() -> Bool {
        !self.connections.isEmpty || self.registry?.reoccupy(self) == true
    }

    /// The reconnect window of a member's `drop` (the room's count of drops) ran out; a window
    /// of an earlier drop, cancelled too late, is not theirs to end.
    func expire(_ playerID: String, drop: UInt64) {
        guard self.expiryTimers[playerID]?.drop == drop else { return }
        self.expiryTimers[playerID] = nil
        guard let player = self.state.player(playerID), !player.isConnected else { return }
        self.remove(playerID, clearingReadyFlags: false)
    }

    /// Ends dropped member `playerID`'s reconnect window now, as its timer would: for tests, which
    /// must not depend on the clock.
    package func expireNow(_ playerID: String) {
        guard let timer = self.expiryTimers[playerID] else { return }
        timer.scheduled.cancel()
        self.expire(playerID, drop: timer.drop)
    }

    /// A member leaves for good (`player_left`). In a lobby a departure clears everyone's ready
    /// flag (PROTOCOL.md); a member who had dropped cleared them as they dropped, so
    /// `clearingReadyFlags` is false when they go at last: the flags set since are kept.
    private func remove(_ playerID: String, clearingReadyFlags: Bool = true) {
        guard let player = self.state.player(playerID) else { return }
        self.expiryTimers.removeValue(forKey: playerID)?.scheduled.cancel()
        self.state.removePlayer(playerID, clearingReadyFlags: clearingReadyFlags)
        self.broadcast(self.departure("player_left", player: player, canReconnect: false))
        self.tell(.left(player))
        if self.state.isAbandoned {
            self.close()
        } else {
            self.publish()
        }
    }

    /// Removes member `playerID` as if they had left: a handler's way to kick someone. The others
    /// get `player_left`; the member, if connected, gets `room_left` (with `reason`, when given)
    /// and keeps their socket, and their next room message gets `not_in_room`, once. Their seat,
    /// values and reconnect token are gone, but nothing stops a `join_room` of theirs, under this
    /// id or another: refusing one is a filter's job. Returns false when there is no such member.
    @discardableResult
    public func removeMember(_ playerID: String, reason: String? = nil) -> Bool {
        guard let player = self.state.player(playerID) else { return false }
        if let connection = self.connections.removeValue(forKey: playerID) {
            var notice = OutboundMessage(type: "room_left")
            if let reason { notice.add("reason", reason) }
            connection.send(notice.encoded())
        }
        // A dropped member's drop cleared the flags already; those set since stay, as when their
        // window ends.
        self.remove(playerID, clearingReadyFlags: player.isConnected)
        return true
    }

    /// The registry made way for a new room while every member was away: their windows end now.
    func evict() {
        self.logger.debug("room.evicted")
        for player in self.state.players { self.remove(player.id) }
    }

    /// Forgets the room: it admits nobody from now on; once its observers have heard of it (later
    /// in this turn, if one of them closed it), it cancels its timers, gives back its entities'
    /// bytes, drops its chat history and the handlers' values and leaves the registry
    /// (``finishClosing()``).
    private func close() {
        // Once: an observer told of the last departure may have closed it already.
        guard !self.isClosed else { return }
        self.isClosed = true  // at once: a closing room admits nobody and sets no timer
        self.tell(.closing)  // which finishes closing once the observers have been told
    }

    /// The rest of ``close()``, once the observers have been told.
    private func finishClosing() {
        for timer in self.expiryTimers.values { timer.scheduled.cancel() }
        self.expiryTimers.removeAll()
        for timer in self.handlerTimers.values { timer.cancel() }
        self.handlerTimers.removeAll()
        self.state.forgetEntities()
        self.state.forgetChat()
        self.state.custom = CustomValues()
        self.registry?.remove(self)
        self.logger.debug("room.closed")
    }

    // MARK: Observers

    /// What observers are told of (``RoomObserver``).
    private enum ObservedEvent {
        case joined(RoomPlayer)
        case reconnected(RoomPlayer)
        case dropped(RoomPlayer)
        case left(RoomPlayer)
        case closing
    }

    /// Tells the observers that `player` joined. The built-in `create_room` and `join_room` call it
    /// once they have announced the join; a handler of its own that calls ``admit(playerID:name:reconnectToken:connection:)``
    /// does the same. Never from an observer: one that tells of a join as it hears of it never ends.
    public func tellObservers(joined player: RoomPlayer) {
        self.tell(.joined(player))
    }

    /// Tells the observers that `player` reconnected, once announced (as
    /// ``tellObservers(joined:)``, after ``resume(playerID:token:newToken:connection:)``).
    public func tellObservers(reconnected player: RoomPlayer) {
        self.tell(.reconnected(player))
    }

    /// Tells every observer of `event`, in the order events happen: one that an observer causes
    /// while told of another (a member it removes) is told to all once that one has been, so no
    /// observer hears of a departure before the join it follows, or of anything after the closing.
    private func tell(_ event: ObservedEvent) {
        if self.observers.isEmpty {
            if case .closing = event { self.finishClosing() }
            return
        }
        self.observedEvents.append(event)
        guard !self.isTellingObservers else { return }  // the call telling the earlier one goes on to it
        self.isTellingObservers = true
        defer { self.isTellingObservers = false }
        var next = 0
        while next < self.observedEvents.count {
            let event = self.observedEvents[next]
            next += 1
            for observer in self.observers {
                switch event {
                case .joined(let player): observer.memberJoined(player, in: self)
                case .reconnected(let player): observer.memberReconnected(player, in: self)
                case .dropped(let player): observer.memberDropped(player, in: self)
                case .left(let player): observer.memberLeft(player, in: self)
                case .closing: observer.roomClosing(self)
                }
            }
            if case .closing = event { self.finishClosing() }
        }
        self.observedEvents.removeAll()
    }

    // MARK: Handlers' timers

    /// Runs `body` in the room after `delay`, unless the timer is cancelled first or the room
    /// closes: a handler's way to send what nobody asked for, such as the end of a round. Keep the
    /// timer (in ``RoomState/custom``, say) to cancel or replace it.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping @Sendable (isolated GameRoom) -> Void) -> RoomTimer {
        self.timersScheduled += 1
        let number = self.timersScheduled
        let timer = RoomTimer(room: ObjectIdentifier(self), number: number)
        guard !self.isClosed else { return timer }
        self.handlerTimers[number] = self.scheduleOnLoop(after: delay) { room in
            // NIO may still run a timer cancelled once it was due in the loop's batch.
            guard room.handlerTimers.removeValue(forKey: number) != nil else { return }
            body(room)
        }
        return timer
    }

    /// Cancels `timer`, one of this room's, if it has not run yet.
    public func cancelTimer(_ timer: RoomTimer) {
        guard timer.room == ObjectIdentifier(self) else { return }
        self.handlerTimers.removeValue(forKey: timer.number)?.cancel()
    }

    /// Handlers' timers still to run (tests).
    package var pendingHandlerTimers: Int { self.handlerTimers.count }

    /// Tells the registry how the room looks now (for `/api/rooms`), and whether it is vacant:
    /// members left to come back, none connected.
    public func publish() {
        // A closing room's entry is on its way out; a held room is published once it is done.
        guard !self.isClosed, self.publicationHolds == 0 else { return }
        let joinable = self.state.acceptsJoiner
        let vacant = self.connections.isEmpty && !self.state.players.isEmpty
        self.registry?.publish(self, info: self.state.roomInfo, joinable: joinable, vacant: vacant)
    }

    /// Runs `body` with the registry told how the room looks only once it is done: a member who
    /// leaves and joins again within it (a `join_room` into their own room) must not show the room
    /// vacant meanwhile, when a `create_room` at the server's cap could evict it.
    public func holdingPublication<Result, Failure: Error>(
        _ body: (isolated GameRoom) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        self.publicationHolds += 1
        defer {
            self.publicationHolds -= 1
            self.publish()
        }
        return try body(self)
    }

    private func departure(_ type: String, player: RoomPlayer, canReconnect: Bool) -> ByteBuffer {
        var message = OutboundMessage(type: type)
        message.add("player_id", player.id)
        message.add("player_name", player.name)
        message.add("can_reconnect", canReconnect)
        message.add("room_info", self.state.roomInfo)
        return message.encoded()
    }

    /// Runs `body` in the room after `delay`, on the room's own event loop.
    private func scheduleOnLoop(
        after delay: Duration, _ body: @escaping @Sendable (isolated GameRoom) -> Void
    ) -> Scheduled<Void> {
        // Bridges NIO's timer callback into the actor: it fires on this room's event loop,
        // which is the actor's executor, so `assumeIsolated` holds. Weak: a timer that sets the
        // next (a handler's repeating one) must not keep a room nobody holds any more.
        return self.eventLoop.scheduleTask(in: TimeAmount(delay)) { [weak self] in
            self?.assumeIsolated { body($0) }
        }
    }
}

/// A timer a handler set in a room (``GameRoom/schedule(after:_:)``), to cancel it with
/// (``GameRoom/cancelTimer(_:)``).
public struct RoomTimer: Hashable, Sendable {
    /// The room's, so that another room's `cancelTimer` leaves it alone.
    fileprivate let room: ObjectIdentifier
    fileprivate let number: UInt64
}

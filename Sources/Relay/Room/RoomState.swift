import OrderedCollections

/// The rules of one room as a plain value: state in, outcome out, no I/O and no clock
/// of its own (callers pass `now`). ``GameRoom`` drives it and turns outcomes into messages.
public struct RoomState: Sendable {
    public let roomID: String
    public let roomName: String
    public let maxPlayers: Int
    public let limits: RelayLimits
    /// World-generation seed shared by every client (1…999,999).
    public let seed: Int
    public private(set) var hostID: String
    /// Members in join order: connected, and dropped ones still inside their reconnect window.
    public internal(set) var players: [RoomPlayer] = []
    public private(set) var gameStarted = false
    /// Epoch milliseconds at which clients start playing.
    public private(set) var gameStartTimestamp: Double?
    public private(set) var sequenceID = 0
    public private(set) var chatHistory: [JSONValue] = []
    /// Handlers' own values for the room, gone when it closes (``CustomValues``).
    public var custom = CustomValues()

    /// Living enemies, and the dead until they have been dead for ``deadEnemyRetention``.
    var enemies: OrderedDictionary<String, TrackedEnemy> = [:]
    /// Enemies dead for longer, oldest first: only their ids, so that no sync revives them.
    var departedEnemies: RememberedIDs
    /// Uncollected coins and power-ups, oldest first (the oldest make way when a list is full).
    var coins: OrderedDictionary<String, TrackedItem> = [:]
    var powerups: OrderedDictionary<String, TrackedItem> = [:]
    /// Bytes of JSON the room's enemies, coins and power-ups hold (``chargeEntityBytes(_:)``).
    public internal(set) var entityBytes = 0
    /// What the ids the room remembers hold in memory, charged to the server's total as its
    /// entities' bytes are (``remember(_:in:)``).
    public internal(set) var rememberedIDBytes = 0
    /// The server's total of those bytes, shared with its other rooms; nil: no server-wide cap.
    let entityMemory: MemoryBudget?
    /// Collected ids, oldest first, so that a coin is never collected or shown twice.
    var collectedCoins: RememberedIDs
    var collectedPowerups: RememberedIDs
    var spawnCounter = 0
    /// Taken by each `sync_entities`; made at the first.
    var syncBudget: TokenBucket?
    /// Entities the room writes out in bulk (``entityBudgetPerSecond``); made at the first use.
    var entityBudget: TokenBucket?
    /// Coins the room's enemies may drop (``entityBudgetPerSecond``), spent as each is spawned;
    /// made at the first spawn.
    var dropBudget: TokenBucket?

    /// Chat lines kept for `game_state.chat_history`.
    public static let chatHistoryLength = 20
    /// A dead enemy is still reported by `entities_sync` for this long.
    public static let deadEnemyRetention: Duration = .seconds(10)
    /// UTF-8 bytes of departed enemies', collected coins' and collected power-ups' ids a room
    /// keeps, each: 10,000 of the game's ~25-byte ids, 512 of the longest.
    public static let rememberedIDBytes = 256 * 1024
    /// `sync_entities` a room answers per second (the game's host sends one, as a game starts).
    public static let syncsPerSecond = 10.0

    /// Not public: a handler changes `room.state`, and a fresh state put in its place left the
    /// room's connections out of step with its players, so that it never closed.
    package init(
        roomID: String, roomName: String, hostID: String, maxPlayers: Int, limits: RelayLimits, seed: Int,
        entityMemory: MemoryBudget? = nil
    ) {
        self.entityMemory = entityMemory
        self.roomID = roomID
        self.roomName = roomName
        self.hostID = hostID
        self.maxPlayers = maxPlayers
        self.limits = limits
        self.seed = seed
        let remembered = RememberedIDs(countLimit: limits.maxEntitiesPerRoom * 10, byteLimit: Self.rememberedIDBytes)
        (self.departedEnemies, self.collectedCoins, self.collectedPowerups) = (remembered, remembered, remembered)
    }

    // MARK: Members

    // Who is in the room changes only through ``GameRoom`` (`admit`, `leave`, `drop`, `resume`,
    // `removeMember`, `startGame`), which keeps the members' connections and announcements in
    // step: so the changes below are not public.

    /// The member's number (``RoomPlayer/number``); 0 for someone who is not a member.
    public func number(of playerID: String) -> Int {
        self.player(playerID)?.number ?? 0
    }

    /// The number a joiner gets: the lowest no member has. Numbers followed the members' places
    /// once, and a member who left before others renumbered them: a game client still playing
    /// as the number it joined with then shared it with a newcomer.
    private var lowestFreeNumber: Int {
        var number = 1
        while self.players.contains(where: { $0.number == number }) { number += 1 }
        return number
    }

    public func player(_ playerID: String) -> RoomPlayer? {
        self.players.first { $0.id == playerID }
    }

    public var connectedPlayers: [RoomPlayer] { self.players.filter(\.isConnected) }

    /// Handlers' own values for member `playerID`, gone when they leave (``CustomValues``). Empty
    /// for someone who is not a member, and what is set for them is dropped.
    public subscript(customOf playerID: String) -> CustomValues {
        get { self.player(playerID)?.custom ?? CustomValues() }
        set {
            guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { return }
            self.players[index].custom = newValue
        }
    }

    /// Whether nobody is connected and nobody may come back.
    public var isAbandoned: Bool { self.players.isEmpty }

    /// The member a joiner displaces from a full lobby: the earliest-joined of those who dropped,
    /// while someone is still connected. A lobby seat holds no game to come back to, and the game's
    /// client, reloaded or back from a lost connection, joins anew rather than reconnecting: the old
    /// backend removed a dropped player at once, and the room was not full to them for a minute.
    public var memberMakingWay: RoomPlayer? {
        guard !self.gameStarted, self.players.count >= self.maxPlayers, self.players.contains(where: \.isConnected)
        else { return nil }
        return self.players.first { !$0.isConnected }
    }

    /// Whether a `join_room` finds a place: a lobby with a free seat, or one a dropped member makes.
    public var acceptsJoiner: Bool {
        !self.gameStarted && (self.players.count < self.maxPlayers || self.memberMakingWay != nil)
    }

    /// Adds a player if the room is open (not started, not full, id unused).
    package mutating func addPlayer(id: String, name: String, reconnectToken: String) throws(RelayError) -> RoomPlayer {
        guard !self.players.contains(where: { $0.id == id }) else { throw .duplicatePlayerID }
        guard !self.gameStarted, self.players.count < self.maxPlayers else { throw .joinFailed }
        let player = RoomPlayer(id: id, name: name, number: self.lowestFreeNumber, reconnectToken: reconnectToken)
        self.players.append(player)
        // The first member, or a joiner finding every other member dropped: a room whose host
        // is away must not wait out their window before anyone can start it.
        _ = self.electHostIfNeeded()
        return player
    }

    /// Removes a player for good. Returns whether the host changed.
    @discardableResult
    package mutating func removePlayer(_ playerID: String, clearingReadyFlags: Bool = true) -> Bool {
        self.players.removeAll { $0.id == playerID }
        if !self.gameStarted, clearingReadyFlags { self.clearReadyFlags() }
        return self.electHostIfNeeded()
    }

    /// Marks a player dropped (they keep their slot for the reconnect window). Returns whether the host changed.
    @discardableResult
    package mutating func markDisconnected(_ playerID: String) -> Bool {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { return false }
        self.players[index].isConnected = false
        if !self.gameStarted { self.clearReadyFlags() }
        return self.electHostIfNeeded()
    }

    /// Throws `reconnectFailed` unless `token` is member `playerID`'s newest or last-used
    /// reconnect token: what a `reconnect` checks before anything else refuses it.
    package func checkReconnectToken(_ playerID: String, token: String) throws(RelayError) {
        _ = try self.memberIndex(playerID, token: token)
    }

    private func memberIndex(_ playerID: String, token: String) throws(RelayError) -> Int {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else {
            throw .reconnectFailed
        }
        let isNewest = constantTimeEquals(self.players[index].reconnectToken, token)
        let isLastUsed = self.players[index].lastUsedToken.map { constantTimeEquals($0, token) } ?? false
        guard isNewest || isLastUsed else { throw .reconnectFailed }
        return index
    }

    /// Restores a dropped (or replaced) player with a fresh token, if `token` is theirs: the newest
    /// one issued, or the one they last reconnected with (their client may never have received the
    /// newer one). Using a token spends every older one.
    package mutating func reconnect(
        _ playerID: String, token: String, newToken: String
    ) throws(RelayError) -> RoomPlayer {
        let index = try self.memberIndex(playerID, token: token)
        self.players[index].isConnected = true
        self.players[index].lastUsedToken = token
        self.players[index].reconnectToken = newToken
        _ = self.electHostIfNeeded()
        return self.players[index]
    }

    /// Makes the earliest connected player host when the host is gone or dropped.
    private mutating func electHostIfNeeded() -> Bool {
        if self.players.contains(where: { $0.id == self.hostID && $0.isConnected }) { return false }
        guard let next = self.players.first(where: \.isConnected) ?? self.players.first else { return false }
        guard next.id != self.hostID else { return false }
        self.hostID = next.id
        return true
    }

    private mutating func clearReadyFlags() {
        for index in self.players.indices { self.players[index].isReady = false }
    }

    // MARK: Lobby

    /// Sets (or toggles, when `isReady` is nil) the player's ready flag and returns it.
    public mutating func setReady(_ playerID: String, _ isReady: Bool?) -> Bool {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { return false }
        self.players[index].isReady = isReady ?? !self.players[index].isReady
        return self.players[index].isReady
    }

    /// Whether `playerID` may start the game: the host, before the start, with at least two
    /// connected members, all ready. Members who dropped from the lobby do not count: the room's
    /// `room_info` does not list them, and ``GameRoom/startGame(by:nowMilliseconds:)`` lets them go.
    public func checkStart(by playerID: String) throws(RelayError) {
        try self.requireHost(playerID)
        guard !self.gameStarted else { throw .gameAlreadyStarted }
        let present = self.players.filter(\.isConnected)
        guard present.count >= 2, present.allSatisfy(\.isReady) else { throw .startFailed }
    }

    /// Starts the game if `playerID` is host and every player (at least two, all connected) is ready.
    package mutating func startGame(by playerID: String, nowMilliseconds: Double) throws(RelayError) {
        try self.requireHost(playerID)
        guard !self.gameStarted else { throw .gameAlreadyStarted }
        guard self.players.count >= 2, self.players.allSatisfy({ $0.isReady && $0.isConnected }) else {
            throw .startFailed
        }
        self.gameStarted = true
        self.gameStartTimestamp = nowMilliseconds + 500
    }

    public func requireHost(_ playerID: String) throws(RelayError) {
        guard playerID == self.hostID else { throw .notHost }
    }

    /// The next per-room sequence number.
    public mutating func nextSequence() -> Int {
        self.sequenceID += 1
        return self.sequenceID
    }

    // MARK: Player state

    /// Checks `state` and copies its known keys into the server's copy of the player.
    ///
    /// Returns the state to relay: identity keys removed, everything else as sent.
    public mutating func applyPlayerState(
        _ playerID: String, _ state: [String: JSONValue]
    ) throws(RelayError)
        -> [String: JSONValue]
    {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { throw .notInRoom }
        for (key, value) in state {
            guard let kind = RoomPlayer.movableKeys[key] else { continue }
            guard kind.accepts(value) else { throw .invalidField("state.\(key)", expected: "a \(kind)") }
        }
        // Lengths only once every kind is right: the fast path reports a wrong kind first too.
        for (key, value) in state where RoomPlayer.movableKeys[key] != nil {
            if case .string(let text) = value, text.unicodeScalars.count > RoomPlayer.maxStringLength {
                throw .tooLong("state.\(key)", limit: RoomPlayer.maxStringLength)
            }
        }
        var relayed = state
        for (key, value) in state {
            if RoomPlayer.movableKeys[key] != nil {
                self.players[index].state[key] = value.roundingFloats()  // kept as relayed
            } else if RoomPlayer.identityKeys.contains(key) {
                relayed[key] = nil
            }
        }
        return relayed
    }

    /// Lets `update` change the server's copy of a player's state, unchecked: the `player_state`
    /// fast path, which has checked the values itself. A handler setting what a client sent uses
    /// ``applyPlayerState(_:_:)``, which checks kinds and lengths as `player_state` is checked.
    public mutating func updateState(
        of playerID: String, _ update: (inout PlayerState) -> Void
    )
        throws(RelayError)
    {
        guard let index = self.players.firstIndex(where: { $0.id == playerID }) else { throw .notInRoom }
        update(&self.players[index].state)
    }

    /// The host moves another player (the `assist` action) along each axis it gives (one not given
    /// stays, as the old server's did). Returns the id of that player as the room keeps it
    /// (`target` may spell it another canonically equivalent way, which Swift's `==` takes for the
    /// same, while clients compare code points) and where it now is; `nil` when `playerID` is not
    /// the host or `target` is not in the room.
    public mutating func assist(
        by playerID: String, target: String, x: Double?, y: Double?
    ) -> (id: String, x: JSONValue, y: JSONValue)? {
        guard playerID == self.hostID, let index = self.players.firstIndex(where: { $0.id == target }) else {
            return nil
        }
        // Kept as the room is told of it, rounded.
        if let x { self.players[index].state["x"] = .number(JSONWriter.roundedToHundredths(x)) }
        if let y { self.players[index].state["y"] = .number(JSONWriter.roundedToHundredths(y)) }
        let state = self.players[index].state
        return (self.players[index].id, state["x"] ?? .integer(0), state["y"] ?? .integer(0))
    }

    // MARK: Chat

    /// Records a chat line while the game runs (last ``chatHistoryLength`` kept).
    public mutating func recordChat(_ line: JSONValue) {
        guard self.gameStarted else { return }
        self.chatHistory.append(line)
        if self.chatHistory.count > Self.chatHistoryLength { self.chatHistory.removeFirst() }
    }

    /// Drops the chat history: for a room that closes.
    mutating func forgetChat() {
        self.chatHistory.removeAll()
    }
}

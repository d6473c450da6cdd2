@testable import Relay

/// A reference model of the rooms, written from PROTOCOL.md §2 and the README's room rules rather
/// than from the server's code: what every member, room list and `game_state` should show.
/// Reference types, as the driver changes players and rooms in place while it builds what each
/// client should receive.
final class ModelPlayer {
    let id: String
    let name: String
    let number: Int
    var isReady = false
    /// The client speaking for this player; nil while dropped.
    var client: Int?
    /// The newest reconnect token, and the one used last (good until the newer is used).
    var token: String?
    var usedToken: String?
    /// Tokens no longer good.
    var spentTokens: [String] = []
    var score = 0
    var coins = 0
    var x: Double
    var y: Double
    var velocityX: Double = 0
    var isJumping = false
    var skin: String
    /// The other keys a `player_state` may update, with PROTOCOL.md's defaults (README lists them).
    var looks: [String: JSONValue] = [
        "velocity_y": 0, "health": 100, "lives": 3, "weapon": "raygun", "is_alive": true, "facing_right": true,
        "is_shooting": false, "checkpoint": 0,
    ]

    init(id: String, name: String, number: Int) {
        self.id = id
        self.name = name
        self.number = number
        self.x = number == 1 ? 400 : 500
        self.y = 550
        self.skin = number == 1 ? "alienGreen" : "alienPink"
    }

    /// Another player just like this one (for a model that tries two orders of a race).
    func copy() -> ModelPlayer {
        let copy = ModelPlayer(id: self.id, name: self.name, number: self.number)
        (copy.isReady, copy.client, copy.token, copy.usedToken) = (
            self.isReady, self.client, self.token, self.usedToken
        )
        (copy.spentTokens, copy.score, copy.coins) = (self.spentTokens, self.score, self.coins)
        (copy.x, copy.y, copy.velocityX, copy.isJumping) = (self.x, self.y, self.velocityX, self.isJumping)
        (copy.skin, copy.looks) = (self.skin, self.looks)
        return copy
    }
}

/// An enemy as the room should know it: its fields, where it is and its drop (for `enemy_killed`),
/// and when it died at the latest (the room keeps a dead enemy 10 s).
struct ModelEnemy {
    var fields: [String: JSONValue]
    var x: Coordinate
    var y: Coordinate
    var coinReward: Int
    /// Taken before the message that killed it was sent: it has been dead no longer than since.
    var diedBefore: ContinuousClock.Instant?
    var isAlive: Bool { self.diedBefore == nil }
    var json: JSONValue { .object(self.fields) }
    /// Dead for less than 9 s by this clock (so surely for less than 10 by the room's), or alive.
    var isSurelyKept: Bool { self.diedBefore.map { ContinuousClock.now - $0 < .seconds(9) } ?? true }

    /// A spawned enemy, as README says a spawn fills it in.
    static func spawned(_ id: String, x: Coordinate, y: Coordinate, coinReward: Int) -> ModelEnemy {
        let fields: [String: JSONValue] = [
            "enemy_id": .string(id), "enemy_type": "fly", "x": x.sent, "y": y.sent, "velocity_x": 0, "velocity_y": 0,
            "health": 10, "max_health": 10, "coin_reward": .integer(Int64(coinReward)), "scale": 1.0,
            "is_alive": true, "facing_right": true, "state": "idle",
        ]
        return ModelEnemy(fields: fields, x: x, y: y, coinReward: coinReward)
    }

    /// A living enemy a `sync_entities` added: as sent.
    static func synced(_ fields: [String: JSONValue], x: Coordinate, y: Coordinate) -> ModelEnemy {
        ModelEnemy(fields: fields, x: x, y: y, coinReward: fields["coin_reward"]?.doubleValue.map { Int($0) } ?? 0)
    }

    /// An `enemy_state` merged in: every key but identity and reward; a death if it says so.
    mutating func update(with state: [String: JSONValue], x: Coordinate, y: Coordinate, sentAt: ContinuousClock.Instant)
    {
        for (key, value) in state where !["enemy_id", "coin_reward", "coinReward", "killed_by"].contains(key) {
            self.fields[key] = value
        }
        (self.x, self.y) = (x, y)
        if self.isAlive, state["is_alive"] == false { self.diedBefore = sentAt }
        if !self.isAlive { self.markDead() }
    }

    mutating func kill(by playerID: String, sentAt: ContinuousClock.Instant) {
        self.diedBefore = sentAt
        self.markDead()
        self.fields["killed_by"] = .string(playerID)
    }

    private mutating func markDead() {
        self.fields["is_alive"] = false
        self.fields["state"] = "dead"
    }
}

final class ModelRoom {
    let code: String
    let name: String
    let maxPlayers: Int
    /// In join order, dropped members included.
    var players: [ModelPlayer] = []
    var hostID: String
    var isStarted = false
    var sequenceID = 0
    var collectedCoins: Set<String> = []
    var collectedPowerups: Set<String> = []
    var enemies: [String: ModelEnemy] = [:]
    /// Uncollected coins and power-ups, by id.
    var coins: [String: JSONValue] = [:]
    var powerups: [String: JSONValue] = [:]
    /// Chat lines while the game runs, as the room sent them.
    var chat: [JSONValue] = []
    /// The world's seed and the start's time, as the first `game_state` showed them.
    var seed: JSONValue?
    var startTimestamp: JSONValue?
    /// The order in which the room became vacant (every member dropped) among all rooms, for
    /// eviction at `--max-rooms`: lowest first.
    var vacantSince: Int?

    init(code: String, name: String, maxPlayers: Int, hostID: String) {
        self.code = code
        self.name = name
        self.maxPlayers = maxPlayers
        self.hostID = hostID
    }

    /// Another room just like this one, its players copied too.
    func copy() -> ModelRoom {
        let copy = ModelRoom(code: self.code, name: self.name, maxPlayers: self.maxPlayers, hostID: self.hostID)
        (copy.players, copy.isStarted, copy.sequenceID) = (
            self.players.map { $0.copy() }, self.isStarted, self.sequenceID
        )
        (copy.collectedCoins, copy.collectedPowerups) = (self.collectedCoins, self.collectedPowerups)
        (copy.enemies, copy.coins, copy.powerups, copy.chat) = (self.enemies, self.coins, self.powerups, self.chat)
        (copy.seed, copy.startTimestamp, copy.vacantSince) = (self.seed, self.startTimestamp, self.vacantSince)
        return copy
    }

    func player(_ id: String) -> ModelPlayer? { self.players.first { $0.id == id } }
    func number(of id: String) -> Int { self.player(id)?.number ?? 0 }
    /// A joiner's number: the lowest no member has (README, "Rooms").
    var lowestFreeNumber: Int { (1...).first { number in !self.players.contains { $0.number == number } }! }
    var connected: [ModelPlayer] { self.players.filter { $0.client != nil } }
    var isVacant: Bool { !self.players.isEmpty && self.connected.isEmpty }

    /// The host stays while connected; else the earliest connected member takes over (the first
    /// member when nobody is).
    func electHost() {
        if self.player(self.hostID)?.client != nil { return }
        if let next = self.connected.first ?? self.players.first { self.hostID = next.id }
    }

    func clearReadyFlags() {
        for player in self.players { player.isReady = false }
    }

    /// A lobby full only because a member dropped: its earliest dropped member makes way for a
    /// joiner while someone is still connected.
    var memberMakingWay: ModelPlayer? {
        guard !self.isStarted, self.players.count >= self.maxPlayers, !self.connected.isEmpty else { return nil }
        return self.players.first { $0.client == nil }
    }

    var acceptsJoiner: Bool { !self.isStarted && (self.players.count < self.maxPlayers || self.memberMakingWay != nil) }

    /// `room_info`: the connected members only.
    var info: Expected {
        .object([
            "room_id": .string(self.code), "room_name": .string(self.name),
            "host_id": .string(self.hostID), "player_count": .int(self.connected.count),
            "max_players": .int(self.maxPlayers), "game_started": .bool(self.isStarted),
            "players": .array(
                self.connected.map { player in
                    .object([
                        "player_id": .string(player.id), "player_name": .string(player.name),
                        "player_number": .int(self.number(of: player.id)),
                        "is_ready": .bool(player.isReady), "skin": .string(player.skin),
                    ])
                }),
        ])
    }

    /// `player_left` or `player_disconnected` about `player`, as the room is now.
    func departure(_ type: String, of player: ModelPlayer, canReconnect: Bool) -> Expected {
        .message(
            type,
            [
                "player_id": .string(player.id), "player_name": .string(player.name),
                "can_reconnect": .bool(canReconnect), "room_info": self.info,
            ])
    }

    /// `game_state` as a start or a reconnect sends it: the seed and the start's time as the room's
    /// first showed them (the start's is checked against its clock by the driver), the server's
    /// clock only for its kind.
    func gameState(sequenceID: Int) -> Expected {
        let players = Dictionary(
            uniqueKeysWithValues: self.players.map { player in
                (
                    player.id,
                    Expected.object(
                        player.looks.mapValues { $0.doubleValue.map(Expected.near) ?? .value($0) }.merging([
                            "player_id": .string(player.id), "player_name": .string(player.name),
                            "player_number": .int(self.number(of: player.id)), "score": .int(player.score),
                            "coins": .int(player.coins), "skin": .string(player.skin), "x": .near(player.x),
                            "y": .near(player.y), "velocity_x": .near(player.velocityX),
                            "is_jumping": .bool(player.isJumping),
                        ]) { $1 })
                )
            })
        let livingEnemies = self.enemies.filter(\.value.isAlive).mapValues(\.json)
        let seed =
            self.seed.map(Expected.value)
            ?? .satisfying("an integer seed in 1…999999") { seed in
                if case .integer(let value) = seed { (1...999_999).contains(value) } else { false }
            }
        let start: Expected = self.isStarted ? self.startTimestamp.map(Expected.value) ?? .anyNumber : .value(nil)
        return .object([
            "seed": seed, "level": .value(1), "game_mode": .value("online_coop"), "sequence_id": .int(sequenceID),
            "server_timestamp": .anyNumber, "game_start_timestamp": start, "players": .object(players),
            "enemies": .entities("enemy_id", livingEnemies), "coins": .entities("coin_id", self.coins),
            "powerups": .entities("powerup_id", self.powerups), "projectiles": .value([]),
            "collected_coins": .sameStrings(self.collectedCoins),
            "collected_powerups": .sameStrings(self.collectedPowerups),
            "chat_history": .array(self.chat.suffix(20).map(Expected.value)),
        ])
    }

    /// Learns the seed and the start's time from a `game_state` that matched ``gameState(sequenceID:)``.
    func learn(from gameState: JSONValue?) {
        if self.seed == nil { self.seed = gameState?["seed"] }
        if self.isStarted, self.startTimestamp == nil { self.startTimestamp = gameState?["game_start_timestamp"] }
    }
}

extension Expected {
    /// A number within a rounding of `value` (the server may keep a position rounded or as sent).
    static func near(_ value: Double) -> Expected {
        .satisfying("about \(value)") { abs(($0.doubleValue ?? .infinity) - value) <= 0.0051 }
    }

    /// An array of objects, in any order, each under its `key`: every one of `entities`, and any of
    /// `perhaps`, each once and with the fields given (a number within a rounding: a room may write
    /// what it keeps rounded or as sent).
    static func entities(
        _ key: String, _ entities: [String: JSONValue], perhaps: [String: JSONValue] = [:]
    ) -> Expected {
        .satisfying(
            "objects under \(key) \(entities.keys.sorted()), perhaps \(perhaps.keys.sorted()), as the model has them"
        ) {
            value in
            guard let array = value.arrayValue else { return false }
            let listed = Dictionary(array.map { ($0[key]?.stringValue ?? "", $0) }) { first, _ in first }
            return listed.count == array.count && Set(entities.keys).isSubset(of: listed.keys)
                && listed.allSatisfy { id, object in
                    (entities[id] ?? perhaps[id]).map { roughlySame($0, object) } == true
                }
        }
    }

    /// JSON equality with numbers within a rounding to two decimals.
    static func roughlySame(_ expected: JSONValue, _ actual: JSONValue) -> Bool {
        switch (expected, actual) {
        case (.array(let left), .array(let right)):
            left.count == right.count && zip(left, right).allSatisfy { roughlySame($0, $1) }
        case (.object(let left), .object(let right)):
            left.count == right.count
                && left.allSatisfy { key, value in right[key].map { roughlySame(value, $0) } == true }
        default:
            if let left = expected.doubleValue, let right = actual.doubleValue {
                abs(left - right) <= 0.0051
            } else {
                expected == actual
            }
        }
    }

    /// An array of exactly these strings, in any order.
    static func sameStrings(_ strings: Set<String>) -> Expected {
        .satisfying("the strings \(strings.sorted())") { value in
            guard let array = value.arrayValue else { return false }
            let listed = array.compactMap(\.stringValue)
            return listed.count == array.count && Set(listed) == strings && listed.count == strings.count
        }
    }
}

/// A coordinate a client sends, and what the server should make of it: rounded to two decimals
/// when relayed, truncated for coin drops. Only values whose rounding is unambiguous (no tie, no
/// carry into the next integer) are drawn: the exact rounding has tests of its own.
struct Coordinate {
    let sent: JSONValue
    let rounded: JSONValue
    let truncated: Int
    var value: Double { self.sent.doubleValue! }

    static func random(using random: inout some RandomNumberGenerator) -> Coordinate {
        if Bool.random(using: &random) {
            let whole = Int.random(in: -2_000...2_000, using: &random)
            return Coordinate(sent: .integer(Int64(whole)), rounded: .integer(Int64(whole)), truncated: whole)
        }
        // Thousandths, never ending in 5 (a tie) nor past .989 (rounding up to the next integer).
        var thousandths = Int.random(in: -2_000_000...2_000_000, using: &random)
        while thousandths.magnitude % 10 == 5 || thousandths.magnitude % 1_000 > 989 { thousandths += 1 }
        let hundredths = (Int(thousandths.magnitude) + 5) / 10 * thousandths.signum()
        return Coordinate(
            sent: .number(Double(thousandths) / 1_000), rounded: .number(Double(hundredths) / 100),
            truncated: thousandths / 1_000)
    }
}

/// The coins an enemy killed at (`x`, `y`) drops (PROTOCOL.md §2), with Python's modulo.
func coinDrops(x: Int, y: Int, count: Int) -> [(id: String, coin: JSONValue)] {
    func mod(_ value: Int, _ divisor: Int) -> Int { ((value % divisor) + divisor) % divisor }
    return (0..<count).map { index in
        let id = "coin_drop_\(x)_\(y)_\(index)"
        let coin: JSONValue = [
            "coin_id": .string(id), "x": .integer(Int64(x + mod(x * 7 + index * 13, 61) - 30)),
            "y": .integer(Int64(y + mod(y * 11 + index * 17, 21) - 20)),
            "velocity_x": .integer(Int64(mod(x * 3 + index * 19, 201) - 100)),
            "velocity_y": .integer(Int64(-200 + mod(y * 5 + index * 23, 101))), "value": 1, "is_collected": false,
            "collected_by": nil,
        ]
        return (id, coin)
    }
}

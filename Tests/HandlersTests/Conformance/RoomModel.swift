@testable import Relay

/// A reference model of the rooms, written from PROTOCOL.md §2 and the README's room rules rather
/// than from the server's code: what every member, room list and `game_state` should show.
/// Reference types, as the driver changes players and rooms in place while it builds what each
/// client should receive.
final class ModelPlayer {
    let id: String
    let name: String
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

    init(id: String, name: String, number: Int) {
        self.id = id
        self.name = name
        self.x = number == 1 ? 400 : 500
        self.y = 550
        self.skin = number == 1 ? "alienGreen" : "alienPink"
    }
}

/// An enemy as the room should know it: where it is and its drop, for `enemy_killed`.
struct ModelEnemy {
    var isAlive = true
    var x: Coordinate
    var y: Coordinate
    var coinReward: Int
    /// Added by a `sync_entities`: kept as sent, without a spawn's defaults (`is_alive` among them)
    /// until it dies.
    var fromSync = false
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
    var coins: Set<String> = []
    var powerups: Set<String> = []
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

    func player(_ id: String) -> ModelPlayer? { self.players.first { $0.id == id } }
    func number(of id: String) -> Int { (self.players.firstIndex { $0.id == id } ?? -1) + 1 }
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

    /// `game_state` as a start or a reconnect sends it: the seed and the start's time as the room's
    /// first showed them (the start's is checked against its clock by the driver), the server's
    /// clock only for its kind.
    func gameState(sequenceID: Int) -> Expected {
        let players = Dictionary(
            uniqueKeysWithValues: self.players.map { player in
                (
                    player.id,
                    Expected.object([
                        "player_id": .string(player.id), "player_name": .string(player.name),
                        "player_number": .int(self.number(of: player.id)), "score": .int(player.score),
                        "coins": .int(player.coins), "skin": .string(player.skin), "x": .near(player.x),
                        "y": .near(player.y), "velocity_x": .near(player.velocityX), "velocity_y": .value(0),
                        "is_jumping": .bool(player.isJumping), "health": .value(100), "lives": .value(3),
                        "weapon": .string("raygun"), "is_alive": .bool(true), "facing_right": .bool(true),
                        "is_shooting": .bool(false), "checkpoint": .value(0),
                    ])
                )
            })
        let livingEnemies = Set(self.enemies.filter(\.value.isAlive).keys)
        let seed =
            self.seed.map(Expected.value)
            ?? .satisfying("an integer seed in 1…999999") { seed in
                if case .integer(let value) = seed { (1...999_999).contains(value) } else { false }
            }
        let start: Expected = self.isStarted ? self.startTimestamp.map(Expected.value) ?? .anyNumber : .value(nil)
        return .object([
            "seed": seed, "level": .value(1), "game_mode": .value("online_coop"), "sequence_id": .int(sequenceID),
            "server_timestamp": .anyNumber, "game_start_timestamp": start, "players": .object(players),
            "enemies": .ids("enemy_id", livingEnemies), "coins": .ids("coin_id", self.coins),
            "powerups": .ids("powerup_id", self.powerups), "projectiles": .value([]),
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

    /// An array of objects whose `key`s are exactly `ids`, in any order.
    static func ids(_ key: String, _ ids: Set<String>) -> Expected {
        .satisfying("objects with \(key)s \(ids.sorted())") { value in
            guard let array = value.arrayValue else { return false }
            let listed = array.compactMap { $0[key]?.stringValue }
            return listed.count == array.count && Set(listed) == ids && listed.count == ids.count
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
func coinDrops(x: Int, y: Int, count: Int) -> [Expected] {
    func mod(_ value: Int, _ divisor: Int) -> Int { ((value % divisor) + divisor) % divisor }
    return (0..<count).map { index in
        .object([
            "coin_id": .string("coin_drop_\(x)_\(y)_\(index)"),
            "x": .int(x + mod(x * 7 + index * 13, 61) - 30),
            "y": .int(y + mod(y * 11 + index * 17, 21) - 20),
            "velocity_x": .int(mod(x * 3 + index * 19, 201) - 100),
            "velocity_y": .int(-200 + mod(y * 5 + index * 23, 101)),
            "value": .value(1), "is_collected": .value(false), "collected_by": .value(nil),
        ])
    }
}

@testable import Handlers
@testable import Relay

/// The messages of a game in progress (most work in a lobby too), and the odd ones out.
extension RoomConformanceRun {
    /// One action, drawn with the weights the Python tester this came from used.
    func randomAction() async throws {
        let actions: [(weight: Int, entersARoom: Bool, action: () async throws -> Void)] = [
            (6, true, self.create), (12, true, self.join), (8, false, self.ready), (8, false, self.readyAll),
            (2, false, self.dropFromALobbyThenStart),
            (4, false, self.start), (8, false, self.playerState), (6, false, self.gameAction), (8, false, self.collect),
            (6, false, self.enemySpawn), (6, false, self.enemyKilled), (6, false, self.enemyState),
            (3, false, self.coinSpawn), (3, false, self.powerupSpawn), (3, false, self.sync), (4, false, self.chat),
            (3, false, self.timeSync), (4, false, self.leave), (2, false, self.outsideARoom), (6, false, self.drop),
            (4, false, self.expire), (8, false, self.reconnect), (2, false, self.closeAnIdleClient),
            (4, false, self.refused), (2, false, self.pingOrEmote), (8, false, self.race),
            (10, false, self.raceAReconnect), (4, false, self.burst),
        ]
        var draw = Int.random(in: 0..<actions.map(\.weight).reduce(0, +), using: &self.random)
        let drawn = actions.first {
            draw -= $0.weight
            return draw < 0
        }!
        // Bounded clients: past 22 open ones, an idle one closes instead of a new one coming.
        if self.openClients.count > 22 && drawn.entersARoom { return try await self.closeAnIdleClient() }
        try await drawn.action()
    }

    func playerState() async throws {
        guard let (client, _, _) = self.pickMember() else { return }
        let move = self.moving(client)
        try await self.play(move, noting: "player_state \(move.message?["state"]?.text ?? "")")
    }

    /// A `player_state`: what it sends, what the room relays of it, and what the server's copy of
    /// the player takes in (positions rounded).
    struct PlayerMove {
        let state: [String: JSONValue]
        let relayed: [String: JSONValue]
        let x: Double
        let y: Double
        let velocityX: Double
        let skin: String?
        /// The other keys README says a `player_state` updates, as relayed.
        let looks: [String: JSONValue]
        var message: JSONValue { ["type": "player_state", "state": .object(self.state)] }
    }

    /// A move, now and then with a spoofed identity, a score of its own, a skin or other looks.
    func playerMove() -> PlayerMove {
        let x = Coordinate.random(using: &self.random)
        let y = Coordinate.random(using: &self.random)
        let velocity = Coordinate.random(using: &self.random)
        var state: [String: JSONValue] = [
            "x": x.sent, "y": y.sent, "velocity_x": velocity.sent, "is_jumping": .bool(self.chance(50)),
        ]
        var relayed: [String: JSONValue] = [
            "x": x.rounded, "y": y.rounded, "velocity_x": velocity.rounded, "is_jumping": state["is_jumping"]!,
        ]
        if self.chance(20) {  // a spoof: stripped from the relay, nothing changes
            state.merge(["player_id": "hacker", "player_number": 9, "is_ready": true]) { $1 }
        }
        if self.chance(20) {  // relayed as sent; the server's count stays its own
            state["score"] = 99_999
            relayed["score"] = 99_999
        }
        var skin: String?
        if self.chance(15) {
            let newSkin = self.pick(["alienBlue", "alienYellow", "alienBeige"])!
            state["skin"] = .string(newSkin)
            relayed["skin"] = .string(newSkin)
            skin = newSkin
        }
        // Now and then the other keys README says a player_state updates (integers, strings and
        // booleans relayed as sent).
        let velocityY = Coordinate.random(using: &self.random)
        let looks: [String: (sent: JSONValue, relayed: JSONValue)] = [
            "velocity_y": (velocityY.sent, velocityY.rounded),
            "health": Self.same(.integer(Int64(Int.random(in: 0...100, using: &self.random)))),
            "lives": Self.same(.integer(Int64(Int.random(in: 0...5, using: &self.random)))),
            "checkpoint": Self.same(.integer(Int64(Int.random(in: 0...20, using: &self.random)))),
            "weapon": Self.same(.string(self.pick(["raygun", "laser", "sword"])!)),
            "is_alive": Self.same(.bool(self.chance(80))), "facing_right": Self.same(.bool(self.chance(50))),
            "is_shooting": Self.same(.bool(self.chance(50))),
        ]
        var updatedLooks: [String: JSONValue] = [:]
        for key in looks.keys.sorted() where self.chance(30) {
            state[key] = looks[key]!.sent
            relayed[key] = looks[key]!.relayed
            updatedLooks[key] = looks[key]!.relayed
        }
        return PlayerMove(
            state: state, relayed: relayed, x: x.rounded.doubleValue!, y: y.rounded.doubleValue!,
            velocityX: velocity.rounded.doubleValue!, skin: skin, looks: updatedLooks)
    }

    private static func same(_ value: JSONValue) -> (sent: JSONValue, relayed: JSONValue) { (value, value) }

    /// What the room does with client `client`'s `player_state`: the others are sent it, and the
    /// server's copy of the player moves.
    func moved(_ move: PlayerMove, by client: Int, into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        (player.x, player.y, player.velocityX) = (move.x, move.y, move.velocityX)
        player.isJumping = move.state["is_jumping"]?.boolValue ?? false
        if let skin = move.skin { player.skin = skin }
        player.looks.merge(move.looks) { $1 }
        self.toRoom(
            room,
            .message("player_state_update", ["player_id": .string(player.id), "state": .value(.object(move.relayed))]),
            excluding: client, into: &expected)
    }

    /// A `game_action`: an `assist` (the host moves a player) or any other, relayed as sent.
    func gameAction() async throws {
        guard let (client, room, player) = self.pickMember() else { return }
        let action = self.acting(by: client, in: room)
        try await self.play(action, noting: "\(action.message?.text ?? "") (host \(room.hostID), sender \(player.id))")
    }

    /// A `game_action`, and where an `assist` moves its target to (x, y).
    struct GameAction {
        let action: String
        let data: JSONValue
        let assist: (target: String, x: Coordinate, y: Coordinate)?
        var message: JSONValue { ["type": "game_action", "action": .string(self.action), "data": self.data] }
    }

    /// An `assist` of a member (of `target`, if given) or now and then of nobody, or another action.
    func gameActionToSend(in room: ModelRoom, assisting target: String? = nil) -> GameAction {
        guard target != nil || self.chance(40) else {
            let action = self.pick(["shoot", "jump", "hit"])!
            return GameAction(
                action: action, data: ["k": Coordinate.random(using: &self.random).sent, "s": "shot"], assist: nil)
        }
        let target = target ?? (self.chance(85) ? self.pick(room.players)!.id : "nobody")
        let x = Coordinate.random(using: &self.random)
        let y = Coordinate.random(using: &self.random)
        return GameAction(
            action: "assist", data: ["target_player_id": .string(target), "x": x.sent, "y": y.sent],
            assist: (target, x, y))
    }

    /// What the room does with client `client`'s `game_action`: an `assist` from the host moves
    /// its target, which the room is told first; the others are sent the action.
    func acted(_ action: GameAction, by client: Int, into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        if let assist = action.assist, player.id == room.hostID, let moved = room.player(assist.target) {
            (moved.x, moved.y) = (assist.x.rounded.doubleValue!, assist.y.rounded.doubleValue!)
            self.toRoom(
                room,
                .message(
                    "player_state_update",
                    [
                        "player_id": .string(assist.target),
                        "state": .value(["x": assist.x.rounded, "y": assist.y.rounded]),
                    ]),
                into: &expected)
        }
        self.toRoom(
            room,
            .message(
                "game_action",
                ["player_id": .string(player.id), "action": .string(action.action), "data": .value(action.data)]),
            excluding: client, into: &expected)
    }

    /// A `collect_item` of a coin or power-up (``itemToCollect(in:)``).
    func collect() async throws {
        guard let (client, room, _) = self.pickMember() else { return }
        let item = self.itemToCollect(in: room)
        try await self.play(self.collecting(item, by: client), noting: "collect_item \(item.type) \(item.id)")
    }

    /// A coin (most often) or power-up: one the room has or had, now and then a coin a living
    /// enemy will drop (its kill then brings it back uncollected), else a new id.
    func itemToCollect(in room: ModelRoom) -> (type: String, id: String) {
        let isCoin = self.chance(75)
        let known =
            isCoin
            ? Set(room.coins.keys).union(room.collectedCoins) : Set(room.powerups.keys).union(room.collectedPowerups)
        let dropToCome = room.enemies.sorted { $0.key < $1.key }.map(\.value).filter { $0.isAlive && $0.coinReward > 0 }
            .map { coinDrops(x: $0.x.truncated, y: $0.y.truncated, count: 1)[0].id }
        let itemID =
            isCoin && self.chance(40) && !dropToCome.isEmpty
            ? self.pick(dropToCome)!
            : self.chance(70) ? self.pick(known.sorted()) ?? self.freshID("c") : self.freshID(isCoin ? "c" : "pu")
        return (isCoin ? "coin" : "powerup", itemID)
    }

    static func collectItem(_ item: (type: String, id: String)) -> JSONValue {
        ["type": "collect_item", "item_type": .string(item.type), "item_id": .string(item.id)]
    }

    /// What the room does with client `client`'s `collect_item`: the first collector gets it.
    func collected(_ item: (type: String, id: String), by client: Int, into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        let isCoin = item.type == "coin"
        let isNew =
            isCoin ? room.collectedCoins.insert(item.id).inserted : room.collectedPowerups.insert(item.id).inserted
        guard isNew else {
            expected[client, default: []].append(.message("item_already_collected", ["item_id": .string(item.id)]))
            return
        }
        if isCoin {
            room.coins[item.id] = nil
            player.coins += 1
            player.score += 10
        } else {
            room.powerups[item.id] = nil
        }
        self.toRoom(
            room,
            .message(
                "item_collected",
                [
                    "player_id": .string(player.id), "item_type": .string(item.type), "item_id": .string(item.id),
                    "player_coins": .int(player.coins), "player_score": .int(player.score),
                ]),
            into: &expected)
    }

    func enemySpawn() async throws {
        guard let (client, room, player) = self.pickMember(host: self.chance(85) ? true : nil) else { return }
        let dead = room.enemies.filter { !$0.value.isAlive }.keys.sorted()
        let enemyID = self.chance(15) ? self.pick(dead) ?? self.freshID("e") : self.freshID("e")
        let x = Coordinate.random(using: &self.random)
        let y = Coordinate.random(using: &self.random)
        let reward = self.pick([0, 1, 2, 3, 5])!
        // What a spawn fills in is sent half the time, as its default; a key it does not keep now
        // and then; the reward under either name the game uses, now and then with a fraction.
        var enemy: [String: JSONValue] = ["enemy_id": .string(enemyID), "x": x.sent, "y": y.sent]
        if self.chance(50) { enemy.merge(["enemy_type": "fly", "health": 10, "max_health": 10]) { $1 } }
        if self.chance(20) { enemy["color"] = "red" }
        enemy[self.chance(50) ? "coin_reward" : "coinReward"] =
            self.chance(15) ? .number(Double(reward) + 0.7) : .integer(Int64(reward))
        self.note("client \(client) enemy_spawn \(JSONValue.object(enemy).text)")
        try await self.send(["type": "enemy_spawn", "enemy": .object(enemy)], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        if room.hostID != player.id {
            expected[client] = [.error("not_host")]
        } else if self.refusedByItsRate(received, client: client, "spawn") {  // the drops it will pay for
            expected[client] = [.error("rate_limited")]
        } else {
            let spawned = ModelEnemy.spawned(enemyID, x: x, y: y, coinReward: reward)
            room.enemies[enemyID] = spawned
            self.toRoom(room, .message("enemy_spawned", ["enemy": .value(.object(spawned.fields))]), into: &expected)
        }
        try self.compare(received, expected)
    }

    /// `enemy_killed` of a living enemy (its coins drop), a dead one or an unknown one.
    func enemyKilled() async throws {
        guard let (client, room, _) = self.pickMember() else { return }
        // Half the time, if there is one, an enemy whose first coin's id was collected already:
        // its drop brings that coin back.
        let undercut = room.enemies.keys.sorted().filter { id in
            guard let enemy = room.enemies[id], enemy.isAlive, enemy.coinReward > 0 else { return false }
            return room.collectedCoins.contains(coinDrops(x: enemy.x.truncated, y: enemy.y.truncated, count: 1)[0].id)
        }
        let enemyID = (self.chance(50) ? self.pick(undercut) : nil) ?? self.knownOrNewEnemy(in: room)
        let known = room.enemies[enemyID].map { "at \($0.x.value), \($0.y.value), alive: \($0.isAlive)" }
        try await self.play(
            self.killing(enemyID, by: client), noting: "enemy_killed \(enemyID) (\(known ?? "unknown"))")
    }

    /// An enemy the room knows (living or dead), most often, else a new id.
    func knownOrNewEnemy(in room: ModelRoom) -> String {
        self.chance(85) ? self.pick(room.enemies.keys.sorted()) ?? self.freshID("e") : self.freshID("e")
    }

    /// What the room does with client `client`'s `enemy_killed`, sent at `sentAt`: the first kill
    /// drops the enemy's coins; a later one gets where the dead enemy was.
    func killed(
        _ enemyID: String, by client: Int, sentAt: ContinuousClock.Instant, into expected: inout [Int: [Expected]]
    ) {
        guard let (room, player) = self.member(client) else { return }
        if let enemy = room.enemies[enemyID], enemy.isAlive {
            room.enemies[enemyID]?.kill(by: player.id, sentAt: sentAt)
            self.toRoom(
                room, .message("enemy_killed", ["enemy_id": .string(enemyID), "killed_by": .string(player.id)]),
                into: &expected)
            for drop in coinDrops(x: enemy.x.truncated, y: enemy.y.truncated, count: enemy.coinReward) {
                if room.collectedCoins.remove(drop.id) != nil { self.count("dropped under a collected coin's id") }
                room.coins[drop.id] = drop.coin
                self.toRoom(room, .message("coin_spawned", ["coin": .value(drop.coin)]), into: &expected)
            }
        } else {
            // Where a dead enemy was, while the room keeps it (10 s): surely, if it died less than
            // 9 s ago by this clock; perhaps, if longer.
            let dead: JSONValue = ["is_alive": false, "state": "dead"]
            let known = room.enemies[enemyID]
            let withPosition: JSONValue =
                known.map { ["is_alive": false, "state": "dead", "x": $0.x.rounded, "y": $0.y.rounded] } ?? dead
            let state: Expected =
                known?.isSurelyKept ?? true
                ? .value(withPosition)
                : .satisfying("\(withPosition) or \(dead)") { $0 == dead || $0 == withPosition }
            expected[client, default: []] += [
                .message("enemy_already_dead", ["enemy_id": .string(enemyID)]),
                .message("enemy_state_update", ["enemy_id": .string(enemyID), "state": state]),
            ]
        }
    }

    /// `enemy_state` from any member: relayed rounded; a known enemy moves, and dies if it says so.
    func enemyState() async throws {
        guard let (client, room, _) = self.pickMember() else { return }
        let update = self.enemyUpdate(of: self.knownOrNewEnemy(in: room))
        try await self.play(
            self.updating(update, by: client),
            noting: "enemy_state \(update.enemyID) \(JSONValue.object(update.state).text)")
    }

    /// An `enemy_state`: what it sends, and what the room relays of it.
    struct EnemyUpdate {
        let enemyID: String
        let state: [String: JSONValue]
        let relayed: [String: JSONValue]
        let x: Coordinate
        let y: Coordinate
        var message: JSONValue {
            ["type": "enemy_state", "enemy_id": .string(self.enemyID), "state": .object(self.state)]
        }
    }

    /// A move, now and then with the fields a spawn and a kill own, now and then a death.
    func enemyUpdate(of enemyID: String) -> EnemyUpdate {
        let x = Coordinate.random(using: &self.random)
        let y = Coordinate.random(using: &self.random)
        let velocity = Coordinate.random(using: &self.random)
        var state: [String: JSONValue] = ["x": x.sent, "y": y.sent, "velocity_x": velocity.sent]
        var relayed: [String: JSONValue] = ["x": x.rounded, "y": y.rounded, "velocity_x": velocity.rounded]
        if self.chance(20) {  // the reward and the killer are the spawn's and the kill's: relayed, never stored
            let fixed: [String: JSONValue] = ["coin_reward": 50, "coinReward": 9, "killed_by": "nobody"]
            state.merge(fixed) { $1 }
            relayed.merge(fixed) { $1 }
        }
        if self.chance(15) {
            state["is_alive"] = false
            relayed["is_alive"] = false
        }
        return EnemyUpdate(enemyID: enemyID, state: state, relayed: relayed, x: x, y: y)
    }

    /// What the room does with client `client`'s `enemy_state`, sent at `sentAt`: a known enemy
    /// takes it in, and the others are sent it.
    func updated(
        _ update: EnemyUpdate, by client: Int, sentAt: ContinuousClock.Instant, into expected: inout [Int: [Expected]]
    ) {
        guard let (room, _) = self.member(client) else { return }
        room.enemies[update.enemyID]?.update(with: update.state, x: update.x, y: update.y, sentAt: sentAt)
        self.toRoom(
            room,
            .message(
                "enemy_state_update", ["enemy_id": .string(update.enemyID), "state": .value(.object(update.relayed))]),
            excluding: client, into: &expected)
    }

    /// `coin_spawn` from the host, now and then under a collected coin's id (which brings it back).
    func coinSpawn() async throws {
        guard let (client, room, player) = self.pickMember(host: self.chance(85) ? true : nil) else { return }
        let coinID = self.chance(20) ? self.pick(room.collectedCoins.sorted()) ?? self.freshID("c") : self.freshID("c")
        // Now and then without a position or a value, with a velocity, or with a key of its own.
        var coin: [String: JSONValue] = ["coin_id": .string(coinID)]
        for key in ["x", "y"] where self.chance(90) { coin[key] = Coordinate.random(using: &self.random).sent }
        for key in ["velocity_x", "velocity_y"] where self.chance(20) {
            coin[key] = Coordinate.random(using: &self.random).sent
        }
        if self.chance(70) { coin["value"] = .integer(Int64(Int.random(in: 1...5, using: &self.random))) }
        if self.chance(15) { coin["sparkle"] = true }
        self.note("client \(client) coin_spawn \(JSONValue.object(coin).text)")
        try await self.send(["type": "coin_spawn", "coin": .object(coin)], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        if room.hostID != player.id {
            expected[client] = [.error("not_host")]
        } else {
            // What README says a spawned coin is: these keys only.
            let spawned = JSONValue.object([
                "coin_id": .string(coinID), "x": coin["x"] ?? 0, "y": coin["y"] ?? 0, "value": coin["value"] ?? 1,
                "velocity_x": coin["velocity_x"] ?? 0, "velocity_y": coin["velocity_y"] ?? 0, "is_collected": false,
                "collected_by": nil,
            ])
            room.collectedCoins.remove(coinID)
            room.coins[coinID] = spawned
            self.toRoom(room, .message("coin_spawned", ["coin": .value(spawned)]), into: &expected)
        }
        try self.compare(received, expected)
    }

    func powerupSpawn() async throws {
        guard let (client, room, player) = self.pickMember(host: self.chance(85) ? true : nil) else { return }
        let powerupID =
            self.chance(20) ? self.pick(room.collectedPowerups.sorted()) ?? self.freshID("pu") : self.freshID("pu")
        // Now and then without a type or a position, or with keys of its own (kept).
        var powerup: [String: JSONValue] = ["powerup_id": .string(powerupID)]
        if self.chance(80) { powerup["type"] = .string(self.pick(["speed", "shield", "health"])!) }
        for key in ["x", "y"] where self.chance(90) { powerup[key] = Coordinate.random(using: &self.random).sent }
        if self.chance(20) { powerup["duration"] = .integer(Int64(Int.random(in: 1...30, using: &self.random))) }
        self.note("client \(client) powerup_spawn \(JSONValue.object(powerup).text)")
        try await self.send(["type": "powerup_spawn", "powerup": .object(powerup)], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        if room.hostID != player.id {
            expected[client] = [.error("not_host")]
        } else {
            // What README says a spawned power-up is: every key sent, with defaults.
            let spawned = JSONValue.object(
                powerup.merging(["type": "health", "x": 0, "y": 0]) { sent, _ in sent })
            room.collectedPowerups.remove(powerupID)
            room.powerups[powerupID] = spawned
            self.toRoom(room, .message("powerup_spawned", ["powerup": .value(spawned)]), into: &expected)
        }
        try self.compare(received, expected)
    }

    /// `sync_entities` from the host: known enemies, perhaps a new one, a new coin, a collected one,
    /// one the host lists as collected (`is_collected: true`: forgotten).
    /// A room answers 10 a second: a `rate_limited` answer (the clock's call) changes nothing.
    func sync() async throws {
        guard let (client, room, player) = self.pickMember(host: self.chance(85) ? true : nil) else { return }
        // Known enemies, now and then with a position (a living one moves there; the dead stay).
        var moved: [String: (x: Coordinate, y: Coordinate)] = [:]
        var enemies: [JSONValue] = room.enemies.keys.sorted().filter { _ in self.chance(50) }.map { id in
            guard self.chance(40) else { return ["enemy_id": .string(id)] }
            let position = (x: Coordinate.random(using: &self.random), y: Coordinate.random(using: &self.random))
            moved[id] = position
            return ["enemy_id": .string(id), "x": position.x.sent, "y": position.y.sent]
        }
        var newEnemy: (id: String, x: Coordinate, y: Coordinate)?
        if self.chance(30) {
            newEnemy = (
                self.freshID("e"), Coordinate.random(using: &self.random), Coordinate.random(using: &self.random)
            )
            enemies.append([
                "enemy_id": .string(newEnemy!.id), "x": newEnemy!.x.sent, "y": newEnemy!.y.sent, "coin_reward": 1,
            ])
        }
        var coins: [JSONValue] = self.chance(30) ? [["coin_id": .string(self.freshID("c")), "x": 1, "y": 2]] : []
        if self.chance(30), let collected = self.pick(room.collectedCoins.sorted()) {
            coins.append(["coin_id": .string(collected), "x": 0, "y": 0])
        }
        if self.chance(20), let tracked = self.pick(room.coins.keys.sorted()) {
            coins.append(["coin_id": .string(tracked), "is_collected": true])
        }
        self.note("client \(client) sync_entities \(JSONValue.array(enemies).text) \(JSONValue.array(coins).text)")
        try await self.send(
            ["type": "sync_entities", "enemies": .array(enemies), "coins": .array(coins)], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        if room.hostID != player.id {
            expected[client] = [.error("not_host")]
        } else if self.refusedByItsRate(received, client: client, "sync") {
            expected[client] = [.error("rate_limited")]
        } else {
            if let newEnemy, let fields = enemies.last?.objectValue {
                room.enemies[newEnemy.id] = .synced(fields, x: newEnemy.x, y: newEnemy.y)
            }
            for (id, position) in moved where room.enemies[id]?.isAlive == true {
                room.enemies[id]?.update(
                    with: ["x": position.x.sent, "y": position.y.sent], x: position.x, y: position.y, sentAt: .now)
            }
            for coin in coins {
                guard let id = coin["coin_id"]?.stringValue, !room.collectedCoins.contains(id) else { continue }
                guard coin["is_collected"] != .bool(true) else {
                    room.coins[id] = nil  // the host saw it taken: forgotten
                    continue
                }
                room.coins[id] = coin  // kept as sent
            }
            room.sequenceID += 1
            // Every living enemy and those dead for less than 9 s by this clock; perhaps those
            // dead longer, the room keeping them 10 s.
            let kept = room.enemies.filter(\.value.isSurelyKept).mapValues(\.json)
            let perhaps = room.enemies.filter { !$0.value.isSurelyKept }.mapValues(\.json)
            self.toRoom(
                room,
                .message(
                    "entities_sync",
                    [
                        "sequence_id": .int(room.sequenceID), "enemies": .entities("enemy_id", kept, perhaps: perhaps),
                        "coins": .entities("coin_id", room.coins),
                    ]),
                excluding: client, into: &expected)
        }
        try self.compare(received, expected)
    }

    func chat() async throws {
        guard let (client, _, _) = self.pickMember() else { return }
        let text = "hello \(self.step) ünï"
        try await self.play(self.chatting(client, saying: text), noting: "chat \(text)")
    }

    /// What the room does with client `client`'s `chat` of `text`: the room gets it; while the
    /// game runs, it is kept for `game_state` as the sender `received` it (its time is the server's).
    func chatted(_ text: String, by client: Int, received: [Int: [JSONValue]], into expected: inout [Int: [Expected]]) {
        guard let (room, player) = self.member(client) else { return }
        let line = received[client]?.last { $0.type == "chat" && $0["message"]?.stringValue == text }
        if room.isStarted, let line {
            room.chat.append(line)
        }
        self.toRoom(
            room,
            .message(
                "chat",
                [
                    "player_id": .string(player.id), "player_name": .string(player.name), "message": .string(text),
                    "timestamp": .satisfying("an ISO 8601 time") { time in
                        time.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?/)
                            != nil
                    },
                ]),
            into: &expected)
    }

    /// `time_sync`: a member's takes the room's next sequence id, anyone else's 0.
    func timeSync() async throws {
        let client = self.pick(self.openClients) ?? self.newClient()
        let clientTime = Double(Int.random(in: 0...1_000_000_000_000, using: &self.random)) / 8
        self.note("client \(client) time_sync \(clientTime)")
        try await self.send(["type": "time_sync", "client_time": .number(clientTime)], from: client)
        let received = await self.receiveAll()
        var sequenceID = 0
        if let membership = self.clients[client].membership, let room = self.rooms[membership.code] {
            room.sequenceID += 1
            sequenceID = room.sequenceID
        }
        let expected: [Int: [Expected]] = [
            client: [
                .message(
                    "time_sync_response",
                    [
                        "client_time": .value(.number(clientTime)), "sequence_id": .int(sequenceID),
                        "server_time": .anyNumber,
                    ])
            ]
        ]
        try self.compare(received, expected)
    }

    /// A room message from a client in no room: `not_in_room`, once.
    func outsideARoom() async throws {
        guard let client = self.pick(self.openClients.filter { self.clients[$0].membership == nil }) else { return }
        let type = self.pick([
            "player_ready", "chat", "player_state", "collect_item", "start_game", "game_action", "enemy_killed",
        ])!
        self.note("client \(client) \(type) outside a room")
        try await self.send(
            [
                "type": .string(type), "message": "x", "state": ["x": 1], "item_type": "coin", "item_id": "zz",
                "action": "a", "data": [:], "enemy_id": "e0",
            ], from: client)
        let received = await self.receiveAll()
        var expected: [Int: [Expected]] = [:]
        self.notInRoom(client, into: &expected)
        try self.compare(received, expected)
    }

    /// Messages refused with nothing changed: a member's `reconnect`, a bad `max_players`,
    /// `is_ready` or `item_type`, a skin or a chat line too long.
    func refused() async throws {
        let client: Int
        let message: JSONValue
        var code = "invalid_field"
        switch self.pick(["reconnect", "max_players", "is_ready", "item_type", "skin", "chat"])! {
        case "reconnect":
            guard let (member, room, player) = self.pickMember() else { return }
            client = member
            message = [
                "type": "reconnect", "room_id": .string(room.code), "player_id": .string(player.id),
                "token": player.token.map(JSONValue.string) ?? "none",
            ]
            code = "already_in_room"
        case "max_players":
            client = self.maybeIdleClient() ?? self.newClient()
            message = ["type": "create_room", "player_name": "x", "max_players": self.pick([1, 9, 2.5, 0, -3, "3"])!]
        case "is_ready":
            guard let member = self.pickMember() else { return }
            client = member.client
            message = ["type": "player_ready", "is_ready": self.pick(["yes", 1])!]
        case "skin":
            guard let member = self.pickMember() else { return }
            client = member.client
            message = ["type": "player_state", "state": ["x": 1, "skin": .string(String(repeating: "s", count: 65))]]
            code = "too_long"
        case "chat":
            guard let member = self.pickMember() else { return }
            client = member.client
            message = ["type": "chat", "message": .string(String(repeating: "c", count: 501))]
            code = "too_long"
        default:
            guard let member = self.pickMember() else { return }
            client = member.client
            message = ["type": "collect_item", "item_type": "gem", "item_id": "zz"]
        }
        self.note("client \(client) refused: \(message.text)")
        try await self.send(message, from: client)
        let received = await self.receiveAll()
        try self.compare(received, [client: [.error(code)]])
    }

    /// A `ping` from anyone, or an `emote` from a member (README's small built-in example).
    func pingOrEmote() async throws {
        if self.chance(50), let (client, room, player) = self.pickMember() {
            self.note("client \(client) emote")
            try await self.send(["type": "emote", "emote": "wave"], from: client)
            let received = await self.receiveAll()
            var expected: [Int: [Expected]] = [:]
            self.toRoom(
                room, .message("emote", ["player_id": .string(player.id), "emote": .string("wave")]), into: &expected)
            return try self.compare(received, expected)
        }
        guard let client = self.pick(self.openClients) else { return }
        self.note("client \(client) ping")
        try await self.send(["type": "ping"], from: client)
        try self.compare(await self.receiveAll(), [client: [.message("pong")]])
    }

    /// A client in no room goes away (keeps the number of clients bounded).
    func closeAnIdleClient() async throws {
        guard let client = self.pick(self.openClients.filter { self.clients[$0].membership == nil }) else { return }
        self.note("client \(client) closes")
        await self.clients[client].connection.socketCloses()
        self.clients[client].isOpen = false
    }
}

import Persistence
import Relay

/// `ScoreResponse` of the protocol: the stored row, with `rank` always present (`null` when unranked).
///
/// Written by hand in the model's field order, as FastAPI writes it: the hottest answer of the
/// API (every `POST /api/scores`), where `JSONEncoder` and its key sorting cost most.
struct ScoreResponse: OrderedJSON {
    let stored: StoredScore
    let rank: Int?

    func write(to writer: inout JSONWriter) {
        let score = self.stored.submission
        writer.writeFragment("{\"id\":")
        writer.writeInteger(self.stored.id)
        writer.writeFragment(",\"player_name\":")
        writer.writeString(score.playerName)
        writer.writeFragment(",\"score\":")
        writer.writeInteger(score.score)
        writer.writeFragment(",\"coins\":")
        writer.writeInteger(score.coins)
        writer.writeFragment(",\"enemies_defeated\":")
        writer.writeInteger(score.enemiesDefeated)
        writer.writeFragment(",\"distance\":")
        writer.writeInteger(score.distance)
        writer.writeFragment(",\"level\":")
        writer.writeInteger(score.level)
        writer.writeFragment(",\"game_mode\":")
        writer.writeString(score.gameMode)
        writer.writeFragment(",\"created_at\":")
        writer.writeString(self.stored.createdAt)
        writer.writeFragment(",\"rank\":")
        if let rank = self.rank { writer.writeInteger(Int64(rank)) } else { writer.writeFragment("null") }
        writer.writeFragment("}")
    }
}

// swift-format-ignore: AlwaysUseLowerCamelCase
// The property names are the protocol's JSON keys, which `Encodable` writes as they are.
/// `SaveGame` of the protocol.
struct SavedGameResponse: Encodable {
    let player_name: String
    let level, score, lives, health, coins: Int64
    let weapon: String

    init(_ game: SavedGame) {
        self.player_name = game.playerName
        self.level = game.level
        self.score = game.score
        self.lives = game.lives
        self.health = game.health
        self.coins = game.coins
        self.weapon = game.weapon
    }
}

// swift-format-ignore: AlwaysUseLowerCamelCase
// The property names are the protocol's JSON keys, which `Encodable` writes as they are.
/// `Boss` of the protocol, with the URL of its image.
struct BossResponse: Encodable {
    let id, boss_index: Int64
    let boss_name, notorious_title: String
    let frame_x, frame_y: Int64
    let image_url: String

    init(_ boss: Boss) {
        self.id = boss.id
        self.boss_index = boss.bossIndex
        self.boss_name = boss.bossName
        self.notorious_title = boss.notoriousTitle
        self.frame_x = boss.frameX
        self.frame_y = boss.frameY
        self.image_url = "/api/bosses/images/\(BossImages.fileNumber(boss.bossIndex))"
    }
}

/// `{"score": S, "rank": R}`.
struct RankResponse: OrderedJSON {
    let score: Int64
    let rank: Int

    func write(to writer: inout JSONWriter) {
        writer.writeFragment("{\"score\":")
        writer.writeInteger(self.score)
        writer.writeFragment(",\"rank\":")
        writer.writeInteger(Int64(self.rank))
        writer.writeFragment("}")
    }
}

/// An answer that writes its own JSON, fields in a fixed order.
protocol OrderedJSON {
    func write(to writer: inout JSONWriter)
}

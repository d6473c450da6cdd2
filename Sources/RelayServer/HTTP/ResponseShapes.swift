import Persistence

/// `ScoreResponse` of the protocol: the stored row, with `rank` always present (`null` when unranked).
struct ScoreResponse: Encodable {
    let stored: StoredScore
    let rank: Int?

    private enum CodingKeys: String, CodingKey {
        case id, player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at, rank
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let score = self.stored.submission
        try container.encode(self.stored.id, forKey: .id)
        try container.encode(score.playerName, forKey: .player_name)
        try container.encode(score.score, forKey: .score)
        try container.encode(score.coins, forKey: .coins)
        try container.encode(score.enemiesDefeated, forKey: .enemies_defeated)
        try container.encode(score.distance, forKey: .distance)
        try container.encode(score.level, forKey: .level)
        try container.encode(score.gameMode, forKey: .game_mode)
        try container.encode(self.stored.createdAt, forKey: .created_at)
        try container.encode(self.rank, forKey: .rank)  // `encode`, not `encodeIfPresent`: null stays in the JSON
    }
}

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
struct RankResponse: Encodable {
    let score: Int64
    let rank: Int
}

/// A score as the game submits it, already validated by the caller.
public struct ScoreSubmission: Sendable, Equatable {
    public var playerName: String
    public var score: Int64
    public var coins: Int64
    public var enemiesDefeated: Int64
    public var distance: Int64
    public var level: Int64
    public var gameMode: String

    public init(
        playerName: String, score: Int64, coins: Int64, enemiesDefeated: Int64,
        distance: Int64, level: Int64, gameMode: String
    ) {
        self.playerName = playerName
        self.score = score
        self.coins = coins
        self.enemiesDefeated = enemiesDefeated
        self.distance = distance
        self.level = level
        self.gameMode = gameMode
    }
}

/// A committed score row.
public struct StoredScore: Sendable, Equatable {
    /// The row id, unique and increasing in commit order.
    public var id: Int64
    public var submission: ScoreSubmission
    /// `YYYY-MM-DD HH:MM:SS` in UTC, as SQLite's `CURRENT_TIMESTAMP` writes it.
    public var createdAt: String

    public init(id: Int64, submission: ScoreSubmission, createdAt: String) {
        self.id = id
        self.submission = submission
        self.createdAt = createdAt
    }
}

/// One player's saved game; at most one per player name.
public struct SavedGame: Sendable, Equatable {
    public var playerName: String
    public var level: Int64
    public var score: Int64
    public var lives: Int64
    public var health: Int64
    public var coins: Int64
    public var weapon: String

    public init(
        playerName: String, level: Int64, score: Int64, lives: Int64, health: Int64, coins: Int64, weapon: String
    ) {
        self.playerName = playerName
        self.level = level
        self.score = score
        self.lives = lives
        self.health = health
        self.coins = coins
        self.weapon = weapon
    }
}

/// An entry of the boss gallery.
public struct Boss: Sendable, Equatable {
    public var id: Int64
    public var bossIndex: Int64
    public var bossName: String
    public var notoriousTitle: String
    public var frameX: Int64
    public var frameY: Int64

    public init(id: Int64, bossIndex: Int64, bossName: String, notoriousTitle: String, frameX: Int64, frameY: Int64) {
        self.id = id
        self.bossIndex = bossIndex
        self.bossName = bossName
        self.notoriousTitle = notoriousTitle
        self.frameX = frameX
        self.frameY = frameY
    }
}

import Hummingbird
import Persistence

/// `/api/scores…`: submit, leaderboard, personal best, rank.
struct ScoreRoutes<Context: RequestContext> {
    let store: any ScoreStore
    let limits: HTTPLimits

    func register(on group: RouterGroup<Context>) {
        group.post("/api/scores") { request, _ in try await self.submit(request) }
        group.get("/api/scores/leaderboard") { request, _ in try await self.leaderboard(request) }
        group.get("/api/scores/player/{player_name}") { _, context in
            try await self.personalBest(playerName: context.parameters.playerName())
        }
        group.get("/api/scores/rank/{score}") { request, context in
            try await self.rank(request, score: context.parameters.decoded("score"))
        }
    }

    private func submit(_ request: Request) async throws -> Response {
        var fields = try await RequestBodyFields.read(request, limit: self.limits.maxBodyBytes)
        let submission = ScoreSubmission(
            playerName: fields.string("player_name", length: self.limits.nameLength),
            score: fields.integer("score"),
            coins: fields.integer("coins"),
            enemiesDefeated: fields.integer("enemies_defeated"),
            distance: fields.integer("distance"),
            level: fields.integer("level"),
            gameMode: fields.string("game_mode", length: self.limits.gameModeLength)
        )
        try fields.validate()
        let stored = try await self.store.submit(submission)
        return JSONResponse.make(ScoreResponse(stored: stored, rank: nil))
    }

    private func leaderboard(_ request: Request) async throws -> Response {
        var limit = 10
        if let text = request.query("limit") {
            let requested = try LaxInteger.parse(text, at: ["query", "limit"])
            limit = Int(min(max(requested, 1), Int64(self.limits.maxLeaderboardLimit)))
        }
        let rows = try await self.store.leaderboard(limit: limit, gameMode: request.gameModeFilter)
        return JSONResponse.make(rows.enumerated().map { ScoreResponse(stored: $1, rank: $0 + 1) })
    }

    private func personalBest(playerName: String) async throws -> Response {
        guard let best = try await self.store.personalBest(playerName: playerName) else {
            throw APIError.playerNotFound
        }
        return JSONResponse.make(ScoreResponse(stored: best, rank: nil))
    }

    private func rank(_ request: Request, score text: String) async throws -> Response {
        let score = try LaxInteger.parse(text, at: ["path", "score"])
        let rank = try await self.store.rank(of: score, gameMode: request.gameModeFilter)
        return JSONResponse.make(RankResponse(score: score, rank: rank))
    }
}

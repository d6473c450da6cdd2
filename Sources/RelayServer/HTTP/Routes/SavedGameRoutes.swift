import Hummingbird
import Persistence

/// `/api/save_game`, `/api/load_game`: one saved game per player name.
struct SavedGameRoutes<Context: RequestContext> {
    let store: any SavedGameStore
    let limits: HTTPLimits

    func register(on group: RouterGroup<Context>) {
        group.post("/api/save_game") { request, _ in try await self.save(request) }
        group.get("/api/load_game/{player_name}") { _, context in
            try await self.load(playerName: context.parameters.playerName())
        }
        group.delete("/api/save_game/{player_name}") { _, context in
            try await self.store.delete(playerName: context.parameters.playerName())
            return try JSONResponse.message("Save game deleted successfully")
        }
    }

    private func save(_ request: Request) async throws -> Response {
        var fields = try await RequestBodyFields.read(request, limit: self.limits.maxBodyBytes)
        // Its issues first, as pydantic lists a field validator's in the field's place.
        let playerName = fields.string("player_name", length: self.limits.nameLength)
        fields.refuseDotSegment("player_name", playerName)
        let game = SavedGame(
            playerName: playerName,
            level: fields.integer("level"),
            score: fields.integer("score"),
            lives: fields.integer("lives"),
            health: fields.integer("health"),
            coins: fields.integer("coins"),
            weapon: fields.string("weapon", length: self.limits.weaponLength)
        )
        try fields.validate()
        try await self.store.save(game)
        return try JSONResponse.message("Game saved successfully")
    }

    private func load(playerName: String) async throws -> Response {
        guard let game = try await self.store.load(playerName: playerName) else {
            return JSONResponse.raw(ByteBuffer(string: "null"))
        }
        return try JSONResponse.make(SavedGameResponse(game))
    }
}

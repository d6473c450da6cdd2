import Hummingbird
import Persistence

/// `/api/bosses` (🔑) and the public boss images.
struct BossRoutes<Context: RequestContext> {
    let catalog: any BossCatalog
    let images: BossImages

    func register(keyed: RouterGroup<Context>, open: Router<Context>) {
        keyed.get("/api/bosses") { _, _ in
            try JSONResponse.make(try await self.catalog.bosses().map(BossResponse.init))
        }
        open.get("/api/bosses/images/{boss_index}") { _, context in
            let index = try LaxInteger.parse(context.parameters.decoded("boss_index"), at: ["path", "boss_index"])
            return try await self.images.response(forBossIndex: index, logger: context.logger)
        }
    }
}

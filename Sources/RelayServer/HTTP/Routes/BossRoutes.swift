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
            let index = try Request.integer(context.parameters.get("boss_index") ?? "", location: ["path", "boss_index"])
            return try await self.images.response(forBossIndex: index, context: context)
        }
    }
}

/// Boss portraits served from a folder as `boss_NN.png`.
struct BossImages: Sendable {
    let directory: String
    private let fileIO = FileIO()

    init(directory: String) {
        self.directory = directory
    }

    /// `NN` in `boss_NN.png`: at least two digits, as Python's `{:02d}`.
    static func fileNumber(_ index: Int64) -> String {
        (0..<10).contains(index) ? "0\(index)" : "\(index)"
    }

    /// The PNG with a year-long immutable cache, or a (non-cacheable) 404.
    func response(forBossIndex index: Int64, context: some RequestContext) async throws -> Response {
        guard index >= 0 else { throw APIError.notFound }
        let path = "\(self.directory)/boss_\(Self.fileNumber(index)).png"
        let body: ResponseBody
        do {
            body = try await self.fileIO.loadFile(path: path, context: context)
        } catch {
            throw APIError.notFound
        }
        return Response(
            status: .ok,
            headers: [.contentType: "image/png", .cacheControl: "public, max-age=31536000, immutable"],
            body: body
        )
    }
}

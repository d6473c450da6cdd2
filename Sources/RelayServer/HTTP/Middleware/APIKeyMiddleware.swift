import Hummingbird
import Relay

/// Guards the 🔑 routes: `X-API-Key` must equal the configured key (403 otherwise). Of two such
/// headers the first counts, as in Starlette (combined, they would match no key).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let presented = request.headers.first(where: { $0.name == .xAPIKey })?.value,
            constantTimeEquals(presented, self.apiKey)
        else {
            throw APIError.invalidAPIKey
        }
        return try await next(request, context)
    }
}

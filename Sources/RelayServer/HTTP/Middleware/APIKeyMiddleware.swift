import Hummingbird
import Relay

/// Guards the 🔑 routes: `X-API-Key` must equal the configured key (403 otherwise).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let presented = request.headers[.xAPIKey], constantTimeEquals(presented, self.apiKey) else {
            throw APIError.invalidAPIKey
        }
        return try await next(request, context)
    }
}

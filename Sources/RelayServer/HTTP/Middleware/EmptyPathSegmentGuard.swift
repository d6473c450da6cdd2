import Hummingbird

/// Answers 404 to a path with an empty segment (`//api/bosses`, `/api//bosses`), as FastAPI
/// does. The router would merge the segments and serve the route, while the guards and headers
/// that recognise API paths by their `/api/` prefix would not (a navigation into the API, the
/// API's no-cache headers). Trailing slashes are ``TrailingSlashRedirect``'s: FastAPI redirects
/// `/api/bosses//` to `/api/bosses`.
struct EmptyPathSegmentGuard<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard !request.uri.path.withoutTrailingSlashes.contains("//") else { throw APIError.notFound }
        return try await next(request, context)
    }
}

extension String {
    /// The path without the slashes it ends with (all of them: `/api/bosses//` is `/api/bosses`).
    var withoutTrailingSlashes: Substring {
        var path = self[...]
        while path.hasSuffix("/") { path = path.dropLast() }
        return path
    }
}

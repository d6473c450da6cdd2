import HTTPTypes
import Hummingbird

/// Adds the security headers to every answer, and no-store caching unless the route
/// chose its own `Cache-Control` (boss images do).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains; preload"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.permissionsPolicy] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-cache, no-store, must-revalidate"
            if request.uri.path.hasPrefix("/api/") {
                response.headers[.pragma] = "no-cache"
                response.headers[.expires] = "0"
            }
        }
        return response
    }
}

extension HTTPField.Name {
    static let permissionsPolicy = Self("Permissions-Policy")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let secFetchMode = Self("Sec-Fetch-Mode")!
    static let xAPIKey = Self("X-API-Key")!
    static let pragma = Self("Pragma")!
}

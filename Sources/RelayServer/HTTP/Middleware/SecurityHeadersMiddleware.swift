import HTTPTypes
import Hummingbird

/// Adds the security headers to every answer, and no-store caching unless the route
/// chose its own `Cache-Control` (boss images do).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        SecurityHeaders.add(to: &response.headers, path: request.uri.path)
        return response
    }
}

/// The headers every answer carries (PROTOCOL.md §1).
enum SecurityHeaders {
    /// Answers to paths below this also get `Pragma` and `Expires`.
    static let apiPrefix = "/api/"

    /// Adds them to those of an answer to a request for `path`. Also used for answers written
    /// outside the router (a refused WebSocket upgrade).
    static func add(to headers: inout HTTPFields, path: some StringProtocol) {
        headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains; preload"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.permissionsPolicy] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if headers[.cacheControl] == nil {
            headers[.cacheControl] = "no-cache, no-store, must-revalidate"
            if path.hasPrefix(Self.apiPrefix) {
                headers[.pragma] = "no-cache"
                headers[.expires] = "0"
            }
        }
    }
}

extension HTTPField.Name {
    static let permissionsPolicy = Self("Permissions-Policy")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let secFetchMode = Self("Sec-Fetch-Mode")!
    static let xAPIKey = Self("X-API-Key")!
    static let pragma = Self("Pragma")!
}

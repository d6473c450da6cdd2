import Hummingbird

private let stateChangingMethods: Set<HTTPRequest.Method> = [.post, .put, .delete, .patch]
private let trustedSites: Set<String> = ["same-origin", "same-site", "none"]

/// CSRF guard from the browser's Fetch Metadata: refuses state-changing requests that a
/// browser marks as cross-site, and page navigations into the API.
///
/// Requests without these headers (non-browser clients, old browsers) pass.
struct FetchMetadataGuard<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if stateChangingMethods.contains(request.method),
            let site = request.headers[.secFetchSite], !trustedSites.contains(site.lowercased())
        {
            throw APIError.crossSiteRequest
        }
        if request.uri.path.hasPrefix("/api/"), request.headers[.secFetchMode]?.lowercased() == "navigate" {
            throw APIError.navigationToAPI
        }
        return try await next(request, context)
    }
}
